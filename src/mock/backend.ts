/**
 * MockBackend: the XenBackend contract on a simulated Xen host. This file is glue only — argument checks
 * (src/validate.ts), call counting and fault injection, then the heap (heap.ts), the domain list (domains.ts), the
 * libxl layer (builder.ts, libxl.ts) and the guest processes (guest.ts) do the work, on an injected clock.
 *
 * Hot paths (claimPages, physinfo, getDomain) are plain functions returning settled promises: no async frames,
 * no per-call allocation beyond the result.
 */
import type {
  BackendFeatures, CreateEmptyDomainOptions, CreateGuestOptions, DomainInfo, LibxlDomainConfig, Physinfo,
  SetMemoryTargetOptions, XenBackend, XenVersionInfo,
} from '../backend.js';
import { AutoClock, type Clock } from '../clock.js';
import { XenError } from '../errors.js';
import {
  checkBoolean, checkCount, checkDomid, checkInteger, checkObject, checkOneOf, checkSignedCount, MAX_VCPUS,
} from '../validate.js';
import { buildGuest } from './builder.js';
import { parseGuestConfig } from './config.js';
import { MockControl } from './control.js';
import { domainInfo, notePauseChange, type MockDomain } from './domains.js';
import type { BackendOp } from './faults.js';
import { ENOMEM, EPERM, OK } from './heap.js';
import { GuestProcess } from './guest.js';
import { MockHost } from './host.js';
import { HostStateFile, restoreHost } from './persist.js';
import { destroyGuest, setGuestMaxMem, setMemoryTarget } from './libxl.js';
import { kibToPagesFloor, PAGES_PER_MIB, pagesToKiB } from '../units.js';
import { MOCK_XEN_EXTRA, resolveHostSpec, type MockHostSpec, type ResolvedHostSpec } from './spec.js';

export type { MockHostSpec } from './spec.js';
export type { GuestProfile, MockXenVersion } from './spec.js';
export type { RunningGuestSpec, HostAccounting } from './control.js';
export type { GuestState } from './guest.js';
export type { CallCounts, FaultPoint } from './faults.js';
export { MockControl } from './control.js';

/** What a MockBackend is made with: the host it simulates and the clock it runs on. */
export interface MockBackendOptions {
  /** The simulated host (defaults: 16384 MiB, 1024 MiB dom0, Xen 4.17, no tmem). */
  host?: MockHostSpec | undefined;
  /**
   * The clock the simulated host runs on. Default: an AutoClock, simulated time that passes by itself, so every
   * call simply resolves. Pass a VirtualClock to drive time yourself (tests, the simulator).
   */
  clock?: Clock | undefined;
  /**
   * A file the simulated host lives in (src/mock/persist.ts): opened, the host is the one saved there (its own spec;
   * `host` is then only used for a file that does not exist yet), and every change is saved to it, so a later
   * MockBackend on the same file finds the same domains, claims and targets.
   */
  stateFile?: string | undefined;
}

const RESOLVED: Promise<void> = Promise.resolve();
/** Operations that change nothing (a persisted host need not be saved after them). */
const QUERIES: ReadonlySet<BackendOp> = new Set(['physinfo', 'xenVersion', 'listDomains', 'getDomain', 'tmemFreeablePages', 'needMemoryKiB', 'freeMemoryKiB']);
const TMEM_REMOVED = 'tmem was removed in Xen 4.13';
/** _domain_pause_by_systemcontroller refuses a 256th nested pause with EOVERFLOW. */
const MAX_PAUSE_COUNT = 255;

function fail<T>(error: unknown): Promise<T> {
  return Promise.reject(error);
}

function xenError(op: string, code: string, detail: string): XenError {
  return new XenError(`${op}: ${code} (${detail})`, { code, op, xenLog: [`(XEN) ${op}: ${detail}`] });
}

/**
 * The simulated Xen host (see the file header): Xen's claim rules (docs/claim-rules.md), libxl's memory model and
 * guests with balloon drivers, on a clock that passes by itself unless a VirtualClock is given. `control` adds
 * running guests, demands and faults for tests and the simulator. EINVAL naming the field for bad options.
 */
export class MockBackend implements XenBackend {
  readonly kind = 'mock' as const;
  readonly features: BackendFeatures;
  readonly clock: Clock;
  /** The host as simulated, every default filled in. */
  readonly hostSpec: ResolvedHostSpec;
  /** Mock-only controls: profiles, running guests, demands, faults, call counts, accounting, settle(). */
  readonly control: MockControl;
  private readonly host: MockHost;
  private readonly stateFile: HostStateFile | undefined;
  private closed = false;

  constructor(options: MockBackendOptions = {}) {
    const opts = checkObject('MockBackend', 'options', options);
    const clock = opts.clock as Clock | undefined;
    if (clock !== undefined && (typeof clock !== 'object' || clock === null || typeof clock.setTimer !== 'function' || typeof clock.now !== 'function')) {
      throw new XenError('MockBackend: clock must be a Clock (now, sleep, setTimer)', { code: 'EINVAL', op: 'MockBackend' });
    }
    this.clock = clock ?? new AutoClock();
    if (opts.stateFile !== undefined && (typeof opts.stateFile !== 'string' || opts.stateFile === '')) {
      throw new XenError('MockBackend: stateFile must be a file path', { code: 'EINVAL', op: 'MockBackend' });
    }
    this.stateFile = opts.stateFile === undefined ? undefined : new HostStateFile(opts.stateFile);
    const saved = this.stateFile?.load();
    if (saved) {
      this.host = restoreHost(saved, this.clock);
      this.hostSpec = this.host.spec;
    } else {
      this.hostSpec = resolveHostSpec(opts.host);
      this.host = new MockHost(this.hostSpec, this.clock);
      this.bootDom0();
    }
    this.features = Object.freeze({ claims: true, tmem: this.hostSpec.tmem, libxl: true });
    this.control = new MockControl(this.host);
    this.stateFile?.attach(this.host);
  }

  /**
   * Test-only: a simulated crash of the process driving a persisted host. From now on nothing is saved, so its
   * file keeps the host exactly as it was at this instant; the in-memory host is closed.
   */
  crashForTest(): void {
    this.stateFile?.freeze();
    this.closed = true;
    this.host.close();
  }

  /** dom0 (dom0_mem=X,max:X): running, booted, with a balloon driver, named Domain-0 as xl shows it. */
  private bootDom0(): void {
    const host = this.host;
    const pages = this.hostSpec.dom0MiB * PAGES_PER_MIB;
    const dom0 = host.domains.add(0, 'pv', Math.min(this.hostSpec.nrCpus, MAX_VCPUS), false, this.clock.now());
    host.heap.setMaxPages(dom0.account, pages);
    host.heap.allocate(dom0.account, pages, 0);
    host.domains.setGuest(dom0, { name: 'Domain-0', targetKiB: pagesToKiB(pages), staticMaxKiB: pagesToKiB(pages), videoKiB: 0 });
    host.processes.set(0, new GuestProcess(host, dom0, host.profileFor('Domain-0'), 0, true));
  }

  private enter(op: BackendOp): void {
    this.host.counts.ops[op]++;
    if (this.closed) throw new XenError(`${op}: EBADF (the mock backend is closed)`, { code: 'EBADF', op });
    // A persisted host is saved once the call's synchronous part is done: before its caller's continuation runs.
    if (this.stateFile !== undefined && !QUERIES.has(op)) queueMicrotask(() => this.host.changed(true));
  }

  private fault(op: BackendOp): void {
    if (this.host.faults.armed === 0) return;
    const error = this.host.faults.take(op);
    if (error) throw error;
  }

  private domain(op: string, domid: number): MockDomain {
    return this.host.getOrThrow(op, domid);
  }

  physinfo(): Promise<Physinfo> {
    try {
      this.enter('physinfo');
      this.fault('physinfo');
      const heap = this.host.heap;
      this.host.counts.hypercalls.physinfo++;
      return Promise.resolve({
        totalPages: heap.totalPages,
        freePages: heap.freePages,
        scrubPages: 0,
        outstandingPages: heap.outstandingClaims,
        nrCpus: this.hostSpec.nrCpus,
        nrNodes: 1,
        cpuKhz: this.hostSpec.cpuKhz,
      });
    } catch (error) {
      return fail(error);
    }
  }

  xenVersion(): Promise<XenVersionInfo> {
    try {
      this.enter('xenVersion');
      this.fault('xenVersion');
      this.host.counts.hypercalls.version++;
      const [major, minor] = this.hostSpec.xenVersion.split('.').map(Number) as [number, number];
      return Promise.resolve({ major, minor, extra: MOCK_XEN_EXTRA[this.hostSpec.xenVersion] });
    } catch (error) {
      return fail(error);
    }
  }

  listDomains(): Promise<DomainInfo[]> {
    try {
      this.enter('listDomains');
      this.fault('listDomains');
      this.host.counts.hypercalls.getDomainInfo++;
      const now = this.clock.now();
      return Promise.resolve(this.host.domains.all().map((d) => domainInfo(d, now)));
    } catch (error) {
      return fail(error);
    }
  }

  getDomain(domid: number): Promise<DomainInfo> {
    try {
      this.enter('getDomain');
      checkDomid('getDomain', domid);
      this.fault('getDomain');
      this.host.counts.hypercalls.getDomainInfo++;
      return Promise.resolve(domainInfo(this.domain('getDomain', domid), this.clock.now()));
    } catch (error) {
      return fail(error);
    }
  }

  claimPages(domid: number, pages: number): Promise<void> {
    try {
      this.enter('claimPages');
      checkDomid('claimPages', domid);
      checkCount('claimPages', 'pages', pages);
      this.fault('claimPages');
      const host = this.host;
      host.counts.hypercalls.claim++;
      // XENMEM_claim_pages looks the domain up with rcu_lock_domain_by_id: unknown → EINVAL, not ESRCH (docs/claim-rules.md#rule-2).
      const d = host.domains.get(domid);
      if (d === undefined) return fail(xenError('claimPages', 'EINVAL', `no domain ${domid}`));
      const rc = host.heap.claim(d.account, pages);
      if (rc !== OK) return fail(this.claimError(d, pages, rc));
      if (pages === 0) host.memoryChanged();
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  private claimError(d: MockDomain, pages: number, rc: number): XenError {
    const a = d.account;
    const heap = this.host.heap;
    let why: string;
    if (rc === ENOMEM) why = `claim of ${pages - a.totPages} pages exceeds unclaimed free memory (${heap.availablePages - heap.outstandingClaims} pages)`;
    else if (a.dying) why = `domain ${d.domid} is dying`;
    else if (a.outstandingPages !== 0) why = `domain ${d.domid} already has a claim of ${a.outstandingPages} pages: cancel it first`;
    else if (pages <= a.totPages) why = `claim of ${pages} pages is not above tot_pages ${a.totPages} (claims are absolute totals)`;
    else why = `claim of ${pages} pages is above max_pages ${a.maxPages} (raise it with setMaxMem first)`;
    return XenError.fromErrno('claimPages', rc, why, [`(XEN) XENMEM_claim_pages d${d.domid}: ${why}`]);
  }

  setMaxMem(domid: number, maxKiB: number): Promise<void> {
    try {
      this.enter('setMaxMem');
      checkDomid('setMaxMem', domid);
      checkCount('setMaxMem', 'maxKiB', maxKiB);
      this.fault('setMaxMem');
      this.host.counts.hypercalls.setMaxMem++;
      const d = this.domain('setMaxMem', domid);
      // XEN_DOMCTL_max_mem: KiB >> 2, no lower bound (docs/claim-rules.md#rule-12), clamped to max_pages' unsigned int.
      this.host.heap.setMaxPages(d.account, kibToPagesFloor(maxKiB));
      this.host.memoryChanged();
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  createEmptyDomain(options: CreateEmptyDomainOptions): Promise<number> {
    try {
      const op = 'createEmptyDomain';
      this.enter(op);
      const o = checkObject(op, 'options', options);
      const type = checkOneOf(op, 'options.type', o.type, ['pv', 'pvh'] as const);
      const vcpus = o.vcpus === undefined ? 1 : checkInteger(op, 'options.vcpus', o.vcpus, 1, MAX_VCPUS);
      this.fault(op);
      this.host.counts.hypercalls.createDomain++;
      const domid = this.host.domains.nextDomid();
      if (domid === undefined) return fail(xenError(op, 'ENOSPC', 'every domid is in use'));
      this.host.domains.add(domid, type, vcpus, true, this.clock.now());
      return Promise.resolve(domid);
    } catch (error) {
      return fail(error);
    }
  }

  populatePhysmap(domid: number, pages: number): Promise<void> {
    try {
      const op = 'populatePhysmap';
      this.enter(op);
      checkDomid(op, domid);
      checkCount(op, 'pages', pages);
      this.fault(op);
      this.host.counts.hypercalls.populate++;
      const d = this.domain(op, domid);
      if (d.account.dying) return fail(xenError(op, 'EINVAL', `domain ${domid} is dying: cannot assign pages`));
      if (pages === 0) return RESOLVED;
      const result = this.host.heap.allocate(d.account, pages, 0);
      if (result.errno === OK) return RESOLVED;
      const a = d.account;
      const heap = this.host.heap;
      const why = result.errno === EPERM
        ? `over-allocation for d${domid}: tot_pages ${a.totPages} + ${pages - result.pages} > max_pages ${a.maxPages}`
        : `allocation gate: ${pages - result.pages} pages refused (free ${heap.freePages}, outstanding claims ${heap.outstandingClaims}, d${domid}'s claim ${a.outstandingPages})`;
      return fail(XenError.fromErrno(op, result.errno, `${why}; ${result.pages} of ${pages} pages populated`, [`(XEN) ${why}`]));
    } catch (error) {
      return fail(error);
    }
  }

  decreaseReservation(domid: number, pages: number): Promise<void> {
    try {
      const op = 'decreaseReservation';
      this.enter(op);
      checkDomid(op, domid);
      checkCount(op, 'pages', pages);
      this.fault(op);
      this.host.counts.hypercalls.decreaseReservation++;
      const d = this.domain(op, domid);
      if (d.account.dying) return fail(xenError(op, 'EINVAL', `domain ${domid} is dying`));
      if (pages > d.account.totPages) {
        return fail(xenError(op, 'EINVAL', `domain ${domid} has ${d.account.totPages} pages, cannot give back ${pages}`));
      }
      if (pages === 0) return RESOLVED;
      this.host.heap.release(d.account, pages);
      this.host.memoryChanged();
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  destroyDomain(domid: number): Promise<void> {
    try {
      const op = 'destroyDomain';
      this.enter(op);
      checkDomid(op, domid);
      this.fault(op);
      this.host.counts.hypercalls.destroyDomain++;
      if (domid === 0) return fail(xenError(op, 'EINVAL', 'a domain cannot destroy itself (dom0)'));
      this.host.beginDestroy(this.domain(op, domid));
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  pauseDomain(domid: number): Promise<void> {
    try {
      const op = 'pauseDomain';
      this.enter(op);
      checkDomid(op, domid);
      this.fault(op);
      this.host.counts.hypercalls.pause++;
      if (domid === 0) return fail(xenError(op, 'EINVAL', 'a domain cannot pause itself (dom0)'));
      const d = this.domain(op, domid);
      if (d.pauseCount >= MAX_PAUSE_COUNT) {
        return fail(new XenError(`${op}: EOVERFLOW (domain ${domid} is paused ${MAX_PAUSE_COUNT} times already)`, { code: 'EOVERFLOW', op }));
      }
      d.pauseCount++;
      notePauseChange(d, this.clock.now());
      const process = this.host.processes.get(domid);
      if (process instanceof GuestProcess) process.onPaused();
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  unpauseDomain(domid: number): Promise<void> {
    try {
      const op = 'unpauseDomain';
      this.enter(op);
      checkDomid(op, domid);
      this.fault(op);
      this.host.counts.hypercalls.unpause++;
      const d = this.domain(op, domid);
      if (d.pauseCount === 0) return fail(xenError(op, 'EINVAL', `domain ${domid} is not paused`));
      d.pauseCount--;
      notePauseChange(d, this.clock.now());
      const process = this.host.processes.get(domid);
      if (d.pauseCount === 0 && process instanceof GuestProcess) process.onUnpaused();
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  private tmem(op: BackendOp, enter = true): void {
    if (enter) this.enter(op);
    if (!this.hostSpec.tmem) {
      throw new XenError(`${op}: ENOSYS (${TMEM_REMOVED}; this host emulates Xen ${this.hostSpec.xenVersion})`, { code: 'ENOSYS', op });
    }
    this.fault(op);
    this.host.counts.hypercalls.tmem++;
  }

  tmemFreeze(): Promise<void> {
    try {
      this.tmem('tmemFreeze');
      this.host.heap.tmemFrozen = true;
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  tmemThaw(): Promise<void> {
    try {
      this.tmem('tmemThaw');
      this.host.heap.tmemFrozen = false;
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  tmemSetCap(pages: number): Promise<void> {
    try {
      this.enter('tmemSetCap');
      checkCount('tmemSetCap', 'pages', pages);
      this.tmem('tmemSetCap', false);
      this.host.heap.tmemSetCap(pages);
      this.host.memoryChanged();
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  tmemFreeablePages(): Promise<number> {
    try {
      this.tmem('tmemFreeablePages');
      return Promise.resolve(this.host.heap.tmemPages);
    } catch (error) {
      return fail(error);
    }
  }

  async createGuest(config: LibxlDomainConfig, options?: CreateGuestOptions): Promise<number> {
    const op = 'createGuest';
    this.enter(op);
    const o = options === undefined ? {} : checkObject(op, 'options', options);
    const claim = checkBoolean(op, 'options.claim', o.claim, true);
    const paused = checkBoolean(op, 'options.paused', o.paused, false);
    const plan = parseGuestConfig(op, config, claim);
    this.fault(op);
    return buildGuest(this.host, plan, paused);
  }

  destroyGuest(domid: number): Promise<void> {
    try {
      this.enter('destroyGuest');
      checkDomid('destroyGuest', domid);
      this.fault('destroyGuest');
      destroyGuest(this.host, domid);
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  setMemoryTarget(domid: number, targetKiB: number, options?: SetMemoryTargetOptions): Promise<void> {
    try {
      const op = 'setMemoryTarget';
      this.enter(op);
      checkDomid(op, domid);
      const o = options === undefined ? {} : checkObject(op, 'options', options);
      const relative = checkBoolean(op, 'options.relative', o.relative, false);
      const enforce = checkBoolean(op, 'options.enforce', o.enforce, true);
      if (relative) checkSignedCount(op, 'targetKiB', targetKiB);
      else checkCount(op, 'targetKiB', targetKiB);
      this.fault(op);
      setMemoryTarget(this.host, domid, targetKiB, relative, enforce);
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  setGuestMaxMem(domid: number, maxKiB: number): Promise<void> {
    try {
      const op = 'setGuestMaxMem';
      this.enter(op);
      checkDomid(op, domid);
      checkCount(op, 'maxKiB', maxKiB);
      this.fault(op);
      setGuestMaxMem(this.host, domid, maxKiB);
      return RESOLVED;
    } catch (error) {
      return fail(error);
    }
  }

  needMemoryKiB(config: LibxlDomainConfig): Promise<number> {
    try {
      this.enter('needMemoryKiB');
      const plan = parseGuestConfig('needMemoryKiB', config);
      this.fault('needMemoryKiB');
      return Promise.resolve(plan.needKiB);
    } catch (error) {
      return fail(error);
    }
  }

  freeMemoryKiB(): Promise<number> {
    try {
      this.enter('freeMemoryKiB');
      this.fault('freeMemoryKiB');
      this.host.counts.hypercalls.physinfo++;
      // libxl_get_free_memory: physinfo's free_pages in KiB — claims NOT subtracted (docs/claim-rules.md#rule-10).
      return Promise.resolve(pagesToKiB(this.host.heap.freePages));
    } catch (error) {
      return fail(error);
    }
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.stateFile?.close();
      this.host.close();
    }
    return RESOLVED;
  }
}
