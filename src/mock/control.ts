/**
 * The mock host's control surface, for tests and the simulator: guest behaviour profiles, guests already running,
 * a guest's own growth demand, fault injection, call counts, accounting and quiescence. Nothing here exists on a
 * real host; the XenBackend methods stay exactly what Xen offers.
 */
import { AutoClock, VirtualClock } from '../clock.js';
import { XenError } from '../errors.js';
import { checkBoolean, checkCount, checkDomainName, checkDomid, checkInteger, checkObject, checkOneOf, invalidArgument, MAX_VCPUS } from '../validate.js';
import type { DomainInfo } from '../backend.js';
import { domainInfo, notePauseChange } from './domains.js';
import { copyCallCounts, newCallCounts, type CallCounts, type FaultPoint } from './faults.js';
import { buildGuest } from './builder.js';
import { parseGuestConfig } from './config.js';
import { GuestProcess, type GuestState } from './guest.js';
import { OK } from './heap.js';
import type { MockHost } from './host.js';
import { kibToPagesCeil, kibToPagesFloor, LIBXL_MAXMEM_CONSTANT_KIB, mibToKiB, PAGES_PER_MIB } from '../units.js';
import { checkNumber, checkProfile, MAX_HOST_MIB, type GuestProfile } from './spec.js';

/** A guest already up when the scenario starts: built instantly, booted, unpaused. */
export interface RunningGuestSpec extends Partial<GuestProfile> {
  name: string;
  memoryMiB: number;
  /** memory/static-max and the hypervisor max (maxMiB + LIBXL_MAXMEM_CONSTANT). Default memoryMiB. */
  maxMiB?: number;
  /** Informational (squeezed's dynamic-min); kept for the simulator, not enforced by Xen. */
  minMiB?: number;
  type?: 'pv' | 'pvh' | 'hvm';
  vcpus?: number;
  /** Up, then paused (it has run: its CPU time is not 0, so no toolstack takes it for a domain never started). */
  paused?: boolean;
}

/** A guest some other toolstack is building when the scenario starts (xl with claim_mode: its build claims first). */
export interface BuildingGuestSpec extends Partial<GuestProfile> {
  name: string;
  memoryMiB: number;
  /** memory/static-max. Default memoryMiB. */
  maxMiB?: number;
}

/** One domain's memory as the simulator draws it (read without counting any call). */
export interface DomainMemory {
  domid: number;
  name: string | undefined;
  totPages: number;
  /** memory/target in KiB (undefined for a bare domain). */
  targetKiB: number | undefined;
}

/** The books of the simulated host, in pages. totalPages = the sum of every other field but outstandingPages. */
export interface HostAccounting {
  totalPages: number;
  xenOverheadPages: number;
  pagingPoolPages: number;
  /** Σ tot_pages of live domains. */
  domainPages: number;
  /** Pages of dying domains not yet back in the heap. */
  pendingReturnPages: number;
  tmemPages: number;
  freePages: number;
  outstandingPages: number;
  /** Highest host claim total seen since the start or the last resetPeakOutstanding(). */
  peakOutstandingPages: number;
  /** totalPages minus the sum of the parts: always 0. */
  imbalancePages: number;
}

const RUNNING_FIELDS = new Set([
  'name', 'memoryMiB', 'maxMiB', 'minMiB', 'type', 'vcpus', 'paused', 'buildMiBps', 'balloonMiBps', 'cooperative', 'stallAfterMiB',
  'bootDelayS', 'intermittent', 'hiddenMinMiB', 'hiddenMaxMiB', 'inaccuracyMiB',
]);

/**
 * Mock-only controls of a simulated host: running guests and their behaviour profiles, growth demands, injected
 * faults, call counts, the host's books, and settle() (wait until the simulated host is quiet).
 */
export class MockControl {
  private readonly minMiB = new Map<number, number>();

  constructor(private readonly host: MockHost) {}

  /** The profile of guests created later with this c_info.name (and of a running guest of that name, now). */
  setGuestProfile(name: string, profile: Partial<GuestProfile>): void {
    const op = 'control.setGuestProfile';
    if (typeof name !== 'string' || name.length === 0) throw invalidArgument(op, 'name', 'a non-empty string', name);
    const checked = checkProfile(op, 'profile.', profile);
    this.host.profilesByName.set(name, { ...this.host.profilesByName.get(name), ...checked });
    const running = this.host.domains.findByName(name);
    if (running) this.applyProfile(running.domid, checked);
    this.host.changed(true);
  }

  /** Changes one domain's guest profile now (e.g. make a donor stuck mid-scenario). */
  setDomainProfile(domid: number, profile: Partial<GuestProfile>): void {
    const op = 'control.setDomainProfile';
    checkDomid(op, domid);
    const checked = checkProfile(op, 'profile.', profile);
    if (!this.applyProfile(domid, checked)) {
      throw new XenError(`${op}: ESRCH (domain ${domid} has no simulated guest)`, { code: 'ESRCH', op });
    }
  }

  addRunningGuest(spec: RunningGuestSpec): number {
    const op = 'control.addRunningGuest';
    const s = checkObject(op, 'guest', spec);
    for (const key of Object.keys(s)) {
      if (!RUNNING_FIELDS.has(key)) throw new XenError(`${op}: unknown field guest.${key}`, { code: 'EINVAL', op });
    }
    const host = this.host;
    const name = checkDomainName(op, 'guest.name', s.name);
    if (host.domains.findByName(name)) throw new XenError(`${op}: EEXIST (a guest named "${name}" exists)`, { code: 'EEXIST', op });
    const memoryMiB = checkNumber(op, 'guest.memoryMiB', s.memoryMiB, 1, MAX_HOST_MIB, true);
    const maxMiB = checkNumber(op, 'guest.maxMiB', s.maxMiB ?? memoryMiB, memoryMiB, MAX_HOST_MIB, true);
    const minMiB = s.minMiB === undefined ? undefined : checkNumber(op, 'guest.minMiB', s.minMiB, 0, memoryMiB, true);
    const type = s.type === undefined ? 'pv' : checkOneOf(op, 'guest.type', s.type, ['pv', 'pvh', 'hvm'] as const);
    const vcpus = s.vcpus === undefined ? 1 : checkInteger(op, 'guest.vcpus', s.vcpus, 1, MAX_VCPUS);
    const paused = checkBoolean(op, 'guest.paused', s.paused, false);
    const { name: _n, memoryMiB: _m, maxMiB: _x, minMiB: _i, type: _t, vcpus: _v, paused: _p, ...profileFields } = s;
    const profile = checkProfile(op, 'guest.', profileFields);
    const domid = host.domains.nextDomid();
    if (domid === undefined) throw new XenError(`${op}: ENOSPC (no free domid)`, { code: 'ENOSPC', op });
    const domain = host.domains.add(domid, type, vcpus, false, host.clock.now());
    host.heap.setMaxPages(domain.account, maxMiB * PAGES_PER_MIB + kibToPagesFloor(LIBXL_MAXMEM_CONSTANT_KIB));
    const result = host.heap.allocate(domain.account, memoryMiB * PAGES_PER_MIB, 0);
    if (result.errno !== OK) {
      host.heap.beginDying(domain.account);
      host.heap.returnDyingPages(domain.account, result.pages);
      host.domains.remove(domid);
      throw new XenError(`${op}: ENOMEM (${memoryMiB} MiB for "${name}" does not fit in the host's unclaimed free memory)`, { code: 'ENOMEM', op });
    }
    host.domains.setGuest(domain, { name, targetKiB: mibToKiB(memoryMiB), staticMaxKiB: mibToKiB(maxMiB), videoKiB: 0 });
    const full = { ...host.profileFor(name), ...profile };
    const process = new GuestProcess(host, domain, full, 0, true);
    host.processes.set(domid, process);
    notePauseChange(domain, host.clock.now());
    if (paused) {
      domain.cpuMs = 1000; // a second of CPU time before the scenario: it has run
      domain.pauseCount = 1;
      notePauseChange(domain, host.clock.now());
      process.onPaused();
    }
    if (minMiB !== undefined) this.minMiB.set(domid, minMiB);
    host.changed(true);
    return domid;
  }

  /**
   * Starts building a guest that was already being built when the scenario began (by another toolstack): created at
   * once (no start-rate turn), claiming its whole allocation, populating at its build rate, unpaused when built.
   * Returns its domid (null when the build failed at once) and the build's outcome.
   */
  startBuildingGuest(spec: BuildingGuestSpec): { domid: number | null; built: Promise<number> } {
    const op = 'control.startBuildingGuest';
    const s = checkObject(op, 'guest', spec);
    const { name, memoryMiB, maxMiB, ...profile } = s as unknown as BuildingGuestSpec;
    checkNumber(op, 'guest.memoryMiB', memoryMiB, 1, MAX_HOST_MIB, true);
    const max = checkNumber(op, 'guest.maxMiB', maxMiB ?? memoryMiB, memoryMiB, MAX_HOST_MIB, true);
    this.setGuestProfile(name, profile);
    const plan = parseGuestConfig(op, {
      c_info: { type: 'pv', name },
      b_info: { max_memkb: mibToKiB(max), target_memkb: mibToKiB(memoryMiB) },
    }, true);
    const built = buildGuest(this.host, plan, false, false);
    built.catch(() => undefined);
    const domain = this.host.domains.findByName(name);
    if (domain === undefined) return { domid: null, built };
    return { domid: domain.domid, built };
  }

  /** Free and claimed pages and every domain's memory now, read directly (no call is counted): for drawing. */
  memorySnapshot(): { freePages: number; outstandingPages: number; domains: DomainMemory[] } {
    const heap = this.host.heap;
    return {
      freePages: heap.freePages,
      outstandingPages: heap.outstandingClaims,
      domains: this.host.domains.all().map((d) => ({
        domid: d.domid, name: d.guest?.name, totPages: d.account.totPages, targetKiB: d.guest?.targetKiB,
      })),
    };
  }

  /** One domain's tot_pages now (undefined when it is gone), read directly: for sampling many donors cheaply. */
  totPagesOf(domid: number): number | undefined {
    return this.host.domains.get(domid)?.account.totPages;
  }

  /**
   * The guest asks to balloon up (or down) to targetKiB, within its memory/static-max — as a guest agent does through
   * dom0 (Qubes' meminfo-writer and qmemman, xapi's dynamic range): its memory/target becomes targetKiB, so the
   * toolstack sees the demand as a target change, and its balloon driver follows within max_pages. A later
   * toolstack target replaces the demand.
   */
  requestGrowth(domid: number, targetKiB: number): void {
    const op = 'control.requestGrowth';
    checkDomid(op, domid);
    checkCount(op, 'targetKiB', targetKiB);
    const process = this.process(op, domid);
    const guest = process.domain.guest!;
    if (targetKiB > guest.staticMaxKiB) {
      throw invalidArgument(op, 'targetKiB', `at most the guest's memory/static-max (${guest.staticMaxKiB} KiB)`, targetKiB);
    }
    guest.targetKiB = targetKiB;
    process.requestGrowth(kibToPagesFloor(targetKiB) + process.offsetPages);
    this.host.memoryChanged();
  }

  /**
   * Maps one more page of domain `domid` from outside it, as a device model or a backend in dom0 does (and as the
   * native tests' page_pin_probe does on real Xen): the page is populated first (it needs room under max_pages and
   * passes the allocation gate like any other), and while it stays mapped a destroyed domain is listed as dying
   * with it. Returns the function that unmaps it (a dying domain then goes at once). ESRCH for an unknown domid,
   * EINVAL for a dying one, ENOMEM/EPERM when the page cannot be populated.
   */
  pinPage(domid: number): () => void {
    const op = 'control.pinPage';
    checkDomid(op, domid);
    const domain = this.host.getOrThrow(op, domid);
    if (domain.account.dying) throw new XenError(`${op}: EINVAL (domain ${domid} is dying)`, { code: 'EINVAL', op });
    const result = this.host.heap.allocate(domain.account, 1, 0);
    if (result.errno !== OK) throw XenError.fromErrno(op, result.errno, `the page to map cannot be populated in domain ${domid}`);
    this.host.memoryChanged();
    this.host.pin(domain);
    let mapped = true;
    return () => {
      if (!mapped) return;
      mapped = false;
      this.host.unpin(domain);
    };
  }

  /** The next `count` calls of backend method or internal step `op` fail with XenError `code`. */
  injectFault(op: FaultPoint, code: string, count = 1): void {
    this.host.faults.inject(op, code, count);
  }

  clearFaults(): void {
    this.host.faults.clear();
  }

  /** A snapshot of the call counts: backend operations, toolstack hypercalls, guests' own hypercalls. */
  get calls(): CallCounts {
    return copyCallCounts(this.host.counts);
  }

  resetCalls(): void {
    const fresh = newCallCounts();
    Object.assign(this.host.counts.ops, fresh.ops);
    Object.assign(this.host.counts.hypercalls, fresh.hypercalls);
    Object.assign(this.host.counts.guestHypercalls, fresh.guestHypercalls);
  }

  /** Every domain as getdomaininfo shows it now, synchronously (for a simulator sampling inside an event). */
  domainsNow(): DomainInfo[] {
    const now = this.host.clock.now();
    return this.host.domains.all().map((d) => domainInfo(d, now));
  }

  /**
   * Σ over the live domains that `counts(name)` accepts (name undefined for a domain without a guest record) of what
   * each may still grow to: toward its target (max_pages when it has none), as far as its max_pages lets it —
   * max(0, min(max_pages, target) − tot_pages), in pages. Reads the domain table directly, neither sorting it nor
   * copying a DomainInfo per domain: a simulator sums this at every build.
   */
  growthRoomPages(counts: (name: string | undefined) => boolean): number {
    let pages = 0;
    for (const d of this.host.domains.unordered()) {
      const a = d.account;
      if (a.dying || !counts(d.guest?.name)) continue;
      const goal = d.guest === undefined ? a.maxPages : Math.min(a.maxPages, kibToPagesCeil(d.guest.targetKiB));
      pages += Math.max(0, goal - a.totPages);
    }
    return pages;
  }

  /**
   * Pages the live domain named `name` holds (tot_pages + outstanding claim) while its domain builder is still at work
   * (no guest process of its own yet); undefined otherwise. Read directly, without a scan or a counted call.
   */
  pagesWhileBuilding(name: string): number | undefined {
    const domain = this.host.domains.findByName(name);
    if (domain === undefined || domain.account.dying || this.host.processes.has(domain.domid)) return undefined;
    return domain.account.totPages + domain.account.outstandingPages;
  }

  guestState(domid: number): GuestState | undefined {
    const process = this.host.processes.get(domid);
    return process instanceof GuestProcess ? process.state() : undefined;
  }

  guests(): GuestState[] {
    return [...this.host.processes.values()].filter((p): p is GuestProcess => p instanceof GuestProcess).map((p) => p.state());
  }

  minMiBOf(domid: number): number | undefined {
    return this.minMiB.get(domid);
  }

  accounting(): HostAccounting {
    const heap = this.host.heap;
    return {
      totalPages: heap.totalPages,
      xenOverheadPages: heap.xenOverheadPages,
      pagingPoolPages: heap.pagingPoolPages,
      domainPages: heap.livePages,
      pendingReturnPages: heap.dyingPages,
      tmemPages: heap.tmemPages,
      freePages: heap.freePages,
      outstandingPages: heap.outstandingClaims,
      peakOutstandingPages: heap.peakOutstandingClaims,
      imbalancePages: heap.imbalance(),
    };
  }

  resetPeakOutstanding(): void {
    this.host.heap.peakOutstandingClaims = this.host.heap.outstandingClaims;
  }

  /** Timers the simulated host holds (builds, boots, balloon ticks and retries, page returns). */
  get pendingTimers(): number {
    return this.host.pendingTimers;
  }

  /** Nothing simulated is in progress: every guest is idle, waiting, stuck or done, every dying domain gone. */
  get quiescent(): boolean {
    return this.host.pendingTimers === 0;
  }

  /**
   * Runs a VirtualClock until the simulated host is quiescent (other timers due on the way fire too). Throws after
   * `limitMs` of virtual time, e.g. when a balloon driver keeps retrying. On an AutoClock (the default), waits until
   * its time has stopped passing. EINVAL on any other clock.
   */
  async settle(limitMs = 24 * 3600 * 1000): Promise<void> {
    const clock = this.host.clock;
    if (clock instanceof AutoClock) return clock.whenIdle();
    if (!(clock instanceof VirtualClock)) {
      throw new XenError('control.settle: only a VirtualClock or an AutoClock can be run forward', { code: 'EINVAL', op: 'control.settle' });
    }
    const deadline = clock.now() + limitMs;
    await clock.advance(0);
    while (this.host.pendingTimers > 0) {
      const due = clock.nextDue();
      if (due === undefined) break;
      if (due > deadline) throw new Error(`control.settle: the host is still busy after ${limitMs} ms of virtual time`);
      await clock.advanceTo(due);
    }
  }

  /** tmem hosts only: guests put `pages` of ephemeral data into tmem (taken from unclaimed free memory). */
  tmemPut(pages: number): number {
    const op = 'control.tmemPut';
    checkCount(op, 'pages', pages);
    if (!this.host.spec.tmem) throw new XenError(`${op}: ENOSYS (this host has no tmem)`, { code: 'ENOSYS', op });
    return this.host.heap.tmemPut(pages);
  }

  private process(op: string, domid: number): GuestProcess {
    const process = this.host.processes.get(domid);
    if (!(process instanceof GuestProcess) || !process.domain.guest) {
      throw new XenError(`${op}: ESRCH (domain ${domid} has no simulated guest)`, { code: 'ESRCH', op });
    }
    return process;
  }

  private applyProfile(domid: number, profile: Partial<GuestProfile>): boolean {
    const process = this.host.processes.get(domid);
    if (!(process instanceof GuestProcess)) return false;
    process.setProfile({ ...process.profile, ...profile });
    return true;
  }
}
