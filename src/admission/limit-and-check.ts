/**
 * The pure parts of limit-and-check, as George Dunlap described it in the 2013 claim debate:
 *   1. limit: set every running guest's max_pages to its current size, so nobody can balloon up into the memory
 *      being handed out (on a host with tmem also freeze and cap it — on Xen ≥ 4.13 there is no tmem);
 *   2. check: read free memory once; the pool is free − outstanding claims (nobody can grow any more, so the pool
 *      cannot shrink under us except by the builds we admit);
 *   3. admit requests from that pool in arrival order; when short, balloon donors round-robin;
 *   4. re-check only after the guests being built have finished (their population is what the pool was lent to);
 *   5. remove the limits at the end, on every path.
 * The executor performs the calls; this module computes the limits, the pool, who is admitted, the balloon plan,
 * and what to do next.
 *
 * Admission order is strict FIFO by default: the first request that does not fit stops the round, so memory freed
 * for it cannot be taken by a later, smaller request (Qubes #9431 is that bug in qmemman). 'first-fit' lets later
 * requests that fit go ahead, for throughput, at the risk of starving a big one.
 */
import { invalidArgument } from '../validate.js';
import {
  donorCandidates,
  plannedDonors,
  resolveBalloonPolicy,
  safetyMarginPages,
  type BalloonPlan,
  type BalloonPolicy,
} from './balloon-plan.js';
import { canEverFit, hostCapacity } from './capacity.js';
import { pagesToKiB } from '../units.js';
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
 * The limits to set now: every running domain (not being built, not dying) whose max_pages is above its tot_pages
 * gets max_pages = tot_pages. Domains already limited (in `already`) are skipped, so the first, original value is
 * the one restored.
 */
export function limitsFor(
  state: ObservedState,
  options: LimitOptions = {},
  already: readonly MaxMemLimit[] = [],
): MaxMemLimit[] {
  checkObservedState('limitsFor', state);
  const includeDom0 = options.includeDom0 ?? true;
  const limited = new Set(already.map((l) => l.domid));
  return state.domains
    .filter((d) => !d.building && !d.dying && (includeDom0 || !d.isDom0) && !limited.has(d.domid))
    .filter((d) => d.maxPages > d.totPages)
    .sort((a, b) => a.domid - b.domid)
    .map((d) => ({ domid: d.domid, name: d.name, fromKiB: pagesToKiB(d.maxPages), toKiB: pagesToKiB(d.totPages) }));
}

/** The pool a check admits from: free − outstanding, read once after the limits are in place. */
export function poolAfterLimits(state: ObservedState): number {
  return headroomPages(state.host);
}

export interface CheckOptions {
  order?: 'fifo' | 'first-fit';
  /** Pages each donor gives per round-robin turn (default 16384 = 64 MiB). */
  quantumPages?: number;
  /** Start the rotation after this domid (the last donor of the previous round), so turns rotate across checks. */
  rotateAfterDomid?: number;
  policy?: Partial<BalloonPolicy>;
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
  /** Pool left after the admissions. */
  remainingPoolPages: number;
  /** The round-robin plan for the waiting requests that can be made to fit (null when none waits). */
  balloon: BalloonPlan | null;
}

export const DEFAULT_QUANTUM_PAGES = 16384;

/** One check: admit from the freshly computed pool, and plan round-robin ballooning for what waits. */
export function checkRound(state: ObservedState, pending: readonly PoolRequest[], options: CheckOptions = {}): CheckRound {
  const op = 'checkRound';
  checkObservedState(op, state);
  const order = options.order ?? 'fifo';
  if (order !== 'fifo' && order !== 'first-fit') throw invalidArgument(op, 'options.order', "'fifo' or 'first-fit'", order);
  const quantum = options.quantumPages ?? DEFAULT_QUANTUM_PAGES;
  if (!Number.isSafeInteger(quantum) || quantum < 1) {
    throw invalidArgument(op, 'options.quantumPages', 'an integer >= 1', quantum);
  }
  pending.forEach((r, i) => {
    if (!Number.isSafeInteger(r.needPages) || r.needPages < 0) {
      throw invalidArgument(op, `pending[${i}].needPages`, 'an integer from 0 to 2^53-1', r.needPages);
    }
  });
  // Under limits nobody can grow, so pending growth is not subtracted.
  const policy = resolveBalloonPolicy(op, { ...options.policy, countPendingGrowth: false });
  const capacity = hostCapacity(state, policy);
  const reclaimable = capacity.reclaimablePages;

  const poolPages = poolAfterLimits(state);
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
  if (waiting.length > 0) {
    // Balloon for the longest run of waiting requests (in order) that everything reclaimable can cover.
    let target = 0;
    for (const request of waiting) {
      if (target + request.needPages > remaining + reclaimable) break;
      target += request.needPages;
    }
    balloon = planRoundRobin(state, Math.max(0, target - remaining), remaining, policy, quantum, options.rotateAfterDomid);
  }
  return { poolPages, admitted, waiting, impossible, capacityPages: capacity.totalPages, remainingPoolPages: remaining, balloon };
}

/**
 * Round-robin: donors (in domid order, rotated) give one quantum per turn, each never past its floor, until the
 * shortfall plus the safety margin is covered; the last turn gives only what is still missing. Memory already in
 * flight toward earlier targets is credited first.
 */
export function planRoundRobin(
  state: ObservedState,
  shortfallPages: number,
  usableHeadroomPages: number,
  policy: BalloonPolicy,
  quantumPages: number,
  rotateAfterDomid?: number,
): BalloonPlan {
  const { candidates, excluded } = donorCandidates(state, policy);
  const credit = candidates.reduce((s, c) => s + c.inFlightPages, 0);
  const totalRange = candidates.reduce((s, c) => s + c.rangePages, 0);
  const reclaimablePages = credit + totalRange;
  const base = { method: 'round-robin' as const, gamma: 0, excluded, usableHeadroomPages, reclaimablePages, shortfallPages };
  if (shortfallPages > reclaimablePages) {
    return {
      ...base,
      feasible: false,
      coveredPages: 0,
      marginPages: 0,
      donors: [],
      reason: {
        code: 'not-enough-reclaimable',
        message: `short by ${shortfallPages} pages; at most ${reclaimablePages} can be freed without going below a floor`,
      },
    };
  }
  const missing = Math.max(0, shortfallPages - credit);
  let left = missing > 0 ? Math.min(totalRange, missing + safetyMarginPages(missing, policy)) : 0;

  const pivot = rotateAfterDomid === undefined ? 0 : candidates.findIndex((c) => c.domid > rotateAfterDomid);
  const rotated = pivot <= 0 ? candidates : [...candidates.slice(pivot), ...candidates.slice(0, pivot)];
  const give = new Map<number, number>(rotated.map((c) => [c.domid, 0]));
  let active = rotated.filter((c) => c.rangePages > 0);
  while (left > 0 && active.length > 0) {
    const k = active.length;
    const minLeft = Math.min(...active.map((c) => c.rangePages - give.get(c.domid)!));
    // Whole rounds in one step when every active donor can take them and they do not overshoot.
    const rounds = Math.min(Math.floor(minLeft / quantumPages), Math.floor(left / (k * quantumPages)));
    if (rounds > 0) {
      for (const c of active) give.set(c.domid, give.get(c.domid)! + rounds * quantumPages);
      left -= rounds * k * quantumPages;
    } else {
      for (const c of active) {
        if (left === 0) break;
        const take = Math.min(quantumPages, c.rangePages - give.get(c.domid)!, left);
        give.set(c.domid, give.get(c.domid)! + take);
        left -= take;
      }
    }
    active = active.filter((c) => c.rangePages > give.get(c.domid)!);
  }

  const { donors, coveredPages } = plannedDonors(rotated, credit, (c) => give.get(c.domid)!);
  return { ...base, feasible: true, coveredPages, marginPages: Math.max(0, coveredPages - shortfallPages), donors };
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

/** Fails every waiting request (the executor's wait for memory gave up). */
export function giveUpWaiting(session: LimitAndCheckSession): LimitAndCheckSession {
  return {
    ...session,
    pending: [],
    failed: [...session.failed, ...session.pending.map((r) => ({ id: r.id, reason: 'gave-up' as const }))],
  };
}

export function nextAction(session: LimitAndCheckSession): LimitAndCheckAction {
  if (session.building.length > 0) return { kind: 'wait-for-builds', building: [...session.building] };
  if (session.pending.length > 0) return { kind: 'check' };
  return { kind: 'release-limits', limits: [...session.limits] };
}
