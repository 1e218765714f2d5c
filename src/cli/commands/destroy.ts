/** `xenclaim destroy DOMAIN`: destroy a domain at once, like `xl destroy` (through the daemon when one answers). */
import type { Command } from 'commander';
import { UsageError, type CommandContext } from '../command-context.js';
import { findDomain } from '../find-domain.js';

export function registerDestroy(program: Command, cli: CommandContext): void {
  program
    .command('destroy')
    .description('destroy a domain at once')
    .argument('<domain>', 'name or domid')
    .action(async (domainSpec: string) => {
      const socket = await cli.daemon();
      if (socket) {
        if (domainSpec === 'Domain-0' || domainSpec === '0') throw new UsageError('refusing to destroy Domain-0');
        const answer = await cli.remote<{ domid: number }>(socket, 'DELETE', `/v1/domains/${encodeURIComponent(domainSpec)}`);
        if (cli.global.json) cli.emitJson({ domid: answer.domid, destroyed: true });
        return;
      }
      await cli.withHost(async (host) => {
        const domain = findDomain(await host.backend.listDomains(), domainSpec);
        if (domain.domid === 0) throw new UsageError('refusing to destroy Domain-0');
        await host.destroyGuest(domain.domid, domain.name ?? null);
        if (cli.global.json) cli.emitJson({ domid: domain.domid, destroyed: true });
      });
    });
}
