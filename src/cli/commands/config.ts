/** `xenclaim config FILE`: the libxl JSON domain config of an xl.cfg (or libxl JSON) file, as `xl -N create` prints it. */
import type { Command } from 'commander';
import { formatLibxlJson, loadGuestConfig } from '../../config/index.js';
import type { CommandContext } from '../command-context.js';

export function registerConfig(program: Command, cli: CommandContext): void {
  program
    .command('config')
    .description('print the libxl JSON domain config of an xl.cfg (or libxl JSON) file, as `xl -N create` would')
    .argument('<file>', 'xl.cfg or libxl JSON')
    .action(async (file: string) => {
      const { config, warnings } = await loadGuestConfig(file);
      for (const warning of warnings) cli.io.stderr(`${warning}\n`);
      cli.io.stdout(formatLibxlJson(config));
    });
}
