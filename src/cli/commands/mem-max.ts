/**
 * `xenclaim mem-max DOMAIN SIZE`: a guest's maximum memory, like `xl mem-max`, with libxl's rules
 * (libxl_domain_setmaxmem): a maximum below the current target is refused, naming both; max_pages becomes the
 * maximum plus libxl's 1 MiB slack; memory/static-max is left alone. Through the daemon when one answers.
 */
import type { Command } from 'commander';
import { pagesToKiB } from '../../units.js';
import { sizeArg, type CommandContext } from '../command-context.js';
import { findDomain } from '../find-domain.js';

interface MemMaxAnswer {
  domid: number;
  maxKiB: number;
  maxPages: number;
  maxPagesKiB: number;
}

export function registerMemMax(program: Command, cli: CommandContext): void {
  program
    .command('mem-max')
    .description("set a guest's maximum memory (libxl's rules: not below its target; max_pages = SIZE + 1 MiB)")
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new maximum')
    .action(async (domainSpec: string, size: string) => {
      const maxKiB = sizeArg(size, 'SIZE');
      const show = (a: MemMaxAnswer): void => {
        if (cli.global.json) cli.emitJson({ domid: a.domid, maxKiB: a.maxKiB, maxPages: a.maxPages, maxPagesKiB: a.maxPagesKiB });
      };
      const socket = await cli.daemon();
      if (socket) return show(await cli.remote<MemMaxAnswer>(socket, 'PUT', `/v1/domains/${encodeURIComponent(domainSpec)}/memory`, { maxKiB }));
      await cli.withHost(async (host) => {
        const domain = findDomain(await host.backend.listDomains(), domainSpec);
        await host.setMaxMem(domain.domid, maxKiB);
        const after = await host.backend.getDomain(domain.domid);
        show({ domid: domain.domid, maxKiB, maxPages: after.maxPages, maxPagesKiB: pagesToKiB(after.maxPages) });
      });
    });
}
