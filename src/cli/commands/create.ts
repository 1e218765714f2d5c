/**
 * `xenclaim create FILE...`: creates guests from xl.cfg (or libxl JSON) files concurrently, admitted by a strategy,
 * with a progress display (or one JSON event per line, then the results).
 */
import { Option, type Command } from 'commander';
import type { DomainInfo } from '../../backend.js';
import { parseGuestConfigFor } from '../../config/index.js';
import { readTextFile } from '../../read-text-file.js';
import { STRATEGIES, type StrategyName } from '../../toolstack/strategy-name.js';
import { resultJson, type GuestRequest } from '../../toolstack/types.js';
import { DOMAIN_NAME_RULE, isDomainName, quote } from '../../validate.js';
import { EXIT_FAILED, sizeArg, UsageError, type CommandContext } from '../command-context.js';
import { ProgressPrinter } from '../progress.js';

interface CreateOptions {
  paused: boolean;
  strategy: StrategyName;
  floor: Map<string, number>;
  dom0Min?: string;
}

/** `--floor NAME=SIZE`, repeatable: a running guest's balloon floor (guests without one are never ballooned). */
function collectFloor(text: string, floors: Map<string, number>): Map<string, number> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--floor must be NAME=SIZE (e.g. web1=512m), got ${quote(text)}`);
  const name = text.slice(0, eq);
  if (!isDomainName(name)) throw new UsageError(`--floor NAME must be ${DOMAIN_NAME_RULE}, got ${quote(name)}`);
  floors.set(name, sizeArg(text.slice(eq + 1), `--floor ${name}`));
  return floors;
}

/**
 * A floor is for a domain that runs on the host (it is who may be ballooned, and how far): one that names no domain
 * is a typo, and is refused before anything is created.
 */
function checkFloorsNameDomains(floors: ReadonlyMap<string, number>, domains: readonly DomainInfo[]): void {
  const names = new Set(domains.map((d) => (d.domid === 0 ? 'Domain-0' : d.name)));
  for (const name of floors.keys()) {
    if (!names.has(name)) {
      throw new UsageError(`--floor ${name}: no domain is named ${JSON.stringify(name)} (running: ${[...names].join(', ')})`);
    }
  }
}

export function registerCreate(program: Command, cli: CommandContext): void {
  program
    .command('create')
    .description('create guests from xl.cfg (or libxl JSON) files, concurrently, admitted by a strategy')
    .argument('<files...>', 'one config file per guest')
    .option('-p, --paused', 'leave the guests paused', false)
    .addOption(
      new Option('--strategy <name>', 'how guests are admitted when memory is short').choices([...STRATEGIES]).default('claim-first'),
    )
    .option('--floor <name=size>', "a running guest's balloon floor; repeatable (others are never ballooned)", (v, acc: Map<string, number>) => collectFloor(v, acc), new Map<string, number>())
    .option('--dom0-min <size>', 'never balloon dom0 below this (default 1g)')
    .action(async (files: string[], options: CreateOptions) => {
      // Config files are read before the backend opens: on the mock host, virtual time runs only while no real I/O
      // waits. They are mapped once it is open, for its host (as xl reads them).
      const texts: Array<[string, string]> = [];
      for (const file of files) texts.push([file, await readTextFile(file, 'config')]);
      const dom0MinKiB = options.dom0Min === undefined ? undefined : sizeArg(options.dom0Min, '--dom0-min');
      const json = cli.global.json;
      await cli.withHost(
        async (host) => {
          const requests: GuestRequest[] = [];
          for (const [file, text] of texts) {
            const { config, warnings } = await parseGuestConfigFor(host.backend, text, file);
            for (const warning of warnings) cli.io.stderr(`${warning}\n`);
            const name = config.c_info.name;
            if (typeof name !== 'string' || name.length === 0) throw new UsageError(`${file}: the guest has no name (c_info.name)`);
            requests.push({ name, config, paused: options.paused });
          }
          checkFloorsNameDomains(options.floor, await host.backend.listDomains());
          const printer = new ProgressPrinter(cli.io.stdout);
          host.subscribe((event) => (json ? cli.io.stdout(`${JSON.stringify({ event })}\n`) : printer.onEvent(event)));
          const results = await host.createGuests(requests);
          if (json) cli.io.stdout(`${JSON.stringify({ results: results.map(resultJson) })}\n`);
          const failed = results.filter((r) => !r.ok);
          for (const r of failed) cli.io.stderr(`xenclaim: ${r.name}: ${r.error?.message ?? 'failed'}\n`);
          if (failed.length > 0) cli.exitCode = EXIT_FAILED;
        },
        { strategy: options.strategy, floorsKiB: options.floor, ...(dom0MinKiB === undefined ? {} : { policy: { dom0MinKiB } }) },
      );
    });
}
