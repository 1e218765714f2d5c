/**
 * XenHost: one long-lived object per Xen host, the one brain that admits guests there (docs/architecture.md#the-host).
 * It owns what must be host-wide and outlive any one request: the host lock, the guests being built, the donors
 * found uncooperative, the balloon floors (settable at runtime), the ballooning round count, one admission strategy,
 * the event stream and the mutation port every change to Xen passes through. A CLI command opens one for its run;
 * the simulator one per strategy played; a daemon keeps one for its whole life.
 */
import type { XenBackend } from '../backend.js';
import { SystemClock, type Clock, type Timer } from '../clock.js';
import { XenError } from '../errors.js';
import type { StrategyContext } from '../toolstack/context.js';
import { createStrategy } from '../toolstack/create.js';
import type { AdmissionEvent, EventBody } from '../toolstack/events.js';
import { HostLock } from '../toolstack/host-lock.js';
import { BackendMutations, type MutationPort, type MutationRecorder } from '../toolstack/mutations.js';
import type { StrategyName } from '../toolstack/strategy-name.js';
import {
  DEFAULT_POLL_MS, type AdmissionResult, type AdmissionStrategy, type AdmissionTuning, type GuestRequest,
} from '../toolstack/types.js';
import { checkDomid } from '../validate.js';
import { EventStream, type AdmissionEventListener } from './event-stream.js';

/** What a XenHost is opened with; only the backend is required. */
export interface HostOptions extends AdmissionTuning {
  backend: XenBackend;
  /** Default: the backend's own clock (the mock host's virtual clock), otherwise the system clock. */
  clock?: Clock;
  /** How guests are admitted (default 'claim-first'). */
  strategy?: StrategyName;
  /**
   * Balloon floors by guest name, in KiB (a guest's minMiB). A guest without one is never asked to balloon, except
   * dom0, whose floor is the policy's dom0MinKiB (1 GiB unless configured) — xl's behaviour by default.
   */
  floorsKiB?: ReadonlyMap<string, number>;
  /**
   * Sees every mutation's intent before it is made and its outcome after (where a journal plugs in); told when each
   * request settles and when the host is idle.
   */
  recorder?: MutationRecorder;
  /**
   * How long a guest this host built stays out of ballooning after it started running, in ms of the host's clock
   * (its kernel and balloon driver are still coming up: docs/claim-rules.md#lesson-9). Without it (the default) it
   * stays out until no admission is in flight — under a constant stream of requests a daemon needs the bound. A
   * paused guest is never a donor, whatever this says.
   */
  donorGraceMs?: number;
}

/** One Xen host's admission brain (see the file header); construct it with `new XenHost(options)`. */
export class XenHost {
  readonly backend: XenBackend;
  readonly clock: Clock;
  readonly strategyName: StrategyName;
  /** Every change this host makes to Xen passes here. */
  readonly mutations: MutationPort;
  /** One brain per host: ballooning decisions are taken under it. */
  readonly lock = new HostLock();
  private readonly strategy: AdmissionStrategy;
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

  /** EINVAL for an unknown strategy, a poll interval that is not a number > 0, or a bad floor. */
  constructor(options: HostOptions) {
    this.backend = options.backend;
    this.clock = options.clock ?? options.backend.clock ?? new SystemClock();
    this.strategyName = options.strategy ?? 'claim-first';
    this.mutations = new BackendMutations(this.backend, options.recorder);
    this.recorder = options.recorder;
    if (options.donorGraceMs !== undefined && (!Number.isFinite(options.donorGraceMs) || options.donorGraceMs < 0)) {
      throw new XenError(`XenHost: donorGraceMs must be a finite number of ms >= 0, got ${String(options.donorGraceMs)}`, { code: 'EINVAL', op: 'XenHost' });
    }
    this.donorGraceMs = options.donorGraceMs;
    for (const [name, kib] of options.floorsKiB ?? []) this.setFloor(name, kib);
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    if (!Number.isFinite(pollMs) || pollMs <= 0) {
      throw new XenError(`${this.strategyName}: pollMs must be a finite number > 0, got ${String(options.pollMs)}`, {
        code: 'EINVAL',
        op: this.strategyName,
      });
    }
    this.strategy = createStrategy(this.strategyName, this.context(options, pollMs));
  }

  /** Listens to every progress event of this host; returns the function that stops listening. */
  subscribe(listener: AdmissionEventListener): () => void {
    return this.events.subscribe(listener);
  }

  /** Sets (KiB ≥ 0) or removes (null) a guest's balloon floor; it applies from the next observation on. */
  setFloor(name: string, kib: number | null): void {
    if (typeof name !== 'string' || name === '') {
      throw new XenError('setFloor: name must be a non-empty guest name', { code: 'EINVAL', op: 'setFloor' });
    }
    if (kib === null) {
      this.floors.delete(name);
      return;
    }
    if (typeof kib !== 'number' || !Number.isFinite(kib) || kib < 0) {
      throw new XenError(`setFloor: the floor of ${name} must be a finite number of KiB >= 0, got ${String(kib)}`, {
        code: 'EINVAL',
        op: 'setFloor',
      });
    }
    this.floors.set(name, kib);
  }

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

  /** Admits and builds one guest with the host's strategy. Never rejects: the outcome is in the result. */
  admit(request: GuestRequest): Promise<AdmissionResult> {
    this.admissionsInFlight++;
    const work = this.strategy.admit(request);
    void work.finally(async () => {
      await this.tellRecorder(() => this.recorder?.settled?.(request.name));
      if (--this.admissionsInFlight === 0) {
        this.handBackRunning();
        if (this.recorder?.idle === undefined) return;
        await this.strategy.idle();
        if (this.admissionsInFlight === 0) await this.tellRecorder(() => this.recorder?.idle?.());
      }
    });
    return work;
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
   * every cleanup (limits removed, donors restored) is done. Never rejects for a guest that could not be created:
   * look at `ok` and `error` (an AdmissionError carries `.report`).
   */
  async createGuests(requests: readonly GuestRequest[]): Promise<AdmissionResult[]> {
    const results = await Promise.all(requests.map((request) => this.admit(request)));
    await this.idle();
    return results;
  }

  /** Resolves once nothing is in flight: every admission settled and every cleanup done. */
  idle(): Promise<void> {
    return this.strategy.idle();
  }

  /** Lets the host's time pass until `work` settles (drives the mock host's virtual clock; real time passes itself). */
  run<T>(work: Promise<T>): Promise<T> {
    return this.clock.run(work);
  }

  /** An operator sets a guest's balloon target (xl mem-set; max_pages follows it, as libxl enforces). */
  setMemoryTarget(domid: number, targetKiB: number): Promise<void> {
    return this.mutations.setTarget({ domid: checkDomid('setMemoryTarget', domid), targetKiB });
  }

  /**
   * An operator sets a guest's maximum (xl mem-max), with libxl's rules (libxl_domain_setmaxmem): a maximum below
   * the current target is refused (EINVAL naming both); max_pages becomes maxKiB + 1 MiB.
   */
  setMaxMem(domid: number, maxKiB: number): Promise<void> {
    return this.mutations.setMaxMem({ domid: checkDomid('setMaxMem', domid), maxKiB });
  }

  /** An operator destroys a guest (xl destroy). */
  destroyGuest(domid: number, name: string | null = null): Promise<void> {
    return this.mutations.destroyGuest({ domid: checkDomid('destroyGuest', domid), name, reason: 'operator' });
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

  private emit(body: EventBody): void {
    if (this.events.listeners === 0) return;
    this.events.publish({ ...body, atMs: this.clock.now(), strategy: this.strategyName } as AdmissionEvent);
  }

  private context(options: HostOptions, pollMs: number): StrategyContext {
    return {
      strategy: this.strategyName,
      backend: this.backend,
      mutations: this.mutations,
      clock: this.clock,
      pollMs,
      policy: options.policy ?? {},
      wait: options.wait,
      lock: this.lock,
      building: this.building,
      uncooperative: this.uncooperative,
      floorsKiB: () => this.floors,
      emit: (body) => this.emit(body),
      nextBalloonRound: () => ++this.balloonRounds,
      started: (name) => this.started(name),
    };
  }
}
