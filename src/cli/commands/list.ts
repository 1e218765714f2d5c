/** `xenclaim list`: domains, like `xl list`. */
import type { Command } from 'commander';
import type { CommandContext } from '../command-context.js';
import { formatList } from '../format.js';

export function registerList(program: Command, cli: CommandContext): void {
  program
    .command('list')
    .description('domains, like `xl list`')
    .action(() =>
      cli.withHost(async ({ backend }) => {
        const domains = await backend.listDomains();
        if (cli.global.json) cli.emitJson(domains);
        else cli.emitText(formatList(domains));
      }),
    );
}
