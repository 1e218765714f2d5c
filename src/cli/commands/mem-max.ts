/**
 * `xenclaim mem-max DOMAIN SIZE`: a guest's maximum memory, like `xl mem-max`, with libxl's rules
 * (libxl_domain_setmaxmem): a maximum below the current target is refused, naming both; max_pages becomes the
 * maximum plus libxl's 1 MiB slack; memory/static-max is left alone.
 */
import type { Command } from 'commander';
import { pagesToKiB } from '../../units.js';
import { sizeArg, type CommandContext } from '../command-context.js';
import { findDomain } from '../find-domain.js';

export function registerMemMax(program: Command, cli: CommandContext): void {
  program
    .command('mem-max')
    .description("set a guest's maximum memory (libxl's rules: not below its target; max_pages = SIZE + 1 MiB)")
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new maximum')
    .action((domainSpec: string, size: string) =>
      cli.withHost(async (host) => {
        const maxKiB = sizeArg(size, 'SIZE');
        const domain = findDomain(await host.backend.listDomains(), domainSpec);
        await host.setMaxMem(domain.domid, maxKiB);
        if (cli.global.json) {
          const after = await host.backend.getDomain(domain.domid);
          cli.emitJson({ domid: domain.domid, maxKiB, maxPages: after.maxPages, maxPagesKiB: pagesToKiB(after.maxPages) });
        }
      }),
    );
}
