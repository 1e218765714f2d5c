/**
 * The `xenclaim` command. Exit codes as operators expect from xl-like tools: 0 ok, 1 the operation failed,
 * 2 bad usage. Errors are one clear line on stderr: the message and, for Xen errors, the code.
 */
import { Command, CommanderError, Option } from 'commander';
import type { DomainInfo, XenBackend } from '../backend.js';
import { VirtualClock } from '../clock.js';
import { formatLibxlJson, loadGuestConfig } from '../config/index.js';
import { XenError } from '../errors.js';
import { MockBackend, openBackend, type BackendKind, type OpenBackendOptions } from '../index.js';
import { formatInfo, formatList } from './format.js';
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
    .description("host memory and Xen version, like `xl info`'s memory lines")
    .action(
      withBackend(async (backend, global) => {
        const [physinfo, version] = await Promise.all([backend.physinfo(), backend.xenVersion()]);
        if (global.json) emitJson({ backend: backend.kind, physinfo, xenVersion: version, features: backend.features });
        else emitText(formatInfo(physinfo, version, backend.kind));
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
