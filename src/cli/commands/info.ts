/** `xenclaim info`: host memory and Xen version, like `xl info`'s memory lines (through the daemon when one answers). */
import type { Command } from 'commander';
import type { BackendFeatures, Physinfo, XenVersionInfo } from '../../backend.js';
import type { CommandContext } from '../command-context.js';
import { formatInfo } from '../format.js';

interface Info {
  backend: string;
  physinfo: Physinfo;
  xenVersion: XenVersionInfo;
  features: BackendFeatures;
}

export function registerInfo(program: Command, cli: CommandContext): void {
  program
    .command('info')
    .description("host memory and Xen version, like `xl info`'s memory lines")
    .action(async () => {
      const show = (info: Info): void => {
        if (cli.global.json) cli.emitJson({ backend: info.backend, physinfo: info.physinfo, xenVersion: info.xenVersion, features: info.features });
        else cli.emitText(formatInfo(info.physinfo, info.xenVersion, info.backend));
      };
      const socket = await cli.daemon();
      if (socket) return show(await cli.remote<Info>(socket, 'GET', '/v1/host'));
      await cli.withHost(async ({ backend }) => {
        const [physinfo, xenVersion] = await Promise.all([backend.physinfo(), backend.xenVersion()]);
        show({ backend: backend.kind, physinfo, xenVersion, features: backend.features });
      });
    });
}
