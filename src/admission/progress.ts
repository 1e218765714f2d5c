/**
 * The waiting policy of the ballooning fallback, as a pure state machine: the executor sets the planned targets,
 * then feeds observations (time, each donor's tot_pages, host headroom) and acts on the decision it gets back.
 *
 * Budgeted by wall time and by progress, never by retry counts (docs/claim-rules.md#lesson-1):
 * - progress is judged per donor on its tot_pages reaching a new low, not on host free memory, which may briefly
 *   fall while ballooning (what broke xl's 3-retry loop before 4.17) and which other guests move too;
 * - a donor that has not reached its target and has made no progress for `stallTimeoutMs` is marked uncooperative
 *   (squeezed: 5 s) and the executor replans without it — the same rule as libxl_wait_for_memory_target, where time
 *   without change spends the budget and progress keeps the wait alive, but per donor, so one stuck guest does not
 *   make the others wait;
 * - a donor that oscillates (docs/claim-rules.md#lesson-6) only counts as progressing when it goes lower than it has ever been;
 * - the whole wait has a hard wall-time budget (`budgetMs`), replans included.
 */
import { kibToPagesCeil } from '../units.js';
import { invalidArgument } from '../validate.js';
import type { BalloonPlan } from './balloon-plan.js';

/** How long a wait for memory may take and when a donor counts as stuck, in ms (squeezed's 5 s stall timeout). */
export interface WaitConfig {
  /** A donor without progress for this long is uncooperative (default 5000 ms, squeezed's 5 s). */
  stallTimeoutMs: number;
  /** Wall-time budget of the whole wait, replans included (default 60 000 ms). */
  budgetMs: number;
  /** A donor within this many pages of its target has reached it (default 256 = 1 MiB; drivers stop short). */
  targetTolerancePages: number;
}

export const DEFAULT_WAIT_CONFIG: Readonly<WaitConfig> = Object.freeze({
  stallTimeoutMs: 5000,
  budgetMs: 60_000,
  targetTolerancePages: 256,
});

/** A donor the current plan is waiting on. */
export interface WatchedDonor {
  domid: number;
  name: string;
  targetPages: number;
  /** The lowest tot_pages seen since it was first asked. */
  lowestTotPages: number;
  lastProgressMs: number;
}

/** Every donor ever asked during this wait: what to restore on failure, and what it gave. */
export interface AskedDonor {
  domid: number;
  name: string;
  /** Its target before the first plan that asked it: restored if the creation fails. */
  originalKiB: number;
  /** The latest target planned for it. */
  lastTargetKiB: number;
  firstTotPages: number;
  lowestTotPages: number;
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
  startedMs: number;
  donors: readonly WatchedDonor[];
  asked: readonly AskedDonor[];
  uncooperative: readonly UncooperativeDonor[];
  /** Donors whose domain disappeared while we waited (destroyed: their memory came back). */
  gone: readonly number[];
  lastHeadroomPages: number;
  lastObservedMs: number;
  plans: number;
}

export interface DonorObservation {
  domid: number;
  totPages: number;
}

export interface WaitObservation {
  nowMs: number;
  headroomPages: number;
  /** The current tot_pages of (at least) every watched donor; a watched donor missing here is gone. */
  donors: readonly DonorObservation[];
}

export type GiveUpCause = 'budget-exhausted' | 'nothing-left-to-ask';

export type WaitDecision =
  /** Nothing to do: observe again, no later than `untilMs` (the next stall or budget deadline). */
  | { kind: 'wait'; untilMs: number }
  /** The headroom now covers the need: retry the claim. */
  | { kind: 'retry-claim' }
  /** These donors made no progress for stallTimeoutMs: replan without them (excludedDomids = uncooperativeDomids). */
  | { kind: 'mark-uncooperative'; domids: number[] }
  /** Every watched donor reached its target and the headroom is still short: replan from a fresh observation. */
  | { kind: 'replan' }
  | { kind: 'give-up'; cause: GiveUpCause };

export interface WaitStep {
  state: WaitState;
  decision: WaitDecision;
}

const OP = 'waitForMemory';

/**
 * The waiting policy with defaults filled in; every field a finite number >= 0 (stallTimeoutMs > 0), in ms or pages.
 * EINVAL naming the field (`${name}.budgetMs`, in operation `op`) for an unknown field or a bad value.
 */
export function resolveWaitConfig(partial: Partial<WaitConfig> = {}, op = OP, name = 'config'): WaitConfig {
  const config: WaitConfig = { ...DEFAULT_WAIT_CONFIG };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_WAIT_CONFIG, key)) {
      throw invalidArgument(op, `${name}.${key}`, `a known setting (${Object.keys(DEFAULT_WAIT_CONFIG).join(', ')})`, key);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw invalidArgument(op, `${name}.${key}`, 'a finite number >= 0', value);
    }
    config[key as keyof WaitConfig] = value;
  }
  if (config.stallTimeoutMs === 0) throw invalidArgument(op, `${name}.stallTimeoutMs`, 'a number > 0', 0);
  return config;
}

/** The domids a replan must exclude: every donor marked uncooperative during this wait. */
export function uncooperativeDomids(state: WaitState): number[] {
  return state.uncooperative.map((d) => d.domid);
}

export interface StartWaiting {
  /** Pages the claim needs (its whole need, not the shortfall). */
  needPages: number;
  /** The first plan, made from the observation that followed the failed claim. */
  plan: BalloonPlan;
  nowMs: number;
  /** The headroom in that observation. */
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
    startedMs: nowMs,
    donors: [],
    asked: [],
    uncooperative: [],
    gone: [],
    lastHeadroomPages: headroomPages,
    lastObservedMs: nowMs,
    plans: 0,
  };
  return applyPlan(state, plan, nowMs);
}

/**
 * Adopts a (re)plan made from a fresh observation. Its donors are watched from now; a donor kept from the previous
 * plan keeps its progress history. Infeasible → give up; nothing to free → retry the claim.
 */
export function applyPlan(state: WaitState, plan: BalloonPlan, nowMs: number): WaitStep {
  checkTime(nowMs, state.lastObservedMs);
  const marked = new Set(uncooperativeDomids(state));
  plan.donors.forEach((planned, i) => {
    if (marked.has(planned.domid)) {
      throw invalidArgument(OP, `plan.donors[${i}].domid`, 'not a donor marked uncooperative (replan with excludedDomids)', planned.domid);
    }
  });
  const previous = new Map(state.donors.map((d) => [d.domid, d]));
  const asked = new Map(state.asked.map((d) => [d.domid, d]));
  const donors: WatchedDonor[] = [];
  for (const planned of plan.donors) {
    const targetPagesOf = kibToPagesCeil(planned.toKiB);
    const totPages = targetPagesOf + planned.expectedFreePages;
    const before = previous.get(planned.domid);
    donors.push({
      domid: planned.domid,
      name: planned.name,
      targetPages: targetPagesOf,
      lowestTotPages: before ? Math.min(before.lowestTotPages, totPages) : totPages,
      // A newly asked donor gets a full stall period; a kept one with a new ask gets one too.
      lastProgressMs: before && planned.askedPages === 0 ? before.lastProgressMs : nowMs,
    });
    const known = asked.get(planned.domid);
    asked.set(planned.domid, {
      domid: planned.domid,
      name: planned.name,
      originalKiB: known ? known.originalKiB : planned.fromKiB,
      lastTargetKiB: planned.toKiB,
      firstTotPages: known ? known.firstTotPages : totPages,
      lowestTotPages: known ? Math.min(known.lowestTotPages, totPages) : totPages,
    });
  }
  const next: WaitState = {
    ...state,
    donors,
    asked: [...asked.values()],
    plans: state.plans + 1,
    lastObservedMs: nowMs,
  };
  if (!plan.feasible) return { state: { ...next, donors: [] }, decision: { kind: 'give-up', cause: 'nothing-left-to-ask' } };
  if (plan.shortfallPages === 0) return { state: next, decision: { kind: 'retry-claim' } };
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
  const tolerance = state.config.targetTolerancePages;

  const donors: WatchedDonor[] = [];
  const gone: number[] = [...state.gone];
  const stalled: UncooperativeDonor[] = [];
  for (const donor of state.donors) {
    const totPages = seen.get(donor.domid);
    if (totPages === undefined) {
      gone.push(donor.domid);
      continue;
    }
    const progressed = totPages < donor.lowestTotPages;
    const updated: WatchedDonor = progressed
      ? { ...donor, lowestTotPages: totPages, lastProgressMs: nowMs }
      : donor;
    const reached = totPages <= donor.targetPages + tolerance;
    if (!reached && nowMs - updated.lastProgressMs >= state.config.stallTimeoutMs) {
      stalled.push({ domid: donor.domid, name: donor.name, markedAtMs: nowMs, totPages, targetPages: donor.targetPages });
      continue;
    }
    donors.push(updated);
  }
  const asked = state.asked.map((a) => {
    const totPages = seen.get(a.domid);
    return totPages !== undefined && totPages < a.lowestTotPages ? { ...a, lowestTotPages: totPages } : a;
  });
  const reachedAll = donors.every((d) => (seen.get(d.domid) ?? 0) <= d.targetPages + tolerance);
  const next: WaitState = {
    ...state,
    donors,
    asked,
    gone,
    uncooperative: [...state.uncooperative, ...stalled],
    lastHeadroomPages: observation.headroomPages,
    lastObservedMs: nowMs,
  };

  if (observation.headroomPages >= state.needPages) return { state: next, decision: { kind: 'retry-claim' } };
  if (nowMs - state.startedMs >= state.config.budgetMs) {
    return { state: next, decision: { kind: 'give-up', cause: 'budget-exhausted' } };
  }
  if (stalled.length > 0) {
    return { state: next, decision: { kind: 'mark-uncooperative', domids: stalled.map((d) => d.domid) } };
  }
  if (reachedAll) return { state: next, decision: { kind: 'replan' } };
  return { state: next, decision: nextWait(next, nowMs) };
}

/**
 * A retry was refused (the memory went elsewhere, or the hypervisor disagreed): past the wall-time budget give up,
 * otherwise replan after a pause. The state is unchanged (nothing was observed).
 */
export function afterRefusedRetry(state: WaitState, nowMs: number): WaitStep {
  checkTime(nowMs, state.lastObservedMs);
  if (nowMs - state.startedMs >= state.config.budgetMs) {
    return { state, decision: { kind: 'give-up', cause: 'budget-exhausted' } };
  }
  return { state, decision: { kind: 'replan' } };
}

/** How many pages the asked donors have given so far (from where each was first asked to its lowest since). */
export function freedPages(state: WaitState): number {
  return state.asked.reduce((sum, d) => sum + Math.max(0, d.firstTotPages - d.lowestTotPages), 0);
}

function nextWait(state: WaitState, nowMs: number): WaitDecision {
  let until = state.startedMs + state.config.budgetMs;
  for (const donor of state.donors) until = Math.min(until, donor.lastProgressMs + state.config.stallTimeoutMs);
  return { kind: 'wait', untilMs: Math.max(until, nowMs) };
}

function checkTime(nowMs: number, notBefore = Number.NEGATIVE_INFINITY): void {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs) || nowMs < notBefore) {
    throw invalidArgument(OP, 'nowMs', `a finite time >= the last observation (${notBefore})`, nowMs);
  }
}
