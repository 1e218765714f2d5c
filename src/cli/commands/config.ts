/** `xenclaim config FILE`: the libxl JSON domain config of an xl.cfg (or libxl JSON) file, as `xl -N create` prints it. */
import type { Command } from 'commander';
import { readTextFile } from '../../read-text-file.js';
import type { CommandContext } from '../command-context.js';

export function registerConfig(program: Command, cli: CommandContext): void {
  program
    .command('config')
    .description('print the libxl JSON domain config of an xl.cfg (or libxl JSON) file, as `xl -N create` would')
    .argument('<file>', 'xl.cfg or libxl JSON')
    .action(async (file: string) => {
      const text = await readTextFile(file, 'config');
      const { formatLibxlJson, parseGuestConfigFor } = await import('../../config/index.js');
      // Read for this host, as xl reads it (cpus = "all", node:N and vnuma depend on its CPUs and nodes), and refused
      // where create would refuse it (libxl's checks), naming the key and line.
      await cli.withHost(async (host) => {
        const { config, warnings } = await parseGuestConfigFor(host.backend, text, file);
        for (const warning of warnings) cli.io.stderr(`${warning}\n`);
        cli.io.stdout(formatLibxlJson(config));
      });
    });
}
