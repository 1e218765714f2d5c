/**
 * `xenclaim create FILE...`: creates guests from xl.cfg (or libxl JSON) files concurrently, admitted by a strategy,
 * with a progress display (or one JSON event per line, then the results). Through the daemon when one answers: the
 * same output, its events followed over GET /v1/events.
 */
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { followEvents } from '../../api/client.js';
import type { DomainInfo, Physinfo } from '../../backend.js';
import { SystemClock } from '../../clock.js';
import type { GuestConfigResult } from '../../config/index.js';
import { readTextFile } from '../../read-text-file.js';
import type { AdmissionEvent, EventError } from '../../toolstack/events.js';
import { STRATEGIES, type StrategyName } from '../../toolstack/strategy-name.js';
import type { GuestRequest } from '../../toolstack/types.js';
import { DOMAIN_NAME_RULE, isDomainName, quote } from '../../validate.js';
import { EXIT_FAILED, sizeArg, UsageError, type CommandContext } from '../command-context.js';
import { ProgressPrinter } from '../progress.js';
import { addAdmissionOptions, admissionSettings, givenAdmissionFlags, type AdmissionFlags } from '../admission-flags.js';

interface CreateOptions extends AdmissionFlags {
  paused: boolean;
  strategy: StrategyName;
  floor: Map<string, number>;
}

/** A result as printed: the fields of resultJson (src/toolstack/types.ts). */
interface PrintedResult {
  name: string;
  ok: boolean;
  error: EventError | null;
  [key: string]: unknown;
}

const TERMINAL: ReadonlySet<string> = new Set(['running', 'failed', 'gave-up']);

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
  const create = program
    .command('create')
    .description('create guests from xl.cfg (or libxl JSON) files, concurrently, admitted by a strategy')
    .argument('<files...>', 'one config file per guest')
    .option('-p, --paused', 'leave the guests paused', false)
    .addOption(
      new Option('--strategy <name>', 'how guests are admitted when memory is short').choices([...STRATEGIES]).default('claim-first'),
    )
    .option('--floor <name=size>', "a running guest's balloon floor; repeatable (others are never ballooned)", (v, acc: Map<string, number>) => collectFloor(v, acc), new Map<string, number>());
  addAdmissionOptions(create)
    .action(async (files: string[], options: CreateOptions, command: Command) => {
      // Config files are read before the backend opens: on the mock host, virtual time runs only while no real I/O
      // waits. They are mapped once the host is known, for that host (as xl reads them: cpus = "all", node:N and
      // vnuma depend on its CPUs and nodes).
      const texts: Array<[string, string]> = [];
      for (const file of files) texts.push([file, await readTextFile(file, 'config')]);
      const { parseGuestConfig, parseGuestConfigFor, xlHostFromPhysinfo } = await import('../../config/index.js');
      const toRequest = (file: string, { config, warnings }: GuestConfigResult): GuestRequest => {
        for (const warning of warnings) cli.io.stderr(`${warning}\n`);
        const name = config.c_info.name;
        if (typeof name !== 'string' || name.length === 0) throw new UsageError(`${file}: the guest has no name (c_info.name)`);
        return { name, config, paused: options.paused };
      };
      const settings = admissionSettings(options);
      const json = cli.global.json;
      const printer = new ProgressPrinter(cli.io.stdout);
      const show = (event: AdmissionEvent): void => (json ? cli.io.stdout(`${JSON.stringify({ event })}\n`) : printer.onEvent(event));
      const report = (results: PrintedResult[]): void => {
        if (json) cli.io.stdout(`${JSON.stringify({ results })}\n`);
        const failed = results.filter((r) => !r.ok);
        for (const r of failed) cli.io.stderr(`xenclaim: ${r.name}: ${r.error?.message ?? 'failed'}\n`);
        if (failed.length > 0) cli.exitCode = EXIT_FAILED;
      };

      const socket = await cli.daemon();
      if (socket) {
        const given = givenAdmissionFlags(options);
        if (given.length > 0) throw new UsageError(`${given.join(', ')}: the daemon's to set, for every create it admits (xenclaim serve ${given[0]})`);
        const daemonHost = await cli.remote<{ strategy: string; physinfo: Physinfo }>(socket, 'GET', '/v1/host');
        const xlHost = xlHostFromPhysinfo(daemonHost.physinfo);
        const requests = texts.map(([file, text]) => toRequest(file, parseGuestConfig(text, file, { host: xlHost })));
        if (command.getOptionValueSource('strategy') === 'cli' && options.strategy !== daemonHost.strategy) {
          throw new UsageError(`the daemon admits with ${daemonHost.strategy}; --strategy ${options.strategy} cannot change that (xenclaim serve --strategy)`);
        }
        if (options.floor.size > 0) checkFloorsNameDomains(options.floor, await cli.remote<DomainInfo[]>(socket, 'GET', '/v1/domains'));
        for (const [name, floorKiB] of options.floor) await cli.remote(socket, 'PUT', `/v1/domains/${encodeURIComponent(name)}/floor`, { floorKiB });
        const requestId = randomUUID();
        const settled = new Set<string>();
        // The daemon's clock started with the daemon; times are shown from this command's first event, as standalone.
        let originMs: number | undefined;
        const stop = await followEvents(socket, requestId, (data) => {
          const { requestId: _id, ...event } = data as AdmissionEvent & { requestId: string };
          originMs ??= event.atMs;
          show({ ...event, atMs: event.atMs - originMs } as AdmissionEvent);
          if (TERMINAL.has(event.type)) settled.add(event.request as string);
        });
        try {
          const answer = await cli.remote<{ results: PrintedResult[] }>(socket, 'POST', '/v1/domains', {
            // The file's own text: the daemon reads it for its host and refuses what libxl would refuse at the key and
            // line, as a standalone run does (parseGuestConfigFor).
            guests: texts.map(([file, xl]) => ({ xl, file })), paused: options.paused, requestId,
          });
          // The last events travel on the other connection: wait for them a little.
          const clock = new SystemClock();
          for (let waited = 0; settled.size < requests.length && waited < 2000; waited += 20) await clock.sleep(20);
          report(answer.results);
        } finally {
          stop();
        }
        return;
      }
      const { resultJson } = await import('../../toolstack/types.js');
      await cli.withHost(
        async (host) => {
          const requests: GuestRequest[] = [];
          for (const [file, text] of texts) requests.push(toRequest(file, await parseGuestConfigFor(host.backend, text, file)));
          checkFloorsNameDomains(options.floor, await host.backend.listDomains());
          host.subscribe(show);
          const results = await host.createGuests(requests);
          report(results.map(resultJson));
        },
        { strategy: options.strategy, floorsKiB: options.floor, ...settings },
      );
    });
}
