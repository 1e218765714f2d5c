/**
 * `xenclaim info`: host memory and Xen version, like `xl info`'s memory lines, and on the native backend what its
 * addon was built against (the tools must match the hypervisor's Xen minor; docs/xen-versions.md).
 */
import type { Command } from 'commander';
import { NativeBackend } from '../../native/backend.js';
import type { CommandContext } from '../command-context.js';
import { formatInfo } from '../format.js';

export function registerInfo(program: Command, cli: CommandContext): void {
  program
    .command('info')
    .description("host memory and Xen version, like `xl info`'s memory lines, and what the addon was built against")
    .action(() =>
      cli.withHost(async ({ backend }) => {
        const [physinfo, version] = await Promise.all([backend.physinfo(), backend.xenVersion()]);
        const addon = backend instanceof NativeBackend ? backend.buildTarget : undefined;
        if (cli.global.json) {
          cli.emitJson({ backend: backend.kind, physinfo, xenVersion: version, features: backend.features, ...(addon ? { addon } : {}) });
        } else cli.emitText(formatInfo(physinfo, version, backend.kind, addon));
      }),
    );
}
