/** `xenclaim mem-set DOMAIN SIZE`: a domain's balloon target, like `xl mem-set`. */
import type { Command } from 'commander';
import { sizeArg, type CommandContext } from '../command-context.js';
import { findDomain } from '../find-domain.js';

export function registerMemSet(program: Command, cli: CommandContext): void {
  program
    .command('mem-set')
    .description('set a domain\'s balloon target (SIZE: 512m, 2g; plain numbers are MiB)')
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new target')
    .action((domainSpec: string, size: string) =>
      cli.withHost(async (host) => {
        const targetKiB = sizeArg(size, 'SIZE');
        const domain = findDomain(await host.backend.listDomains(), domainSpec);
        await host.setMemoryTarget(domain.domid, targetKiB);
        if (cli.global.json) cli.emitJson({ domid: domain.domid, targetKiB });
      }),
    );
}
