/** `xenclaim mem-max DOMAIN SIZE`: a domain's maximum memory (max_pages), like `xl mem-max`. */
import type { Command } from 'commander';
import { sizeArg, type CommandContext } from '../command-context.js';
import { findDomain } from '../find-domain.js';

export function registerMemMax(program: Command, cli: CommandContext): void {
  program
    .command('mem-max')
    .description("set a domain's maximum memory (max_pages)")
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new maximum')
    .action((domainSpec: string, size: string) =>
      cli.withHost(async (host) => {
        const maxKiB = sizeArg(size, 'SIZE');
        const domain = findDomain(await host.backend.listDomains(), domainSpec);
        await host.setMaxMem(domain.domid, maxKiB);
        if (cli.global.json) cli.emitJson({ domid: domain.domid, maxKiB });
      }),
    );
}
