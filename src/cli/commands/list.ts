/** `xenclaim list`: domains, like `xl list` (through the daemon when one answers). */
import type { Command } from 'commander';
import type { DomainInfo } from '../../backend.js';
import type { CommandContext } from '../command-context.js';
import { formatList } from '../format.js';

export function registerList(program: Command, cli: CommandContext): void {
  program
    .command('list')
    .description('domains, like `xl list`')
    .action(async () => {
      const show = (domains: DomainInfo[]): void => (cli.global.json ? cli.emitJson(domains) : cli.emitText(formatList(domains)));
      const socket = await cli.daemon();
      if (socket) return show(await cli.remote<DomainInfo[]>(socket, 'GET', '/v1/domains'));
      await cli.withHost(async ({ backend }) => show(await backend.listDomains()));
    });
}
