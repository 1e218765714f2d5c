/**
 * `xenclaim create FILE...`: creates guests from xl.cfg (or libxl JSON) files concurrently, admitted by a strategy,
 * with a progress display (or one JSON event per line, then the results).
 */
import { Option, type Command } from 'commander';
import { parseGuestConfig, xlHostFromPhysinfo } from '../../config/index.js';
import { readTextFile } from '../../read-text-file.js';
import { STRATEGIES, type StrategyName } from '../../toolstack/strategy-name.js';
import { resultJson, type GuestRequest } from '../../toolstack/types.js';
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
  if (eq <= 0) throw new UsageError(`--floor must be NAME=SIZE (e.g. web1=512m), got ${JSON.stringify(text)}`);
  floors.set(text.slice(0, eq), sizeArg(text.slice(eq + 1), `--floor ${text.slice(0, eq)}`));
  return floors;
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
          const xlHost = xlHostFromPhysinfo(await host.backend.physinfo());
          const requests: GuestRequest[] = [];
          for (const [file, text] of texts) {
            const { config, warnings } = parseGuestConfig(text, file, { host: xlHost });
            for (const warning of warnings) cli.io.stderr(`${warning}\n`);
            const name = config.c_info.name;
            if (typeof name !== 'string' || name.length === 0) throw new UsageError(`${file}: the guest has no name (c_info.name)`);
            requests.push({ name, config, paused: options.paused });
          }
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
