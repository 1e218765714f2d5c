/**
 * XenHost: one long-lived object per Xen host, the one brain that admits guests there (docs/architecture.md#the-host).
 * It owns what must be host-wide and outlive any one request: the host lock, the guests being built, the donors
 * found uncooperative, the balloon floors (settable at runtime), the ballooning round count, one admission strategy,
 * the event stream and the mutation port every change to Xen passes through. A CLI command opens one for its run;
 * the simulator one per strategy played; a daemon keeps one for its whole life.
 */
import { admitGrowth } from '../admission/capacity.js';
import { DonorLedger } from '../admission/donor-ledger.js';
import type { XenBackend } from '../backend.js';
import { SystemClock, type Clock, type Timer } from '../clock.js';
import { XenError } from '../errors.js';
import { planPolicy, type StrategyContext } from '../toolstack/context.js';
import { createStrategy } from '../toolstack/create.js';
import type { AdmissionEvent, EventBody } from '../toolstack/events.js';
import { HostLock } from '../toolstack/host-lock.js';
import { MaxPagesLimits } from '../toolstack/max-pages-limits.js';
import { BackendMutations, type MutationPort, type MutationRecorder } from '../toolstack/mutations.js';
import { observe } from '../toolstack/observe.js';
import { checkGuestRequest } from '../toolstack/requests.js';
import type { StrategyName } from '../toolstack/strategy-name.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from '../toolstack/types.js';
import { kibToPagesCeil, pagesToKiB, pagesToMiB } from '../units.js';
import { checkCount, checkDomainName, checkDomid, invalidArgument } from '../validate.js';
import { EventStream, type AdmissionEventListener } from './event-stream.js';
import { checkFloorKiB, checkHostOptions, type CheckedHostOptions, type HostOptions } from './host-options.js';

export type { FloorsKiB, HostOptions } from './host-options.js';

/** One Xen host's admission brain (see the file header); construct it with `new XenHost(options)`. */
export class XenHost {
  readonly backend: XenBackend;
  readonly clock: Clock;
  readonly strategyName: StrategyName;
  /** Every change this host makes to Xen passes here. */
  readonly mutations: MutationPort;
  /** One brain per host: ballooning decisions are taken under it. */
  readonly lock = new HostLock();
  /** Every max_pages limit the host holds, by guest and holder (docs/architecture.md#max-pages-limits). */
  readonly limits: MaxPagesLimits;
  private readonly strategy: AdmissionStrategy;
  private readonly context: StrategyContext;
  private readonly withoutBalloonDriver: Set<string>;
  private readonly events = new EventStream();
  private readonly floors = new Map<string, number>();
  /** Guests being built, and guests built and running that are not donors yet (see `started`). */
  private readonly building = new Set<string>();
  private readonly running = new Set<string>();
  private readonly uncooperative = new Set<number>();
  private balloonRounds = 0;
  private admissionsInFlight = 0;
  private readonly recorder: MutationRecorder | undefined;
  private readonly donorGraceMs: number | undefined;
  /** Grace timers of guests built and running, by name (donorGraceMs). */
  private readonly graceTimers = new Map<string, Timer>();

  /**
   * Every option is checked here, before anything runs (host-options.ts): EINVAL naming the option for options that
   * are not an object, an unknown option, a backend or clock without its contract's methods, an unknown strategy, a
   * floor that is not a finite number of KiB >= 0 for a valid guest name, a bad policy, wait or pollMs.
   */
  constructor(options: HostOptions) {
    const checked = checkHostOptions('XenHost', options);
    this.backend = checked.backend;
    this.clock = checked.clock ?? checked.backend.clock ?? new SystemClock();
    this.strategyName = checked.strategy;
    this.mutations = new BackendMutations(this.backend, checked.recorder);
    this.limits = new MaxPagesLimits(this.mutations, (body) => this.emit(body), async (domid) => pagesToKiB((await this.backend.getDomain(domid)).maxPages));
    this.withoutBalloonDriver = new Set(checked.withoutBalloonDriver);
    this.recorder = checked.recorder;
    this.donorGraceMs = checked.donorGraceMs;
    for (const [name, kib] of checked.floorsKiB) this.floors.set(name, kib);
    this.context = this.makeContext(checked);
    this.strategy = createStrategy(this.strategyName, this.context);
  }

  /** Listens to every progress event of this host; returns the function that stops listening. EINVAL for a non-function. */
  subscribe(listener: AdmissionEventListener): () => void {
    if (typeof listener !== 'function') throw invalidArgument('subscribe', 'listener', 'a function', listener);
    return this.events.subscribe(listener);
  }

  /**
   * Sets (KiB >= 0) or removes (null) a guest's balloon floor; it applies from the next observation on. EINVAL for a
   * name outside the domain-name rule or a floor that is not a finite number >= 0.
   */
  setFloor(name: string, kib: number | null): void {
    checkDomainName('setFloor', 'name', name);
    if (kib === null) {
      this.floors.delete(name);
      return;
    }
    this.floors.set(name, checkFloorKiB('setFloor', `floor of ${name}`, kib));
  }

  /** The balloon floors as they are now, by guest name, in KiB (a copy). */
  floorsKiB(): ReadonlyMap<string, number> {
    return new Map(this.floors);
  }

  /** Names of the guests this host is building (or has built, while it still keeps them out of ballooning). */
  guestsBuilding(): string[] {
    return [...this.building];
  }

  /** Domids of the donors found uncooperative (never asked again while their domain lives). */
  uncooperativeDonors(): number[] {
    return [...this.uncooperative];
  }

  /**
   * Admits and builds one guest with the host's strategy. Rejects (EINVAL, naming the field) only for a malformed
   * request (checkGuestRequest); a guest that could not be created is a result with `ok: false`, never a rejection.
   */
  admit(request: GuestRequest): Promise<AdmissionResult> {
    try {
      checkGuestRequest('admit', 'request', request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.track(request.name, this.strategy.admit(request));
  }

  private async tellRecorder(tell: () => void | Promise<void> | undefined): Promise<void> {
    try {
      await tell();
    } catch {
      // A recorder that cannot note this reports it itself (as after() does).
    }
  }

  /**
   * Creates every requested guest concurrently; resolves, in request order, with each outcome once every build and
   * every cleanup (limits removed, donors restored) is done. Rejects (EINVAL, naming `requests[i].field`) before
   * anything starts when `requests` is not an array of well-formed requests; never rejects for a guest that could
   * not be created: look at `ok` and `error` (an AdmissionError carries `.report`).
   */
  async createGuests(requests: readonly GuestRequest[]): Promise<AdmissionResult[]> {
    if (!Array.isArray(requests)) throw invalidArgument('createGuests', 'requests', 'an array of guest requests', requests);
    requests.forEach((request, i) => checkGuestRequest('createGuests', `requests[${i}]`, request));
    const results = await Promise.all(requests.map((request) => this.track(request.name, this.strategy.admit(request))));
    await this.idle();
    return results;
  }

  /** Resolves once nothing is in flight: every admission settled and every cleanup done. */
  idle(): Promise<void> {
    return this.strategy.idle();
  }

  /**
   * Lets the host's time pass until `work` settles, and settles like it: drives a VirtualClock the caller gave; real
   * time and the mock host's default AutoClock pass by themselves.
   */
  run<T>(work: Promise<T>): Promise<T> {
    return this.clock.run(Promise.resolve(work));
  }

  /**
   * An operator sets a guest's balloon target, in KiB (xl mem-set; max_pages follows it, as libxl enforces). A raised target
   * is growth, and growth is an admission too (docs/architecture.md#growth): it may take only memory that is free,
   * not promised to a request of this host and not the reserve for Xen — never memory a pending request waits for.
   * ENOMEM (nothing changed) when it does not fit, naming the increase, what is free and what is promised; ESRCH for
   * an unknown domid; EINVAL for a domid or size that is not a count. A guest this host holds a max_pages limit on keeps it, raised to the admitted target.
   */
  async setMemoryTarget(domid: number, targetKiB: number): Promise<void> {
    checkDomid('setMemoryTarget', domid);
    return this.admitTarget(domid, checkCount('setMemoryTarget', 'targetKiB', targetKiB));
  }

  private async admitTarget(domid: number, targetKiB: number): Promise<void> {
    const { state } = await observe(this.context);
    const domain = state.domains.find((d) => d.domid === domid);
    if (domain === undefined) {
      throw new XenError(`setMemoryTarget: ESRCH (no domain ${domid})`, { code: 'ESRCH', op: 'setMemoryTarget' });
    }
    const raised = targetKiB > domain.targetKiB;
    if (raised) {
      const growth = admitGrowth(state, domid, kibToPagesCeil(targetKiB), planPolicy(this.context), this.strategy.promisedPages(state));
      if (!growth.allowed) {
        const mib = (pages: number): string => `${Math.round(pagesToMiB(pages) * 10) / 10} MiB`;
        throw new XenError(
          `setMemoryTarget: ENOMEM (raising ${domain.name} to ${Math.round(targetKiB / 1024)} MiB needs ${mib(growth.increasePages)} ` +
            `more, but only ${mib(growth.admissiblePages)} is free and not promised to other guests, to requests waiting ` +
            `for memory or to the reserve kept for Xen)`,
          { code: 'ENOMEM', op: 'setMemoryTarget' },
        );
      }
    }
    await this.mutations.setTarget({ domid, targetKiB });
    if (this.limits.snapshot().has(domid)) {
      const after = await this.backend.getDomain(domid);
      await this.limits.changedElsewhere(domid, pagesToKiB(after.maxPages), raised ? targetKiB : undefined);
    }
  }

  /**
   * An operator sets a guest's maximum, given in KiB (xl mem-max), with libxl's rules (libxl_domain_setmaxmem): a maximum below
   * the current target is refused (EINVAL naming both); max_pages becomes maxKiB + 1 MiB. A
   * max_pages limit this host holds on the guest stays, over the new maximum.
   */
  async setMaxMem(domid: number, maxKiB: number): Promise<void> {
    checkDomid('setMaxMem', domid);
    return this.setMax(domid, checkCount('setMaxMem', 'maxKiB', maxKiB));
  }

  private async setMax(domid: number, maxKiB: number): Promise<void> {
    await this.mutations.setMaxMem({ domid, maxKiB });
    if (this.limits.snapshot().has(domid)) {
      const after = await this.backend.getDomain(domid);
      await this.limits.changedElsewhere(domid, pagesToKiB(after.maxPages));
    }
  }

  /** An operator destroys a guest (xl destroy); `name`, when known, is for the journal and events. */
  async destroyGuest(domid: number, name: string | null = null): Promise<void> {
    checkDomid('destroyGuest', domid);
    if (name !== null && typeof name !== 'string') throw invalidArgument('destroyGuest', 'name', 'a string or null', name);
    await this.mutations.destroyGuest({ domid, name, reason: 'operator' });
  }

  /** Closes the backend: the host is unusable afterwards. */
  close(): Promise<void> {
    for (const timer of this.graceTimers.values()) timer.cancel();
    this.graceTimers.clear();
    return this.backend.close();
  }

  /**
   * A guest this host built is running. It stays out of ballooning and limits until no admission is in flight —
   * the batch it was built in has settled (its kernel may still be booting: docs/claim-rules.md#lesson-9) — or, with
   * donorGraceMs, until that long after it started if sooner; then it becomes an ordinary donor, per its floor.
   */
  private started(name: string): void {
    this.running.add(name);
    if (this.donorGraceMs === undefined) return;
    this.graceTimers.get(name)?.cancel();
    this.graceTimers.set(name, this.clock.setTimer(this.donorGraceMs, () => {
      this.graceTimers.delete(name);
      if (this.running.delete(name)) this.building.delete(name);
    }));
  }

  private handBackRunning(): void {
    for (const name of this.running) {
      this.building.delete(name);
      this.graceTimers.get(name)?.cancel();
      this.graceTimers.delete(name);
    }
    this.running.clear();
  }

  /**
   * Counts an admission in flight until it settles, then tells the recorder it settled; once none is in flight, the
   * guests it built become ordinary donors and, every cleanup done, the recorder is told the host is idle.
   */
  private track(request: string, work: Promise<AdmissionResult>): Promise<AdmissionResult> {
    this.admissionsInFlight++;
    const settled = async (): Promise<void> => {
      await this.tellRecorder(() => this.recorder?.settled?.(request));
      if (--this.admissionsInFlight === 0) {
        this.handBackRunning();
        if (this.recorder?.idle === undefined) return;
        await this.strategy.idle();
        if (this.admissionsInFlight === 0) await this.tellRecorder(() => this.recorder?.idle?.());
      }
    };
    // Its own failures reach the caller through `work`; this bookkeeping must not leave a rejection unhandled.
    work.then(settled, settled).catch(() => undefined);
    return work;
  }

  private emit(body: EventBody): void {
    if (this.events.listeners === 0) return;
    this.events.publish({ ...body, atMs: this.clock.now(), strategy: this.strategyName } as AdmissionEvent);
  }

  private makeContext(options: CheckedHostOptions): StrategyContext {
    return {
      strategy: this.strategyName,
      backend: this.backend,
      mutations: this.mutations,
      clock: this.clock,
      pollMs: options.pollMs,
      policy: options.policy,
      wait: options.wait,
      lock: this.lock,
      building: this.building,
      uncooperative: this.uncooperative,
      withoutBalloonDriver: this.withoutBalloonDriver,
      limits: this.limits,
      handover: new DonorLedger(),
      floorsKiB: () => this.floors,
      emit: (body) => this.emit(body),
      nextBalloonRound: () => ++this.balloonRounds,
      started: (name) => this.started(name),
    };
  }
}
