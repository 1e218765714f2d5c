/** `xenclaim claims`: outstanding claims per domain, like `xl claims` (through the daemon when one answers). */
import type { Command } from 'commander';
import type { DomainInfo } from '../../backend.js';
import type { CommandContext } from '../command-context.js';
import { formatList } from '../format.js';

export function registerClaims(program: Command, cli: CommandContext): void {
  program
    .command('claims')
    .description('outstanding claims per domain, like `xl claims`')
    .action(async () => {
      const show = (domains: DomainInfo[]): void => {
        if (cli.global.json) {
          cli.emitJson(domains.map((d) => ({ domid: d.domid, name: d.name ?? null, outstandingPages: d.outstandingPages })));
        } else cli.emitText(formatList(domains, true));
      };
      const socket = await cli.daemon();
      if (socket) return show(await cli.remote<DomainInfo[]>(socket, 'GET', '/v1/domains'));
      await cli.withHost(async ({ backend }) => show(await backend.listDomains()));
    });
}
