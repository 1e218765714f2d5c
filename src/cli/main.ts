/**
 * The `xenclaim` command. Exit codes as operators expect from xl-like tools: 0 ok, 1 the operation failed,
 * 2 bad usage. Errors are one clear line on stderr: the message and, for Xen errors, the code.
 */
import { Command, CommanderError, Option } from 'commander';
import type { DomainInfo, XenBackend } from '../backend.js';
import { writeFile } from 'node:fs/promises';
import { SystemClock, VirtualClock, type Clock } from '../clock.js';
import { formatLibxlJson, loadGuestConfig } from '../config/index.js';
import { XenError } from '../errors.js';
import { readTextFile } from '../read-text-file.js';
import { MockBackend, openBackend, type BackendKind, type OpenBackendOptions } from '../index.js';
import { NativeBackend } from '../native/backend.js';
import { formatReportTable, parseScenario, renderReportHtml, runScenario, ScenarioError } from '../simulate/index.js';
import { createGuests, resultJson, STRATEGIES, type GuestRequest, type StrategyName } from '../toolstack/index.js';
import { formatInfo, formatList } from './format.js';
import { ProgressPrinter } from './progress.js';
import { parseSizeKiB, SizeError } from './sizes.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Opens the backend; tests inject a mock host they can inspect. */
  openBackend: (options: OpenBackendOptions) => Promise<XenBackend>;
}

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  openBackend,
};

/** A usage error found after commander parsed the line (a bad DOMAIN or SIZE): exit 2. */
class UsageError extends Error {}

interface GlobalOptions {
  backend: BackendKind;
  json: boolean;
}

/** DOMAIN is a name or a domid, as in xl. */
export function findDomain(domains: readonly DomainInfo[], spec: string): DomainInfo {
  const byName = domains.find((d) => d.name === spec || (d.domid === 0 && spec === 'Domain-0'));
  if (byName) return byName;
  if (/^\d+$/.test(spec)) {
    const byId = domains.find((d) => d.domid === Number(spec));
    if (byId) return byId;
  }
  throw new XenError(`domain '${spec}' does not exist`, { code: 'ESRCH', op: 'findDomain' });
}

/** `--floor NAME=SIZE`, repeatable: a running guest's balloon floor (guests without one are never ballooned). */
function collectFloor(text: string, floors: Map<string, number>): Map<string, number> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--floor must be NAME=SIZE (e.g. web1=512m), got ${JSON.stringify(text)}`);
  floors.set(text.slice(0, eq), sizeArg(text.slice(eq + 1), `--floor ${text.slice(0, eq)}`));
  return floors;
}

function sizeArg(text: string, what: string): number {
  try {
    return parseSizeKiB(text, what);
  } catch (error) {
    if (error instanceof SizeError) throw new UsageError(error.message);
    throw error;
  }
}

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = new Command('xenclaim');
  let exitCode = EXIT_OK;

  const emitJson = (value: unknown): void => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  const emitText = (text: string): void => io.stdout(`${text}\n`);

  /** Opens the backend from the global options, runs `action`, and always closes it. */
  const withBackend =
    <A extends unknown[]>(action: (backend: XenBackend, global: GlobalOptions, ...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      const global = program.opts<GlobalOptions>();
      const backend = await io.openBackend({ kind: global.backend, notice: (line) => io.stderr(`${line}\n`) });
      try {
        // The mock host lives on virtual time: drive its clock until the command's work is done.
        const work = action(backend, global, ...args);
        if (backend instanceof MockBackend && backend.clock instanceof VirtualClock) await backend.clock.run(work);
        else await work;
      } finally {
        await backend.close();
      }
    };

  program
    .description('A Xen toolstack that admits guests with XENMEM_claim_pages, with a ballooning fallback')
    .addOption(
      new Option('--backend <kind>', 'which Xen to talk to: the real host, the simulated one, or real if present')
        .choices(['auto', 'native', 'mock'])
        .default('auto'),
    )
    .option('--json', 'machine-readable output', false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError();

  program
    .command('info')
    .description("host memory and Xen version, like `xl info`'s memory lines, and what the addon was built against")
    .action(
      withBackend(async (backend, global) => {
        const [physinfo, version] = await Promise.all([backend.physinfo(), backend.xenVersion()]);
        const addon = backend instanceof NativeBackend ? backend.buildTarget : undefined;
        if (global.json) emitJson({ backend: backend.kind, physinfo, xenVersion: version, features: backend.features, ...(addon ? { addon } : {}) });
        else emitText(formatInfo(physinfo, version, backend.kind, addon));
      }),
    );

  program
    .command('list')
    .description('domains, like `xl list`')
    .action(
      withBackend(async (backend, global) => {
        const domains = await backend.listDomains();
        if (global.json) emitJson(domains);
        else emitText(formatList(domains));
      }),
    );

  program
    .command('claims')
    .description('outstanding claims per domain, like `xl claims`')
    .action(
      withBackend(async (backend, global) => {
        const domains = await backend.listDomains();
        if (global.json) {
          emitJson(domains.map((d) => ({ domid: d.domid, name: d.name ?? null, outstandingPages: d.outstandingPages })));
        } else emitText(formatList(domains, true));
      }),
    );

  program
    .command('mem-set')
    .description('set a domain\'s balloon target (SIZE: 512m, 2g; plain numbers are MiB)')
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new target')
    .action(
      withBackend(async (backend, global, domainSpec: string, size: string) => {
        const targetKiB = sizeArg(size, 'SIZE');
        const domain = findDomain(await backend.listDomains(), domainSpec);
        await backend.setMemoryTarget(domain.domid, targetKiB);
        if (global.json) emitJson({ domid: domain.domid, targetKiB });
      }),
    );

  program
    .command('mem-max')
    .description("set a domain's maximum memory (max_pages)")
    .argument('<domain>', 'name or domid')
    .argument('<size>', 'new maximum')
    .action(
      withBackend(async (backend, global, domainSpec: string, size: string) => {
        const maxKiB = sizeArg(size, 'SIZE');
        const domain = findDomain(await backend.listDomains(), domainSpec);
        await backend.setMaxMem(domain.domid, maxKiB);
        if (global.json) emitJson({ domid: domain.domid, maxKiB });
      }),
    );

  program
    .command('destroy')
    .description('destroy a domain at once')
    .argument('<domain>', 'name or domid')
    .action(
      withBackend(async (backend, global, domainSpec: string) => {
        const domain = findDomain(await backend.listDomains(), domainSpec);
        if (domain.domid === 0) throw new UsageError('refusing to destroy Domain-0');
        await backend.destroyGuest(domain.domid);
        if (global.json) emitJson({ domid: domain.domid, destroyed: true });
      }),
    );

  program
    .command('config')
    .description('print the libxl JSON domain config of an xl.cfg (or libxl JSON) file, as `xl -N create` would')
    .argument('<file>', 'xl.cfg or libxl JSON')
    .action(async (file: string) => {
      const { config, warnings } = await loadGuestConfig(file);
      for (const warning of warnings) io.stderr(`${warning}\n`);
      io.stdout(formatLibxlJson(config));
    });

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
    .action(async (files: string[], options: { paused: boolean; strategy: StrategyName; floor: Map<string, number>; dom0Min?: string }) => {
      // Configs are read before the backend opens: on the mock host, virtual time runs only while no real I/O waits.
      const requests: GuestRequest[] = [];
      for (const file of files) {
        const { config, warnings } = await loadGuestConfig(file);
        for (const warning of warnings) io.stderr(`${warning}\n`);
        const name = config.c_info.name;
        if (typeof name !== 'string' || name.length === 0) throw new UsageError(`${file}: the guest has no name (c_info.name)`);
        requests.push({ name, config, paused: options.paused });
      }
      const dom0MinKiB = options.dom0Min === undefined ? undefined : sizeArg(options.dom0Min, '--dom0-min');
      await withBackend(async (backend, global) => {
        const clock: Clock = backend instanceof MockBackend ? backend.clock : new SystemClock();
        const printer = new ProgressPrinter(io.stdout);
        const results = await createGuests(backend, requests, {
          strategy: options.strategy,
          clock,
          floorsKiB: options.floor,
          ...(dom0MinKiB === undefined ? {} : { policy: { dom0MinKiB } }),
          onEvent: (event) => (global.json ? io.stdout(`${JSON.stringify({ event })}\n`) : printer.onEvent(event)),
        });
        if (global.json) io.stdout(`${JSON.stringify({ results: results.map(resultJson) })}\n`);
        const failed = results.filter((r) => !r.ok);
        for (const r of failed) io.stderr(`xenclaim: ${r.name}: ${r.error?.message ?? 'failed'}\n`);
        if (failed.length > 0) exitCode = EXIT_FAILED;
      })();
    });

  program
    .command('simulate')
    .description('play a scenario on the simulated host under each strategy and report (see shared/scenario-format.md)')
    .argument('<scenario>', 'scenario JSON file')
    .addOption(new Option('--strategy <name>', 'play only this strategy').choices([...STRATEGIES]))
    .option('--html <file>', 'also write a page with every timeline drawn')
    .action(async (file: string, options: { strategy?: StrategyName; html?: string }) => {
      const global = program.opts<GlobalOptions>();
      const text = await readTextFile(file, 'simulate');
      const scenario = parseScenario(text);
      const reports = await runScenario(scenario, options.strategy === undefined ? {} : { strategies: [options.strategy] });
      if (global.json) emitJson(reports.length === 1 ? reports[0] : reports);
      else emitText(formatReportTable(reports));
      if (options.html !== undefined) await writeFile(options.html, renderReportHtml(reports));
      if (reports.some((r) => r.invariantViolations.length > 0 || r.leakedClaimPages > 0)) exitCode = EXIT_FAILED;
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    exitCode = reportError(error, io);
  }
  return exitCode;
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message; help and version are successes.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof ScenarioError) {
    io.stderr(`xenclaim: invalid scenario: ${error.message}\n`);
    return EXIT_FAILED;
  }
  if (error instanceof UsageError) {
    io.stderr(`xenclaim: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof XenError) {
    io.stderr(`xenclaim: ${error.message} [${error.code}]\n`);
    return EXIT_FAILED;
  }
  io.stderr(`xenclaim: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_FAILED;
}
