/**
 * The waiting policy of the ballooning fallback, as a pure state machine: the executor sets the planned targets,
 * then feeds observations (time, each donor's tot_pages, host headroom) and acts on the decision it gets back.
 *
 * Bounded by lack of progress and by what the observed rates can still reach — never by absolute time unless the
 * operator sets a limit (docs/claim-rules.md#lesson-1):
 * - progress is judged per donor on its tot_pages reaching a new low, not on host free memory, which may briefly
 *   fall while ballooning (what broke xl's 3-retry loop before 4.17) and which other guests move too;
 * - a donor that has not reached its target and has made no progress for `stallTimeoutMs` is marked uncooperative
 *   (squeezed: 5 s) and the executor replans without it — the same rule as libxl_wait_for_memory_target, where time
 *   without change spends the budget and progress keeps the wait alive, but per donor, so one stuck guest does not
 *   make the others wait; a donor that oscillates (docs/claim-rules.md#lesson-6) only counts as progressing when it
 *   goes lower than it has ever been;
 * - as soon as any watched donor reaches its target while the need is still short, the executor replans the
 *   remainder (work-conserving: nobody idles while another works alone), with the rates observed so far
 *   (donorRates; balloon-plan.ts weighs the shares by them);
 * - a donor that keeps moving keeps the wait alive, however slowly: a 100 GiB guest waiting for a slow dom0 starts
 *   once dom0 has given enough. Only an operator's `maxWaitMs` (default none) bounds the wall time: past it the
 *   wait gives up ('max-wait'), and as soon as the observed rates cannot reach the need before it, at once
 *   ('too-slow').
 * What may be taken is capacity.ts's admissiblePages: the reserve for Xen must be free or on its way from the
 * watched donors, so the retry does not wait for the last reserve/rate seconds.
 */
import { kibToPagesCeil } from '../units.js';
import { invalidArgument } from '../validate.js';
import type { BalloonPlan } from './balloon-plan.js';
import { admissiblePages } from './capacity.js';

/** How long a wait for memory may take and when a donor counts as stuck, in ms (squeezed's 5 s stall timeout). */
export interface WaitConfig {
  /** A donor without progress for this long is uncooperative (default 5000 ms, squeezed's 5 s). */
  stallTimeoutMs: number;
  /** Optional wall-time limit of the whole wait, replans included; null (the default): none. */
  maxWaitMs: number | null;
  /** A donor within this many pages of its target has reached it (default 256 = 1 MiB; drivers stop short). */
  targetTolerancePages: number;
  /** A donor's rate is known once it has been watched this long since it was (last) asked (default 1000 ms). */
  rateWindowMs: number;
}

export const DEFAULT_WAIT_CONFIG: Readonly<WaitConfig> = Object.freeze({
  stallTimeoutMs: 5000,
  maxWaitMs: null,
  targetTolerancePages: 256,
  rateWindowMs: 1000,
});

/** A donor the current plan is waiting on. */
export interface WatchedDonor {
  domid: number;
  name: string;
  targetPages: number;
  /** The lowest tot_pages seen since it was first asked. */
  lowestTotPages: number;
  /** When its stall period began: its last progress, or its last new ask (a new ask gets a full period). */
  lastProgressMs: number;
  /** When it last really moved (a new low), new asks or not: a donor still for a rate window has rate 0. */
  lastMovedMs: number;
  /** Its tot_pages at the last observation. */
  totPages: number;
  /** It was within the tolerance of its target at the last observation. */
  reached: boolean;
}

/** Every donor ever asked during this wait: what to restore on failure, what it gave, and how fast. */
export interface AskedDonor {
  domid: number;
  name: string;
  /** Its target before the first plan that asked it: restored if the creation fails. */
  originalKiB: number;
  /** The latest target planned for it. */
  lastTargetKiB: number;
  firstTotPages: number;
  lowestTotPages: number;
  /** Where the current rate measurement started (when it was last given a new target), ms and tot_pages. */
  segmentMs: number;
  segmentTotPages: number;
  /** Its observed balloon rate down, pages per second (null until watched for rateWindowMs). */
  ratePagesPerS: number | null;
}

export interface UncooperativeDonor {
  domid: number;
  name: string;
  markedAtMs: number;
  /** Where it stopped, and where it was asked to go. */
  totPages: number;
  targetPages: number;
}

export interface WaitState {
  config: WaitConfig;
  needPages: number;
  /** Kept free for Xen (the plan's reservePages): free, or on its way from the watched donors, before a retry. */
  reservePages: number;
  startedMs: number;
  donors: readonly WatchedDonor[];
  asked: readonly AskedDonor[];
  uncooperative: readonly UncooperativeDonor[];
  /** Donors whose domain disappeared while we waited (destroyed: their memory came back). */
  gone: readonly number[];
  /** The headroom (less the executor's own promises) at the last observation. */
  lastHeadroomPages: number;
  /** When any watched donor last reached a new low (or the wait began). */
  lastAnyProgressMs: number;
  lastObservedMs: number;
  plans: number;
}

export interface DonorObservation {
  domid: number;
  totPages: number;
}

export interface WaitObservation {
  nowMs: number;
  /** free − outstanding claims, less what the executor has promised that Xen does not know about yet. */
  headroomPages: number;
  /** The current tot_pages of (at least) every watched donor; a watched donor missing here is gone. */
  donors: readonly DonorObservation[];
}

/**
 * Why a wait gave up: the eligible donors cannot free enough (what is left is in the report), the operator's wall
 * time limit ran out, or the observed rates cannot reach the need before it does.
 */
export type GiveUpCause = 'cannot-free-enough' | 'max-wait' | 'too-slow';

export type WaitDecision =
  /** Nothing to do: observe again, no later than `untilMs` (a stall deadline, a donor's or the need's projected time). */
  | { kind: 'wait'; untilMs: number }
  /** The need may be taken now: retry the claim. */
  | { kind: 'retry-claim' }
  /** These donors made no progress for stallTimeoutMs: replan without them (excludedDomids = uncooperativeDomids). */
  | { kind: 'mark-uncooperative'; domids: number[] }
  /** A watched donor reached its target and the need is still short: replan the remainder from a fresh observation. */
  | { kind: 'replan' }
  | { kind: 'give-up'; cause: GiveUpCause };

export interface WaitStep {
  state: WaitState;
  decision: WaitDecision;
}

const OP = 'waitForMemory';

/**
 * The waiting policy with defaults filled in: stallTimeoutMs > 0, maxWaitMs null or a finite number >= 0 (ms),
 * the rest finite numbers >= 0 (ms or pages). EINVAL naming the field (`${name}.maxWaitMs`, in operation `op`)
 * for an unknown field or a bad value.
 */
export function resolveWaitConfig(partial: Partial<WaitConfig> = {}, op = OP, name = 'config'): WaitConfig {
  const config: WaitConfig = { ...DEFAULT_WAIT_CONFIG };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_WAIT_CONFIG, key)) {
      throw invalidArgument(op, `${name}.${key}`, `a known setting (${Object.keys(DEFAULT_WAIT_CONFIG).join(', ')})`, key);
    }
    if (key === 'maxWaitMs' && value === null) {
      config.maxWaitMs = null;
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw invalidArgument(op, `${name}.${key}`, key === 'maxWaitMs' ? 'null or a finite number >= 0' : 'a finite number >= 0', value);
    }
    (config as unknown as Record<string, number>)[key] = value;
  }
  if (config.stallTimeoutMs === 0) throw invalidArgument(op, `${name}.stallTimeoutMs`, 'a number > 0', 0);
  return config;
}

/** The domids a replan must exclude: every donor marked uncooperative during this wait. */
export function uncooperativeDomids(state: WaitState): number[] {
  return state.uncooperative.map((d) => d.domid);
}

/** The balloon rates observed so far (pages per second, by domid), for the planner's weights. */
export function donorRates(state: WaitState): Map<number, number> {
  const rates = new Map<number, number>();
  for (const donor of state.asked) if (donor.ratePagesPerS !== null) rates.set(donor.domid, donor.ratePagesPerS);
  return rates;
}

export interface StartWaiting {
  /** Pages the request needs (its whole need, not the shortfall). */
  needPages: number;
  /** The first plan, made from the observation that followed the failed claim. */
  plan: BalloonPlan;
  nowMs: number;
  /** The headroom in that observation (less the executor's own promises). */
  headroomPages: number;
  config?: Partial<WaitConfig>;
}

/** Starts a wait with the first plan. An infeasible plan gives up at once, having asked nobody. */
export function startWaiting(start: StartWaiting): WaitStep {
  const { needPages, plan, nowMs, headroomPages } = start;
  if (!Number.isSafeInteger(needPages) || needPages < 0) {
    throw invalidArgument(OP, 'needPages', 'an integer from 0 to 2^53-1', needPages);
  }
  checkTime(nowMs);
  const state: WaitState = {
    config: resolveWaitConfig(start.config),
    needPages,
    reservePages: plan.reservePages,
    startedMs: nowMs,
    donors: [],
    asked: [],
    uncooperative: [],
    gone: [],
    lastHeadroomPages: headroomPages,
    lastAnyProgressMs: nowMs,
    lastObservedMs: nowMs,
    plans: 0,
  };
  return applyPlan(state, plan, nowMs);
}

/**
 * Adopts a (re)plan made from a fresh observation (with the targets the executor really set). Its donors are
 * watched from now; a donor kept from the previous plan keeps its progress history, and one given a new target
 * starts a new rate measurement (its last rate is kept until the new one is known). Infeasible → give up; nothing
 * to free → retry the claim.
 */
export function applyPlan(state: WaitState, plan: BalloonPlan, nowMs: number): WaitStep {
  checkTime(nowMs, state.lastObservedMs);
  const marked = new Set(uncooperativeDomids(state));
  plan.donors.forEach((planned, i) => {
    if (marked.has(planned.domid)) {
      throw invalidArgument(OP, `plan.donors[${i}].domid`, 'not a donor marked uncooperative (replan with excludedDomids)', planned.domid);
    }
  });
  const tolerance = state.config.targetTolerancePages;
  const previous = new Map(state.donors.map((d) => [d.domid, d]));
  const asked = new Map(state.asked.map((d) => [d.domid, d]));
  const donors: WatchedDonor[] = [];
  for (const planned of plan.donors) {
    const targetPagesOf = kibToPagesCeil(planned.toKiB);
    const totPages = planned.totPages;
    const before = previous.get(planned.domid);
    const known = asked.get(planned.domid);
    const retargeted = known === undefined || known.lastTargetKiB !== planned.toKiB;
    // Its rate is its driver's: measured on, across new targets, while it keeps moving; anew once it had stopped.
    const resumed = known === undefined || (retargeted && (before === undefined || before.reached));
    donors.push({
      domid: planned.domid,
      name: planned.name,
      targetPages: targetPagesOf,
      lowestTotPages: before ? Math.min(before.lowestTotPages, totPages) : totPages,
      // A newly asked donor gets a full stall period; a kept one with a new ask gets one too.
      lastProgressMs: before && !retargeted ? before.lastProgressMs : nowMs,
      lastMovedMs: before ? before.lastMovedMs : nowMs,
      totPages,
      reached: totPages <= targetPagesOf + tolerance,
    });
    asked.set(planned.domid, {
      domid: planned.domid,
      name: planned.name,
      originalKiB: known ? known.originalKiB : planned.fromKiB,
      lastTargetKiB: planned.toKiB,
      firstTotPages: known ? known.firstTotPages : totPages,
      lowestTotPages: known ? Math.min(known.lowestTotPages, totPages) : totPages,
      segmentMs: resumed ? nowMs : known.segmentMs,
      segmentTotPages: resumed ? totPages : known.segmentTotPages,
      ratePagesPerS: known ? known.ratePagesPerS : null,
    });
  }
  const next: WaitState = {
    ...state,
    reservePages: plan.reservePages,
    donors,
    asked: [...asked.values()],
    plans: state.plans + 1,
    lastObservedMs: nowMs,
  };
  if (!plan.feasible) return { state: { ...next, donors: [] }, decision: { kind: 'give-up', cause: 'cannot-free-enough' } };
  if (plan.shortfallPages === 0) return { state: next, decision: { kind: 'retry-claim' } };
  const limit = maxWaitDecision(next, nowMs);
  if (limit) return { state: next, decision: limit };
  return { state: next, decision: nextWait(next, nowMs) };
}

/** Feeds one observation; returns the new state and what to do. */
export function observeProgress(state: WaitState, observation: WaitObservation): WaitStep {
  const nowMs = observation.nowMs;
  checkTime(nowMs, state.lastObservedMs);
  if (!Number.isSafeInteger(observation.headroomPages)) {
    throw invalidArgument(OP, 'observation.headroomPages', 'an integer', observation.headroomPages);
  }
  const seen = new Map(observation.donors.map((d) => [d.domid, d.totPages]));
  const { targetTolerancePages: tolerance, stallTimeoutMs, rateWindowMs } = state.config;

  const donors: WatchedDonor[] = [];
  const gone: number[] = [...state.gone];
  const stalled: UncooperativeDonor[] = [];
  let newlyReached = false;
  for (const donor of state.donors) {
    const totPages = seen.get(donor.domid);
    if (totPages === undefined) {
      gone.push(donor.domid);
      continue;
    }
    const progressed = totPages < donor.lowestTotPages;
    const reached = totPages <= donor.targetPages + tolerance;
    const updated: WatchedDonor = {
      ...donor,
      totPages,
      reached,
      ...(progressed ? { lowestTotPages: totPages, lastProgressMs: nowMs, lastMovedMs: nowMs } : {}),
    };
    if (!reached && nowMs - updated.lastProgressMs >= stallTimeoutMs) {
      stalled.push({ domid: donor.domid, name: donor.name, markedAtMs: nowMs, totPages, targetPages: donor.targetPages });
      continue;
    }
    if (reached && !donor.reached) newlyReached = true;
    donors.push(updated);
  }
  const watching = new Map(donors.map((d) => [d.domid, d]));
  const asked = state.asked.map((a) => {
    const totPages = seen.get(a.domid);
    if (totPages === undefined) return a;
    let next = totPages < a.lowestTotPages ? { ...a, lowestTotPages: totPages } : a;
    // The rate is measured while it is on its way (over rateWindowMs at least), and once more as it arrives (a
    // slight underestimate: it may have arrived before this look); after that its last rate stands.
    const watched = watching.get(a.domid);
    const before = state.donors.find((d) => d.domid === a.domid);
    const elapsedMs = nowMs - a.segmentMs;
    const moved = Math.max(0, a.segmentTotPages - totPages);
    const arriving = watched !== undefined && watched.reached && before !== undefined && !before.reached && moved > 0;
    if (watched && elapsedMs > 0 && ((!watched.reached && elapsedMs >= rateWindowMs) || arriving)) {
      // Not moving for a whole window: its rate now is 0, whatever it did before (a driver that stalled halfway).
      const stopped = !watched.reached && nowMs - watched.lastMovedMs >= rateWindowMs;
      next = { ...next, ratePagesPerS: stopped ? 0 : (moved * 1000) / elapsedMs };
    }
    return next;
  });
  const anyProgress = donors.some((d) => d.lastMovedMs === nowMs);
  const next: WaitState = {
    ...state,
    donors,
    asked,
    gone,
    uncooperative: [...state.uncooperative, ...stalled],
    lastHeadroomPages: observation.headroomPages,
    lastAnyProgressMs: anyProgress ? nowMs : state.lastAnyProgressMs,
    lastObservedMs: nowMs,
  };

  if (admissiblePages(observation.headroomPages, state.reservePages, arrivingOf(donors, asked)) >= state.needPages) {
    // The need is there: nobody has to be judged now; a donor that stalled stays watched (its ask is the executor's).
    const stalledStill = stalled.map((u) => ({ ...state.donors.find((d) => d.domid === u.domid)!, totPages: u.totPages, reached: false }));
    return { state: { ...next, donors: [...donors, ...stalledStill], uncooperative: state.uncooperative }, decision: { kind: 'retry-claim' } };
  }
  const limit = maxWaitDecision(next, nowMs);
  if (limit) return { state: next, decision: limit };
  if (stalled.length > 0) {
    return { state: next, decision: { kind: 'mark-uncooperative', domids: stalled.map((d) => d.domid) } };
  }
  if (donors.every((d) => d.reached) && nowMs - next.lastAnyProgressMs >= stallTimeoutMs) {
    // Nothing has moved for a whole stall timeout and every donor asked is where it was asked to go: the replans
    // find nothing that frees more. The wait is bounded by lack of progress.
    return { state: next, decision: { kind: 'give-up', cause: 'cannot-free-enough' } };
  }
  if (newlyReached || donors.every((d) => d.reached)) return { state: next, decision: { kind: 'replan' } };
  return { state: next, decision: nextWait(next, nowMs) };
}

/**
 * A retry was refused (the memory went elsewhere, or the hypervisor disagreed): past the operator's wall-time limit
 * give up, otherwise replan after a pause. The state is unchanged (nothing was observed).
 */
export function afterRefusedRetry(state: WaitState, nowMs: number): WaitStep {
  checkTime(nowMs, state.lastObservedMs);
  const limit = state.config.maxWaitMs;
  if (limit !== null && nowMs - state.startedMs >= limit) {
    return { state, decision: { kind: 'give-up', cause: 'max-wait' } };
  }
  return { state, decision: { kind: 'replan' } };
}

/** How many pages the asked donors have given so far (from where each was first asked to its lowest since). */
export function freedPages(state: WaitState): number {
  return state.asked.reduce((sum, d) => sum + Math.max(0, d.firstTotPages - d.lowestTotPages), 0);
}

/** Memory the watched donors are still freeing toward their targets: not from one seen to have stopped (rate 0). */
function arrivingOf(donors: readonly WatchedDonor[], asked: readonly AskedDonor[]): number {
  const stopped = new Set(asked.filter((a) => a.ratePagesPerS === 0).map((a) => a.domid));
  return donors.reduce((sum, d) => (stopped.has(d.domid) ? sum : sum + Math.max(0, d.totPages - d.targetPages)), 0);
}

/** The watched donors' observed rates down, pages per second (null: some donor's rate is not known yet). */
function watchedRates(state: WaitState): Map<number, number> | null {
  const rates = donorRates(state);
  for (const donor of state.donors) if (!donor.reached && !rates.has(donor.domid)) return null;
  return rates;
}

/**
 * When the need may be taken at the observed rates, in ms from now: the watched donors deliver
 * D(t) = Σ min(remaining_i, rate_i·t); it may be taken once D ≥ need − headroom, provided the reserve is then still
 * on its way (headroom + Σ remaining − reserve ≥ need; otherwise only a replan can get there: Infinity). null when
 * some rate is not known yet. Exported for its tests.
 */
export function projectedAdmissionMs(state: WaitState): number | null {
  const rates = watchedRates(state);
  if (rates === null) return null;
  const remaining = state.donors.map((d) => ({ left: Math.max(0, d.totPages - d.targetPages), rate: rates.get(d.domid) ?? 0 }));
  const arriving = remaining.reduce((sum, r) => sum + r.left, 0);
  const missing = state.needPages - state.lastHeadroomPages;
  if (missing <= 0 && state.lastHeadroomPages + arriving - state.reservePages >= state.needPages) return 0;
  if (state.lastHeadroomPages + arriving - state.reservePages < state.needPages) return Number.POSITIVE_INFINITY;
  return timeToDeliver(remaining, missing);
}

/** The first t (ms) with Σ min(left_i, rate_i·t) ≥ pages (rates in pages/s); Infinity if never. */
function timeToDeliver(donors: readonly { left: number; rate: number }[], pages: number): number {
  if (pages <= 0) return 0;
  const moving = donors.filter((d) => d.left > 0 && d.rate > 0).sort((a, b) => a.left / a.rate - b.left / b.rate);
  let delivered = 0;
  let rate = moving.reduce((sum, d) => sum + d.rate, 0);
  let at = 0;
  for (const donor of moving) {
    const end = donor.left / donor.rate;
    const byEnd = delivered + rate * (end - at);
    if (byEnd >= pages) return (at + (pages - delivered) / rate) * 1000;
    delivered = byEnd;
    rate -= donor.rate;
    at = end;
  }
  return Number.POSITIVE_INFINITY;
}

/** Past the operator's limit, or projected past it at the observed rates: the give-up; otherwise null. */
function maxWaitDecision(state: WaitState, nowMs: number): WaitDecision | null {
  const limit = state.config.maxWaitMs;
  if (limit === null) return null;
  const deadline = state.startedMs + limit;
  if (nowMs >= deadline) return { kind: 'give-up', cause: 'max-wait' };
  const projected = projectedAdmissionMs(state);
  // Infinity means the current targets cannot get there: a replan may, so that is not the rates' fault.
  if (projected !== null && Number.isFinite(projected) && nowMs + projected > deadline) return { kind: 'give-up', cause: 'too-slow' };
  return null;
}

/** Wake at the first of: a stall deadline, a donor's projected arrival at its target, the need's projected time. */
function nextWait(state: WaitState, nowMs: number): WaitDecision {
  let until = state.config.maxWaitMs === null ? Number.POSITIVE_INFINITY : state.startedMs + state.config.maxWaitMs;
  const rates = donorRates(state);
  for (const donor of state.donors) {
    if (donor.reached) continue;
    until = Math.min(until, donor.lastProgressMs + state.config.stallTimeoutMs);
    const rate = rates.get(donor.domid);
    if (rate !== undefined && rate > 0) {
      const left = donor.totPages - donor.targetPages - state.config.targetTolerancePages;
      until = Math.min(until, nowMs + Math.max(0, (left * 1000) / rate));
    }
  }
  const projected = projectedAdmissionMs(state);
  if (projected !== null) until = Math.min(until, nowMs + projected);
  if (!Number.isFinite(until)) until = nowMs;
  return { kind: 'wait', untilMs: Math.max(Math.ceil(until), nowMs) };
}

function checkTime(nowMs: number, notBefore = Number.NEGATIVE_INFINITY): void {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs) || nowMs < notBefore) {
    throw invalidArgument(OP, 'nowMs', `a finite time >= the last observation (${notBefore})`, nowMs);
  }
}
