/** `xenclaim claims`: outstanding claims per domain, like `xl claims`. */
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatList } from '../format.js';

export function registerClaims(program: Command, cli: CommandContext): void {
  program
    .command('claims')
    .description('outstanding claims per domain, like `xl claims`')
    .action(() =>
      cli.withHost(async ({ backend }) => {
        const domains = await backend.listDomains();
        if (cli.global.json) {
          cli.emitJson(domains.map((d) => ({ domid: d.domid, name: d.name ?? null, outstandingPages: d.outstandingPages })));
        } else cli.emitText(formatList(domains, true));
      }),
    );
}
