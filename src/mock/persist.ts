/**
 * A simulated host that outlives the process driving it, as a hypervisor outlives its toolstack: the whole state
 * (heap counters, domains, guests' balloon drivers, dying domains) is saved to one JSON file, and a MockBackend
 * opened on that file later finds the same domains, claims, targets and max_pages. What was running goes on running
 * from where it was saved; what only existed inside the process that died — a domain builder half-way through a
 * build — is gone, leaving its domain as libxl would leave it after a crash: paused, part-populated, its claim still
 * outstanding. That is what makes a daemon's crash recovery testable without Xen (docs/daemon.md#crash-recovery).
 *
 * Saving: synchronously after every toolstack call and builder step (so the file is never behind what a caller was
 * told), and at most every SAVE_DELAY_MS for a guest's own progress. Written with write-file-atomic (write to a
 * temporary file, rename) without fsync: a process killed with SIGKILL loses nothing the kernel already has; the
 * host's own power loss is not something a simulated hypervisor needs to survive.
 */
import { existsSync, readFileSync } from 'node:fs';
import writeFileAtomic from 'write-file-atomic';
import { SystemClock, type Clock, type Timer } from '../clock.js';
import { XenError } from '../errors.js';
import type { MockDomainType } from './domains.js';
import { GuestProcess, type SavedGuestProcess } from './guest.js';
import type { DomainAccount } from './heap.js';
import { MockHost } from './host.js';
import type { GuestProfile, ResolvedHostSpec } from './spec.js';

const FORMAT = 'xenclaim-mock-host/1';
/** A guest's own progress (balloon ticks, pages coming back) is saved at most this often, in real ms. */
export const SAVE_DELAY_MS = 50;

interface SavedDomain {
  domid: number;
  type: MockDomainType;
  vcpus: number;
  account: DomainAccount;
  pauseCount: number;
  shutdown: boolean;
  cpuMs: number;
  guest: { name: string; targetKiB: number; staticMaxKiB: number; videoKiB: number } | null;
  process: SavedGuestProcess | null;
}

/** The saved form of a simulated host. */
export interface MockHostSnapshot {
  format: typeof FORMAT;
  spec: ResolvedHostSpec;
  heap: {
    freePages: number;
    outstandingClaims: number;
    peakOutstandingClaims: number;
    pagingPoolPages: number;
    livePages: number;
    dyingPages: number;
    tmemPages: number;
    tmemCapPages: number;
    tmemFrozen: boolean;
  };
  lastDomid: number;
  profilesByName: Record<string, Partial<GuestProfile>>;
  domains: SavedDomain[];
}

export function snapshotHost(host: MockHost): MockHostSnapshot {
  const heap = host.heap;
  const now = host.clock.now();
  return {
    format: FORMAT,
    spec: host.spec,
    heap: {
      freePages: heap.freePages,
      outstandingClaims: heap.outstandingClaims,
      peakOutstandingClaims: heap.peakOutstandingClaims,
      pagingPoolPages: heap.pagingPoolPages,
      livePages: heap.livePages,
      dyingPages: heap.dyingPages,
      tmemPages: heap.tmemPages,
      tmemCapPages: heap.tmemCapPages === Number.MAX_SAFE_INTEGER ? -1 : heap.tmemCapPages,
      tmemFrozen: heap.tmemFrozen,
    },
    lastDomid: host.domains.lastDomid,
    profilesByName: Object.fromEntries(host.profilesByName),
    domains: host.domains.all().map((d) => {
      const process = host.processes.get(d.domid);
      return {
        domid: d.domid,
        type: d.type,
        vcpus: d.vcpus,
        account: { ...d.account },
        pauseCount: d.pauseCount,
        shutdown: d.shutdown,
        cpuMs: d.cpuMs + (d.runningSince === undefined ? 0 : (now - d.runningSince) * d.vcpus),
        guest: d.guest ? { ...d.guest } : null,
        process: process instanceof GuestProcess ? process.saved() : null,
      };
    }),
  };
}

/** A host rebuilt from a snapshot, on `clock`: running guests go on, dying domains go on returning their pages. */
export function restoreHost(snapshot: MockHostSnapshot, clock: Clock): MockHost {
  const host = new MockHost(snapshot.spec, clock);
  const heap = host.heap;
  Object.assign(heap, snapshot.heap, {
    tmemCapPages: snapshot.heap.tmemCapPages < 0 ? Number.MAX_SAFE_INTEGER : snapshot.heap.tmemCapPages,
  });
  for (const [name, profile] of Object.entries(snapshot.profilesByName)) host.profilesByName.set(name, profile);
  const now = clock.now();
  for (const saved of snapshot.domains) {
    const d = host.domains.add(saved.domid, saved.type, saved.vcpus, saved.pauseCount > 0, now);
    Object.assign(d.account, saved.account);
    d.pauseCount = saved.pauseCount;
    d.shutdown = saved.shutdown;
    d.cpuMs = saved.cpuMs;
    d.runningSince = saved.pauseCount === 0 && !saved.account.dying && !saved.shutdown ? now : undefined;
    d.guest = saved.guest ?? undefined;
  }
  host.domains.lastDomid = snapshot.lastDomid;
  for (const saved of snapshot.domains) {
    const d = host.domains.get(saved.domid)!;
    if (d.account.dying) host.resumeDestroy(d);
    else if (saved.process) host.processes.set(d.domid, GuestProcess.resume(host, d, saved.process));
  }
  return host;
}

/** The file a persisted host lives in. */
export class HostStateFile {
  private host: MockHost | undefined;
  private timer: Timer | undefined;
  private frozen = false;

  /** `realClock` paces the saving of a guest's own progress (default: the system clock). */
  constructor(readonly path: string, private readonly realClock: Clock = new SystemClock()) {}

  /** The saved host, or undefined when there is none yet. EINVAL when the file is not a saved mock host. */
  load(): MockHostSnapshot | undefined {
    if (!existsSync(this.path)) return undefined;
    let snapshot: MockHostSnapshot;
    try {
      snapshot = JSON.parse(readFileSync(this.path, 'utf8')) as MockHostSnapshot;
    } catch (error) {
      throw new XenError(`MockBackend: ${this.path} is not a saved mock host (${(error as Error).message})`, { code: 'EINVAL', op: 'MockBackend' });
    }
    if (snapshot?.format !== FORMAT) {
      throw new XenError(`MockBackend: ${this.path} is not a saved mock host (format ${JSON.stringify(snapshot?.format)}, expected ${FORMAT})`, { code: 'EINVAL', op: 'MockBackend' });
    }
    return snapshot;
  }

  /** Saves `host` now and on every change from here on. */
  attach(host: MockHost): void {
    this.host = host;
    host.onChange = (urgent) => (urgent ? this.save() : this.saveSoon());
    this.save();
  }

  save(): void {
    if (this.frozen || this.host === undefined) return;
    this.timer?.cancel();
    this.timer = undefined;
    writeFileAtomic.sync(this.path, JSON.stringify(snapshotHost(this.host)), { fsync: false });
  }

  /**
   * Test-only (a simulated crash of the process driving the host): nothing is saved from now on, so the file holds
   * the host as it was at that instant.
   */
  freeze(): void {
    this.frozen = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Saves what is pending and stops saving (the backend is closing). */
  close(): void {
    if (!this.frozen) this.save();
    this.freeze();
  }

  private saveSoon(): void {
    if (this.frozen || this.timer !== undefined) return;
    this.timer = this.realClock.setTimer(SAVE_DELAY_MS, () => {
      this.timer = undefined;
      this.save();
    });
  }
}
