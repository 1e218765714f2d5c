/**
 * What the three executors share: the backend calls they make (observe, set donor targets, restore them, build a
 * guest), events stamped with the clock, and the facts the toolstack knows that Xen does not (floors, which
 * domains this toolstack is building, which donors did not cooperate).
 */
import { planBalloon, type BalloonPlan, type BalloonPolicy } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import { startWaiting, type AskedDonor, type WaitState } from '../admission/progress.js';
import { headroomPages, kibToPagesCeil, observeState, type DomainFacts, type ObservedState } from '../admission/state.js';
import type { DomainInfo, Physinfo, XenBackend } from '../backend.js';
import type { Clock } from '../clock.js';
import { ERRNO, XenError } from '../errors.js';
import { eventError, type AdmissionEvent, type DonorTarget, type EventBody } from './events.js';
import { DEFAULT_POLL_MS, type AdmissionResult, type GuestRequest, type StrategyName, type StrategyOptions } from './types.js';

export interface Observation {
  physinfo: Physinfo;
  domains: DomainInfo[];
  state: ObservedState;
}

/** ENOMEM from the claim or the allocation: errno 12, or the code itself. */
export function isOutOfMemory(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & { code?: unknown; errno?: unknown };
  return e.code === 'ENOMEM' || e.errno === ERRNO.ENOMEM;
}

export class Shell {
  readonly backend: XenBackend;
  readonly clock: Clock;
  readonly pollMs: number;
  readonly policy: Partial<BalloonPolicy>;
  /** Names of guests this instance is building or has built: never donors (lesson 9: not booted yet). */
  readonly ours = new Set<string>();
  /** Donors found uncooperative: never asked again by this instance. */
  readonly uncooperative = new Set<number>();
  balloonRounds = 0;
  private readonly floorsKiB: ReadonlyMap<string, number>;
  private readonly onEvent: ((event: AdmissionEvent) => void) | undefined;

  constructor(readonly strategy: StrategyName, readonly options: StrategyOptions) {
    this.backend = options.backend;
    this.clock = options.clock;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    if (!Number.isFinite(this.pollMs) || this.pollMs <= 0) {
      throw new XenError(`${strategy}: pollMs must be a finite number > 0, got ${String(options.pollMs)}`, { code: 'EINVAL', op: strategy });
    }
    this.policy = options.policy ?? {};
    this.floorsKiB = options.floorsKiB ?? new Map();
    this.onEvent = options.onEvent;
  }

  now(): number {
    return this.clock.now();
  }

  emit(body: EventBody): void {
    if (!this.onEvent) return;
    try {
      this.onEvent({ ...body, atMs: this.clock.now(), strategy: this.strategy } as AdmissionEvent);
    } catch {
      // A display that throws must not break an admission.
    }
  }

  /** The policy with every uncooperative donor excluded. */
  planPolicy(): Partial<BalloonPolicy> {
    return { ...this.policy, excludedDomids: [...(this.policy.excludedDomids ?? []), ...this.uncooperative] };
  }

  facts(domains: readonly DomainInfo[]): Map<number, DomainFacts> {
    const facts = new Map<number, DomainFacts>();
    for (const d of domains) {
      const name = d.name;
      const floor = name === undefined ? undefined : this.floorsKiB.get(name);
      const ownKiB = d.totPages * 4;
      let minKiB = floor ?? (d.domid === 0 ? 0 : ownKiB);
      minKiB = Math.min(minKiB, Math.max(ownKiB, d.targetKiB ?? 0, d.maxPages * 4));
      facts.set(d.domid, {
        minKiB,
        maxKiB: Math.max(d.maxPages * 4, minKiB),
        building: name !== undefined && this.ours.has(name),
        uncooperative: this.uncooperative.has(d.domid),
      });
    }
    return facts;
  }

  async observe(): Promise<Observation> {
    const physinfo = await this.backend.physinfo();
    const domains = await this.backend.listDomains();
    return { physinfo, domains, state: observeState(physinfo, domains, this.facts(domains)) };
  }

  async needPages(request: GuestRequest): Promise<number> {
    const needKiB = await this.backend.needMemoryKiB(request.config);
    this.emit({ type: 'requested', request: request.name, needKiB });
    return kibToPagesCeil(needKiB);
  }

  /**
   * Sets the new targets of a plan's newly asked donors (enforce: false leaves max_pages alone), recording in the
   * ledger what was actually lowered — a failure half-way leaves the ledger exact, so a restore gives back only
   * what was really asked.
   */
  async setDonorTargets(plan: BalloonPlan, request: string | null, ledger: DonorLedger): Promise<void> {
    const asked = plan.donors.filter((d) => d.askedPages > 0 && d.toKiB < d.fromKiB);
    if (asked.length === 0) return;
    this.balloonRounds++;
    this.emit({
      type: 'ballooning',
      request,
      round: this.balloonRounds,
      method: plan.method,
      shortfallKiB: plan.shortfallPages * 4,
      donors: asked.map((d) => ({ domid: d.domid, name: d.name, fromKiB: d.fromKiB, toKiB: d.toKiB })),
    });
    for (const donor of asked) {
      await this.backend.setMemoryTarget(donor.domid, donor.toKiB, { enforce: false });
      ledger.lowered(donor.domid, donor.name, donor.fromKiB, donor.toKiB);
    }
  }

  /**
   * Gives back what the ledger says was asked (all donors, or only `domids`): each target is raised by what was
   * asked, relative to where it is now, so another admission's own lowering of the same donor is kept. Each call is
   * retried once; a donor that is gone is skipped. Never throws: a failure is reported as a cleanup-failed event.
   */
  async restoreDonors(ledger: DonorLedger, request: string | null, domids?: readonly number[]): Promise<void> {
    const restored: DonorTarget[] = [];
    for (const entry of ledger.take(domids)) {
      const ok = await this.cleanup(request, `restore the target of ${entry.name} (domid ${entry.domid})`, () =>
        this.backend.setMemoryTarget(entry.domid, entry.askedKiB, { relative: true, enforce: false }),
      );
      if (ok) restored.push({ domid: entry.domid, name: entry.name, fromKiB: entry.toKiB, toKiB: entry.toKiB + entry.askedKiB });
    }
    if (restored.length > 0) this.emit({ type: 'donors-restored', request, donors: restored });
  }

  /**
   * Donors found uncooperative keep what they gave and are asked for nothing more: each target goes up to where the
   * donor stopped (never above its target before it was asked), so a stalled driver is not mistaken for a guest
   * about to grow. What it did give stays in the ledger, given back too if the admission fails.
   */
  async releaseStuckDonors(ledger: DonorLedger, request: string | null, stuck: readonly { domid: number; totPages: number }[]): Promise<void> {
    const released: DonorTarget[] = [];
    for (const donor of stuck) {
      const entry = ledger.get(donor.domid);
      if (!entry) continue;
      const stoppedKiB = Math.min(entry.toKiB + entry.askedKiB, donor.totPages * 4);
      const raiseKiB = stoppedKiB - entry.toKiB;
      if (raiseKiB <= 0) continue;
      const ok = await this.cleanup(request, `give ${entry.name} (domid ${entry.domid}) its target back`, () =>
        this.backend.setMemoryTarget(entry.domid, raiseKiB, { relative: true, enforce: false }),
      );
      if (!ok) continue;
      ledger.raised(entry.domid, raiseKiB);
      released.push({ domid: entry.domid, name: entry.name, fromKiB: entry.toKiB, toKiB: stoppedKiB });
    }
    if (released.length > 0) this.emit({ type: 'donors-restored', request, donors: released });
  }

  /**
   * The waiting policy found donors that made no progress: never ask them again in this strategy instance, say so,
   * and let each keep what it gave (its target set where it stopped).
   */
  async markUncooperative(ledger: DonorLedger, request: string | null, wait: WaitState, domids: readonly number[]): Promise<void> {
    for (const domid of domids) {
      this.uncooperative.add(domid);
      const stuck = wait.uncooperative.find((u) => u.domid === domid);
      this.emit({ type: 'donor-uncooperative', request, domid, name: stuck?.name ?? `domain-${domid}` });
    }
    await this.releaseStuckDonors(ledger, request, wait.uncooperative.filter((u) => domids.includes(u.domid)));
  }

  /** Runs a cleanup step, retrying once; ESRCH (the domain is gone) counts as done. */
  async cleanup(request: string | null, step: string, action: () => Promise<void>): Promise<boolean> {
    let last: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await action();
        return true;
      } catch (error) {
        if (error instanceof XenError && error.code === 'ESRCH') return true;
        last = error;
      }
    }
    this.emit({ type: 'cleanup-failed', request, step, error: eventError(last) });
    return false;
  }

  /** Emits donor-progress for every watched donor seen in an observation. */
  donorProgress(request: string | null, asked: readonly AskedDonor[], domains: readonly DomainInfo[]): void {
    for (const donor of asked) {
      const info = domains.find((d) => d.domid === donor.domid);
      if (!info) continue;
      const wanted = donor.firstTotPages - kibToPagesCeil(donor.lastTargetKiB);
      const given = donor.firstTotPages - info.totPages;
      this.emit({
        type: 'donor-progress',
        request,
        domid: donor.domid,
        name: donor.name,
        totKiB: info.totPages * 4,
        targetKiB: donor.lastTargetKiB,
        fraction: wanted <= 0 ? 1 : Math.max(0, Math.min(1, given / wanted)),
      });
    }
  }

  /** Sleeps on the clock for the poll interval (or less, to wake at `untilMs`). */
  async pause(untilMs?: number): Promise<void> {
    const now = this.clock.now();
    const ms = untilMs === undefined ? this.pollMs : Math.max(0, Math.min(this.pollMs, untilMs - now));
    await this.clock.sleep(ms === 0 ? this.pollMs : ms);
  }

  newResult(request: GuestRequest): AdmissionResult {
    return {
      name: request.name,
      ok: false,
      domid: null,
      error: null,
      report: null,
      requestedAtMs: this.clock.now(),
      admittedAtMs: null,
      runningAtMs: null,
      failedAtMs: null,
    };
  }

  succeed(result: AdmissionResult, domid: number): AdmissionResult {
    result.ok = true;
    result.domid = domid;
    result.runningAtMs = this.clock.now();
    this.emit({ type: 'running', request: result.name, domid });
    return result;
  }

  fail(result: AdmissionResult, error: unknown): AdmissionResult {
    const err = error instanceof Error ? error : new Error(String(error));
    result.ok = false;
    result.error = err;
    result.failedAtMs = this.clock.now();
    const report = (err as Error & { report?: AdmissionResult['report'] }).report;
    if (report) {
      result.report = report;
      this.emit({ type: 'gave-up', request: result.name, report, message: err.message });
    } else {
      this.emit({ type: 'failed', request: result.name, error: eventError(err) });
    }
    return result;
  }
}

export interface LedgerEntry {
  domid: number;
  name: string;
  /** Total KiB its target was lowered by. */
  askedKiB: number;
  /** Its latest target. */
  toKiB: number;
}

/** What an admission has really asked of its donors (targets set), so a failure gives back exactly that. */
export class DonorLedger {
  private readonly entries = new Map<number, LedgerEntry>();
  lowered(domid: number, name: string, fromKiB: number, toKiB: number): void {
    const known = this.entries.get(domid);
    this.entries.set(domid, { domid, name, askedKiB: (known?.askedKiB ?? 0) + (fromKiB - toKiB), toKiB });
  }

  get size(): number {
    return this.entries.size;
  }

  get(domid: number): LedgerEntry | undefined {
    const entry = this.entries.get(domid);
    return entry && { ...entry };
  }

  /** The donor's target was raised by `kib` (it keeps what it gave): less to give back later. */
  raised(domid: number, kib: number): void {
    const entry = this.entries.get(domid);
    if (!entry) return;
    const askedKiB = entry.askedKiB - kib;
    if (askedKiB <= 0) this.entries.delete(domid);
    else this.entries.set(domid, { ...entry, askedKiB, toKiB: entry.toKiB + kib });
  }

  /** Forgets what was asked: the admission it was for succeeded, the donors keep their targets. */
  commit(): void {
    this.entries.clear();
  }

  /** Removes and returns the entries (all, or those of `domids`). */
  take(domids?: readonly number[]): LedgerEntry[] {
    const out: LedgerEntry[] = [];
    for (const [domid, entry] of this.entries) {
      if (domids !== undefined && !domids.includes(domid)) continue;
      out.push(entry);
      this.entries.delete(domid);
    }
    return out;
  }
}

/** A request's config must name the guest it is for. */
function checkRequest(op: string, request: GuestRequest): void {
  if (typeof request !== 'object' || request === null || typeof request.name !== 'string' || request.name === '') {
    throw new XenError(`${op}: request.name must be a non-empty string`, { code: 'EINVAL', op });
  }
  const configName = request.config?.c_info?.name;
  if (configName !== request.name) {
    throw new XenError(
      `${op}: request "${request.name}": config.c_info.name must be "${request.name}", got ${JSON.stringify(configName)}`,
      { code: 'EINVAL', op },
    );
  }
}

/**
 * A request arriving at a strategy: checked, and its name taken in `names` (the strategy's requests until they
 * settle), so a second request for the same name fails at once. The strategy gives the name back when it settles.
 */
export function takeRequestName(names: Set<string>, request: GuestRequest): void {
  checkRequest('createGuests', request);
  if (names.has(request.name)) throw new Error(`createGuests: request "${request.name}" is already in this batch`);
  names.add(request.name);
}

/**
 * A request joining a queueing strategy (limit-and-check, model): its name taken, then the pages it needs read.
 * If reading them fails, the name is given back and the error thrown.
 */
export async function takeQueuedRequest(shell: Shell, names: Set<string>, request: GuestRequest): Promise<number> {
  takeRequestName(names, request);
  try {
    return await shell.needPages(request);
  } catch (error) {
    names.delete(request.name);
    throw error;
  }
}

/**
 * The error for a request no ballooning can make fit: an AdmissionError built from an infeasible plan, so it names
 * the need, the headroom and what could at most be freed. With the wait that led here (donors asked, some found
 * uncooperative), the report says who was asked and who did not cooperate; without one, that nobody was asked.
 */
export function impossibleRequestError(
  shell: Shell,
  request: string,
  needPages: number,
  state: ObservedState,
  wait?: WaitState,
): AdmissionError {
  const plan = planBalloon(state, { needPages, policy: shell.planPolicy() });
  const nowMs = shell.now();
  const waited = wait
    ? { ...wait, needPages, lastHeadroomPages: headroomPages(state.host) }
    : startWaiting({ needPages, plan: { ...plan, feasible: false, donors: [] }, nowMs, headroomPages: headroomPages(state.host), config: shell.options.wait }).state;
  return new AdmissionError(buildGiveUpReport({ request, cause: 'nothing-left-to-ask', wait: waited, nowMs, lastPlan: plan }));
}

/** A promise with its resolve, for the executors' "something changed" signals. */
export class Signal {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
