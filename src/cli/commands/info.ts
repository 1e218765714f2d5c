/**
 * `xenclaim info`: host memory and Xen version, like `xl info`'s memory lines, and on the native backend what its
 * addon was built against (the tools must match the hypervisor's Xen minor; docs/xen-versions.md). Through the
 * daemon when one answers (then the addon is the daemon's).
 */
import type { Command } from 'commander';
import type { BackendFeatures, Physinfo, XenVersionInfo } from '../../backend.js';
import { addonBuildTarget } from '../../native/backend.js';
import type { AddonBuildTarget } from '../../native/binding.js';
import type { CommandContext } from '../command-context.js';
import { formatInfo } from '../format.js';

interface Info {
  backend: string;
  physinfo: Physinfo;
  xenVersion: XenVersionInfo;
  features: BackendFeatures;
  addon?: AddonBuildTarget;
}

export function registerInfo(program: Command, cli: CommandContext): void {
  program
    .command('info')
    .description("host memory and Xen version, like `xl info`'s memory lines, and what the addon was built against")
    .action(async () => {
      const show = (info: Info): void => {
        const { backend, physinfo, xenVersion, features, addon } = info;
        if (cli.global.json) cli.emitJson({ backend, physinfo, xenVersion, features, ...(addon ? { addon } : {}) });
        else cli.emitText(formatInfo(physinfo, xenVersion, backend, addon));
      };
      const socket = await cli.daemon();
      if (socket) return show(await cli.remote<Info>(socket, 'GET', '/v1/host'));
      await cli.withHost(async ({ backend }) => {
        const [physinfo, xenVersion] = await Promise.all([backend.physinfo(), backend.xenVersion()]);
        const addon = addonBuildTarget(backend);
        show({ backend: backend.kind, physinfo, xenVersion, features: backend.features, ...(addon ? { addon } : {}) });
      });
    });
}
