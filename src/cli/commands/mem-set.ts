/** `xenclaim mem-set DOMAIN SIZE`: a domain's balloon target, like `xl mem-set` (libxl_set_memory_target, enforced). */
import type { Command } from 'commander';
import { sizeArg, type CommandContext } from '../command-context.js';
import { findDomain } from '../find-domain.js';

export function registerMemSet(program: Command, cli: CommandContext): void {
  program
    .command('mem-set')
    .description('set a domain\'s balloon target (SIZE: 512m, 2g; plain numbers are MiB)')
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new target')
    .action(async (domainSpec: string, size: string) => {
      const targetKiB = sizeArg(size, 'SIZE');
      const socket = await cli.daemon();
      if (socket) {
        const answer = await cli.remote<{ domid: number }>(socket, 'PUT', `/v1/domains/${encodeURIComponent(domainSpec)}/memory`, { targetKiB });
        if (cli.global.json) cli.emitJson({ domid: answer.domid, targetKiB });
        return;
      }
      await cli.withHost(async (host) => {
        const domain = findDomain(await host.backend.listDomains(), domainSpec);
        await host.setMemoryTarget(domain.domid, targetKiB);
        if (cli.global.json) cli.emitJson({ domid: domain.domid, targetKiB });
      });
    });
}
