/**
 * The daemon's core, without its socket: the state directory, the backend (on the mock host, one persisted in the
 * state directory, on wall-clock time), the journal, the one XenHost with the journal as its recorder, and crash
 * recovery before anything else runs (docs/daemon.md#crash-recovery). `xenclaim serve` puts the API in front of it;
 * the crash matrix drives it directly.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { XenBackend } from '../backend.js';
import { ScaledClock, type Clock } from '../clock.js';
import { XenError } from '../errors.js';
import { XenHost, type HostOptions } from '../host/xen-host.js';
import { FileJournal } from '../journal/file-journal.js';
import { MockBackend, type MockHostSpec } from '../mock/backend.js';
import { openBackend, type BackendKind } from '../open-backend.js';
import { planRecovery, type Repair } from '../recovery/plan.js';
import type { MutationPort } from '../toolstack/mutations.js';
import type { StrategyName } from '../toolstack/strategy-name.js';
import { CrashingRecorder, type CrashPoint } from './crash-points.js';

/** Where the daemon logs (pino's shape; tests pass a silent or collecting one). */
export interface DaemonLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface DaemonCoreOptions {
  /** Where the journal, the floors and (mock) the simulated host live; created 0700 if missing. */
  stateDir: string;
  backend: BackendKind;
  /** Mock only: how many times faster than wall-clock time the simulated host runs (default 1). */
  mockSpeed?: number;
  /** Mock only: the simulated host when the state directory holds none yet. */
  mockHost?: MockHostSpec;
  /** Default: the mock host's ScaledClock, or the system clock (tests pass a VirtualClock). */
  clock?: Clock;
  strategy?: StrategyName;
  /** A guest built here becomes a donor this long after it started, in ms (default 30 s). */
  donorGraceMs?: number;
  policy?: HostOptions['policy'];
  wait?: HostOptions['wait'];
  pollMs?: number;
  log: DaemonLog;
  /** fdatasync the journal (default true). */
  journalSync?: boolean;
  /** The journal's I/O (FileJournalOptions.io): 'blocking' for a host on virtual time. Default 'async'. */
  journalIo?: 'async' | 'blocking';
  /** TEST-ONLY: crash at this mutation (src/daemon/crash-points.ts). */
  crashAt?: { point: CrashPoint; crash: 'kill' | 'simulate' };
}

/** What recovery did at start. */
export interface RecoveryReport {
  repairs: { repair: Repair; ok: boolean; error?: string }[];
  /** True when every repair succeeded and the journal was emptied. */
  complete: boolean;
}

/** Thrown by a simulated crash (test-only): the daemon core is dead from then on. */
export class SimulatedCrash extends Error {}

export const DEFAULT_DONOR_GRACE_MS = 30_000;
const FLOORS_FILE = 'floors.json';
const MOCK_HOST_FILE = 'mock-host.json';

/** The daemon's long-lived state. */
export class DaemonCore {
  /** TEST-ONLY: the recorder counting mutations (for crash points). */
  crashRecorder: CrashingRecorder | undefined;
  recovery: RecoveryReport = { repairs: [], complete: true };

  constructor(
    readonly host: XenHost,
    readonly backend: XenBackend,
    readonly journal: FileJournal,
    readonly stateDir: string,
    private readonly log: DaemonLog,
  ) {}

  /** Sets or removes a balloon floor and keeps the floors in the state directory (they outlive a restart). */
  setFloor(name: string, kib: number | null): void {
    this.host.setFloor(name, kib);
    writeFileAtomic.sync(join(this.stateDir, FLOORS_FILE), JSON.stringify(Object.fromEntries(this.host.floorsKiB())), { mode: 0o600 });
  }

  /** Carries out what planRecovery decided, each through the mutation port and logged; empties the journal if all worked. */
  async recover(): Promise<RecoveryReport> {
    const entries = this.journal.openEntries();
    if (entries.length === 0) return this.recovery;
    const domains = await this.backend.listDomains();
    const repairs = planRecovery({ entries, domains });
    this.log.info({ openEntries: entries.length, repairs: repairs.length }, 'recovering from an unclean stop');
    const report: RecoveryReport = { repairs: [], complete: true };
    for (const repair of repairs) {
      try {
        await carryOut(this.host.mutations, repair);
        report.repairs.push({ repair, ok: true });
        this.log.info({ repair }, `repaired: ${repair.why}`);
      } catch (error) {
        report.complete = false;
        report.repairs.push({ repair, ok: false, error: (error as Error).message });
        this.log.error({ repair, error: (error as Error).message }, `repair failed: ${repair.why}`);
      }
    }
    if (report.complete) await this.journal.recovered();
    else this.log.warn({}, 'some repairs failed: the journal keeps them for the next start');
    this.recovery = report;
    return report;
  }

  /** Waits for every admission, closes the journal and the backend. */
  async close(): Promise<void> {
    await this.host.idle();
    await this.journal.closeFile();
    await this.host.close();
  }
}

/** One repair, through the port (so it is journaled like any change). ESRCH (the domain went meanwhile) is done. */
async function carryOut(port: MutationPort, repair: Repair): Promise<void> {
  try {
    switch (repair.kind) {
      case 'destroy-guest':
        return await port.destroyGuest({ domid: repair.domid, name: repair.name, reason: 'half-built' });
      case 'cancel-claim':
        return await port.cancelClaim({ domid: repair.domid, name: repair.name });
      case 'restore-max-pages':
        return await port.restoreMaxPages({
          domid: repair.domid, name: repair.name, fromKiB: repair.fromKiB, toKiB: repair.toKiB, originalKiB: repair.toKiB, reason: repair.reason, holder: 'recovery',
        });
      case 'raise-target':
        return await port.raiseTarget({ domid: repair.domid, name: repair.name, request: repair.request, byKiB: repair.byKiB, reason: 'restore' });
      case 'thaw-tmem':
        return await port.thawTmem();
      case 'cap-tmem':
        return await port.capTmem({ pages: repair.pages });
    }
  } catch (error) {
    if (error instanceof XenError && error.code === 'ESRCH') return;
    throw error;
  }
}

function readFloors(stateDir: string): Map<string, number> {
  const path = join(stateDir, FLOORS_FILE);
  if (!existsSync(path)) return new Map();
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>));
  } catch (error) {
    throw new XenError(`serve: ${path} is not a floors file (${(error as Error).message})`, { code: 'EINVAL', op: 'serve' });
  }
}

/**
 * Opens everything and recovers. EINVAL for bad options, EIO when the state directory or journal cannot be used; a
 * backend that cannot be opened rejects with its own XenError.
 */
export async function startDaemonCore(options: DaemonCoreOptions): Promise<DaemonCore> {
  const stateDir = options.stateDir;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new XenError(`serve: cannot create the state directory ${stateDir}: ${(error as Error).message}`, { code: 'EIO', op: 'serve' });
  }
  let backend: XenBackend;
  if (options.backend === 'mock') {
    const speed = options.mockSpeed ?? 1;
    backend = new MockBackend({ host: options.mockHost, clock: options.clock ?? new ScaledClock(speed), stateFile: join(stateDir, MOCK_HOST_FILE) });
  } else {
    backend = await openBackend({ kind: options.backend, notice: (line) => options.log.warn({}, line) });
  }
  const journal = new FileJournal(stateDir, { sync: options.journalSync ?? true, io: options.journalIo ?? 'async' });
  const clock = options.clock ?? backend.clock;
  let recorder: CrashingRecorder | undefined;
  if (options.crashAt) {
    const mode = options.crashAt.crash;
    recorder = new CrashingRecorder(journal, options.crashAt.point, clock ?? new ScaledClock(1), () => {
      if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
      journal.crashForTest();
      if (backend instanceof MockBackend) backend.crashForTest();
      throw new SimulatedCrash('simulated crash (test-only)');
    });
  }
  const host = new XenHost({
    backend,
    ...(clock ? { clock } : {}),
    strategy: options.strategy ?? 'claim-first',
    floorsKiB: readFloors(stateDir),
    donorGraceMs: options.donorGraceMs ?? DEFAULT_DONOR_GRACE_MS,
    recorder: recorder ?? journal,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.wait ? { wait: options.wait } : {}),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  const core = new DaemonCore(host, backend, journal, stateDir, options.log);
  core.crashRecorder = recorder;
  await host.run(core.recover());
  return core;
}
