/**
 * The pure parts of limit-and-check, as George Dunlap described it in the 2013 claim debate:
 *   1. limit: set every running guest's max_pages to its current size, so nobody can balloon up into the memory
 *      being handed out (on a host with tmem also freeze and cap it — on Xen ≥ 4.13 there is no tmem);
 *   2. check: read free memory once; the pool is free − outstanding claims (nobody can grow any more, so the pool
 *      cannot shrink under us except by the builds we admit);
 *   3. admit requests from that pool in arrival order; when short, balloon donors with the one planner every
 *      strategy uses (balloon-plan.ts), so a comparison of strategies measures admission rules, not planners;
 *   4. re-check only after the guests being built have finished (their population is what the pool was lent to);
 *   5. remove the limits at the end, on every path.
 * The executor performs the calls; this module computes the limits, the pool, who is admitted, the balloon plan,
 * and what to do next. The pool keeps the reserve for Xen (capacity.ts): what may be admitted from it is
 * admissiblePages(free − outstanding, reserve, memory already on its way from donors).
 *
 * Admission order is strict FIFO by default: the first request that does not fit stops the round, so memory freed
 * for it cannot be taken by a later, smaller request (Qubes #9431 is that bug in qmemman). 'first-fit' lets later
 * requests that fit go ahead, for throughput, at the risk of starving a big one.
 */
import { invalidArgument } from '../validate.js';
import { planBalloon, resolveBalloonPolicy, type BalloonPlan, type BalloonPolicy } from './balloon-plan.js';
import { admissiblePages, arrivingPages, canEverFit, hostCapacity } from './capacity.js';
import { kibToPagesCeil, pagesToKiB } from '../units.js';
import { checkObservedState, headroomPages, type ObservedState } from './state.js';

export interface PoolRequest {
  /** The guest's name (unique in a batch). */
  id: string;
  needPages: number;
}

/** One max_pages limit: what it was (restored at the end) and what it is set to (the current size). */
export interface MaxMemLimit {
  domid: number;
  name: string;
  fromKiB: number;
  toKiB: number;
}

export interface LimitOptions {
  /** Limit dom0 too (default true: dom0 ballooning up would take the pool just the same). */
  includeDom0?: boolean;
}

/**
 * The limits to set now: every running domain (not being built, not dying, with a balloon driver) whose max_pages
 * is above its tot_pages gets max_pages = tot_pages. Domains already limited (in `already`) are skipped, so the
 * first, original value is the one restored. A guest without a balloon driver cannot grow by ballooning and is
 * never limited (squeezed, 2026: limiting it can break it).
 */
export function limitsFor(
  state: ObservedState,
  options: LimitOptions = {},
  already: readonly { domid: number }[] = [],
): MaxMemLimit[] {
  checkObservedState('limitsFor', state);
  const includeDom0 = options.includeDom0 ?? true;
  const limited = new Set(already.map((l) => l.domid));
  return state.domains
    .filter((d) => !d.building && !d.dying && d.canBalloon !== false && (includeDom0 || !d.isDom0) && !limited.has(d.domid))
    .filter((d) => d.maxPages > d.totPages)
    .sort((a, b) => a.domid - b.domid)
    .map((d) => ({ domid: d.domid, name: d.name, fromKiB: pagesToKiB(d.maxPages), toKiB: pagesToKiB(d.totPages) }));
}

/**
 * The pool a check admits from, read once after the limits are in place: free − outstanding, less the reserve for
 * Xen unless donors are already freeing it (capacity.ts's admissiblePages).
 */
export function poolAfterLimits(state: ObservedState, policy: Partial<BalloonPolicy> = {}): number {
  const resolved = resolveBalloonPolicy('poolAfterLimits', policy);
  return admissiblePages(headroomPages(state.host), kibToPagesCeil(resolved.reserveKiB), arrivingPages(state, resolved));
}

export interface CheckOptions {
  order?: 'fifo' | 'first-fit';
  policy?: Partial<BalloonPolicy>;
  /** Balloon rates observed so far (pages/s by domid), for the planner's weights. */
  rates?: ReadonlyMap<number, number>;
}

export interface CheckRound {
  poolPages: number;
  /** Admitted now, in arrival order; each is lent its need from the pool. */
  admitted: PoolRequest[];
  /** Still waiting, in arrival order. */
  waiting: PoolRequest[];
  /** Requests that can never fit (capacity.ts: the pool, everything reclaimable, pages returning): fail them now. */
  impossible: PoolRequest[];
  /** The most any request could be given from this check on (capacity.ts), for newcomers admitted between checks. */
  capacityPages: number;
  /** The waiting run the balloon plan is for: its total need (0 when none waits). */
  balloonForPages: number;
  /** Pool left after the admissions. */
  remainingPoolPages: number;
  /** The round-robin plan for the waiting requests that can be made to fit (null when none waits). */
  balloon: BalloonPlan | null;
}

/** One check: admit from the freshly computed pool, and plan ballooning (balloon-plan.ts) for what waits. */
export function checkRound(state: ObservedState, pending: readonly PoolRequest[], options: CheckOptions = {}): CheckRound {
  const op = 'checkRound';
  checkObservedState(op, state);
  const order = options.order ?? 'fifo';
  if (order !== 'fifo' && order !== 'first-fit') throw invalidArgument(op, 'options.order', "'fifo' or 'first-fit'", order);
  pending.forEach((r, i) => {
    if (!Number.isSafeInteger(r.needPages) || r.needPages < 0) {
      throw invalidArgument(op, `pending[${i}].needPages`, 'an integer from 0 to 2^53-1', r.needPages);
    }
  });
  // Under limits nobody can grow, so pending growth is not subtracted.
  const policy = resolveBalloonPolicy(op, { ...options.policy, countPendingGrowth: false });
  const capacity = hostCapacity(state, policy);
  const reclaimable = capacity.reclaimablePages;

  const poolPages = poolAfterLimits(state, policy);
  let remaining = poolPages;
  const admitted: PoolRequest[] = [];
  const waiting: PoolRequest[] = [];
  const impossible: PoolRequest[] = [];
  let blocked = false;
  for (const request of pending) {
    if (!canEverFit(request.needPages, capacity)) {
      impossible.push(request);
      continue;
    }
    if (!blocked && request.needPages <= remaining) {
      admitted.push(request);
      remaining -= request.needPages;
      continue;
    }
    waiting.push(request);
    if (order === 'fifo') blocked = true;
  }

  let balloon: BalloonPlan | null = null;
  let target = 0;
  if (waiting.length > 0) {
    // Balloon for the longest run of waiting requests (in order) that everything reclaimable can cover.
    for (const request of waiting) {
      if (target + request.needPages > remaining + reclaimable) break;
      target += request.needPages;
    }
    // What this check admitted is promised out of the headroom: the builds have not populated it yet.
    balloon = planBalloon(state, {
      needPages: target,
      promisedPages: poolPages - remaining,
      policy,
      ...(options.rates ? { rates: options.rates } : {}),
    });
  }
  return {
    poolPages, admitted, waiting, impossible, capacityPages: capacity.totalPages, balloonForPages: target, remainingPoolPages: remaining, balloon,
  };
}

/** What a limit-and-check batch does next. */
export type LimitAndCheckAction =
  /** Nothing is being built and requests wait: observe and call checkRound (after any balloon progress). */
  | { kind: 'check' }
  /** Builds admitted from the last pool are still running: the next check waits for all of them. */
  | { kind: 'wait-for-builds'; building: string[] }
  /** Nothing waits and nothing builds: remove every limit (also on every failure path). */
  | { kind: 'release-limits'; limits: MaxMemLimit[] };

export interface LimitAndCheckSession {
  limits: readonly MaxMemLimit[];
  pending: readonly PoolRequest[];
  building: readonly string[];
  started: readonly string[];
  failed: readonly { id: string; reason: 'impossible' | 'build-failed' | 'gave-up' }[];
}

export function startSession(requests: readonly PoolRequest[]): LimitAndCheckSession {
  const ids = new Set<string>();
  requests.forEach((r, i) => {
    if (ids.has(r.id)) throw invalidArgument('startSession', `requests[${i}].id`, 'unique in the batch', r.id);
    ids.add(r.id);
  });
  return { limits: [], pending: [...requests], building: [], started: [], failed: [] };
}

/** Records limits the executor has set (their original values are what release restores). */
export function addLimits(session: LimitAndCheckSession, limits: readonly MaxMemLimit[]): LimitAndCheckSession {
  const known = new Set(session.limits.map((l) => l.domid));
  return { ...session, limits: [...session.limits, ...limits.filter((l) => !known.has(l.domid))] };
}

/** A request arriving while the batch runs joins the queue; it is considered at the next check. */
export function enqueue(session: LimitAndCheckSession, request: PoolRequest): LimitAndCheckSession {
  const known = [...session.pending.map((r) => r.id), ...session.building, ...session.started, ...session.failed.map((f) => f.id)];
  if (known.includes(request.id)) {
    throw invalidArgument('enqueue', 'request.id', 'unique in the batch', request.id);
  }
  return { ...session, pending: [...session.pending, request] };
}

/** Applies a check's outcome: admitted requests start building, impossible ones fail. */
export function applyRound(session: LimitAndCheckSession, round: CheckRound): LimitAndCheckSession {
  if (session.building.length > 0) {
    throw invalidArgument('applyRound', 'session.building', 'empty (re-check only after the builds finish)', session.building.length);
  }
  const leaving = new Set([...round.admitted, ...round.impossible].map((r) => r.id));
  return {
    ...session,
    pending: session.pending.filter((r) => !leaving.has(r.id)),
    building: round.admitted.map((r) => r.id),
    failed: [...session.failed, ...round.impossible.map((r) => ({ id: r.id, reason: 'impossible' as const }))],
  };
}

export function buildFinished(session: LimitAndCheckSession, id: string, ok: boolean): LimitAndCheckSession {
  if (!session.building.includes(id)) throw invalidArgument('buildFinished', 'id', 'a request being built', id);
  return {
    ...session,
    building: session.building.filter((b) => b !== id),
    started: ok ? [...session.started, id] : session.started,
    failed: ok ? session.failed : [...session.failed, { id, reason: 'build-failed' }],
  };
}

/** Fails the waiting requests `ids` (default: every one): the executor's wait for memory gave up on them. */
export function giveUpWaiting(session: LimitAndCheckSession, ids?: readonly string[]): LimitAndCheckSession {
  const leaving = (r: PoolRequest): boolean => ids === undefined || ids.includes(r.id);
  return {
    ...session,
    pending: session.pending.filter((r) => !leaving(r)),
    failed: [...session.failed, ...session.pending.filter(leaving).map((r) => ({ id: r.id, reason: 'gave-up' as const }))],
  };
}

export function nextAction(session: LimitAndCheckSession): LimitAndCheckAction {
  if (session.building.length > 0) return { kind: 'wait-for-builds', building: [...session.building] };
  if (session.pending.length > 0) return { kind: 'check' };
  return { kind: 'release-limits', limits: [...session.limits] };
}
