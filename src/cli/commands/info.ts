/** `xenclaim info`: host memory and Xen version, like `xl info`'s memory lines. */
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatInfo } from '../format.js';

export function registerInfo(program: Command, cli: CommandContext): void {
  program
    .command('info')
    .description("host memory and Xen version, like `xl info`'s memory lines")
    .action(() =>
      cli.withHost(async ({ backend }) => {
        const [physinfo, version] = await Promise.all([backend.physinfo(), backend.xenVersion()]);
        if (cli.global.json) cli.emitJson({ backend: backend.kind, physinfo, xenVersion: version, features: backend.features });
        else cli.emitText(formatInfo(physinfo, version, backend.kind));
      }),
    );
}
