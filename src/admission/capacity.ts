/**
 * "Can this request ever fit?" and "may it take memory now?" — one rule for every strategy
 * (docs/architecture.md#capacity). A request can fit only if its need is at most
 *
 *   max(0, max(0, headroom − promised) + reclaimable + returning − reserve)
 *
 * - headroom: free − outstanding claims (what a claim could stake now; docs/claim-rules.md#rule-10);
 * - reserve: free memory kept for Xen itself (balloon-plan.ts's reserveKiB, default 64 MiB): Xen's own allocations
 *   are refused once claims cover the free memory (docs/claim-rules.md#rule-7), and they need free memory at all
 *   times — squeezed keeps its slush free for the same reason, qmemman 50 MiB;
 * - promised: what the strategy has already promised out of that headroom that Xen does not know about (the model's
 *   reservations still owed and the growth it agreed to; 0 for claim-first and limit-and-check, whose promises are
 *   claims or builds already counted by Xen);
 * - reclaimable: what ballooning could still free — memory in flight toward targets set earlier plus every eligible
 *   donor's range above its floor (balloon-plan.ts's donorCandidates, so the same donors the planner would ask);
 * - returning: the tot_pages of dying domains, which the hypervisor is still handing back (docs/claim-rules.md#rule-9).
 * A request above that is failed at once, asking nobody; anything at or below it may wait.
 *
 * It may take memory NOW (a claim, a build, a growth) when it is at most
 *
 *   headroom − promised − max(0, reserve − arriving)
 *
 * where `arriving` is what donors are already freeing toward targets planned with the reserve in them: the reserve
 * must be free or on its way, so a claim does not wait for the last reserve/rate seconds of ballooning.
 */
import { donorCandidates, pendingGrowthPages, reservePagesOf, resolveBalloonPolicy, type BalloonPolicy } from './balloon-plan.js';
import { checkObservedState, headroomPages, targetPages, type ObservedState } from './state.js';
import { invalidArgument } from '../validate.js';

/** The terms of the rule, in pages, for reports and tests. */
export interface Capacity {
  headroomPages: number;
  /** Kept free for Xen itself (the policy's reserveKiB). */
  reservePages: number;
  promisedPages: number;
  reclaimablePages: number;
  returningPages: number;
  /** The most any request could ever be given: max(0, max(0, headroom − promised) + reclaimable + returning − reserve). */
  totalPages: number;
}

/** Pages of dying domains still to come back to the heap. */
export function returningPages(state: ObservedState): number {
  return state.domains.reduce((sum, d) => (d.dying ? sum + d.totPages : sum), 0);
}

/**
 * The host's capacity for one more request, from one observed state and the ballooning policy that decides who may
 * be asked (floors, dom0's minimum, excluded donors). `promisedPages` ≥ 0.
 */
export function hostCapacity(state: ObservedState, policy: Partial<BalloonPolicy> = {}, promisedPages = 0): Capacity {
  const op = 'hostCapacity';
  checkObservedState(op, state);
  if (!Number.isSafeInteger(promisedPages) || promisedPages < 0) {
    throw invalidArgument(op, 'promisedPages', 'an integer from 0 to 2^53-1', promisedPages);
  }
  const resolved = resolveBalloonPolicy(op, policy);
  const { candidates } = donorCandidates(state, resolved);
  const reclaimable = candidates.reduce((sum, c) => sum + c.givePages, 0);
  const headroom = headroomPages(state.host);
  const returning = returningPages(state);
  const reserve = reservePagesOf(resolved);
  return {
    headroomPages: headroom,
    reservePages: reserve,
    promisedPages,
    reclaimablePages: reclaimable,
    returningPages: returning,
    totalPages: Math.max(0, Math.max(0, headroom - promisedPages) + reclaimable + returning - reserve),
  };
}

/** The rule itself: a request of `needPages` can fit (now or after waiting) only within the capacity. */
export function canEverFit(needPages: number, capacity: Capacity): boolean {
  return needPages <= capacity.totalPages;
}

/**
 * What a request may take now (see the header): headroom − promised − max(0, reserve − arriving), never below 0.
 * `arrivingPages`: memory donors are already freeing toward lower targets (in flight), counted toward the reserve.
 */
export function admissiblePages(headroomPages: number, reservePages: number, arrivingPages = 0, promisedPages = 0): number {
  return Math.max(0, headroomPages - promisedPages - Math.max(0, reservePages - arrivingPages));
}

/** Memory in flight from the eligible donors of a state: what they are already freeing toward lower targets. */
export function arrivingPages(state: ObservedState, policy: Partial<BalloonPolicy> = {}): number {
  const { candidates } = donorCandidates(state, resolveBalloonPolicy('arrivingPages', policy));
  return candidates.reduce((sum, c) => sum + c.inFlightPages, 0);
}

/** What a growth request adds and what it may take (capacity.ts's admitGrowth). */
export interface GrowthAdmission {
  /** Pages the raise would still take from free memory. */
  increasePages: number;
  /** What it may take now (admissiblePages with every other guest's pending growth promised too). */
  admissiblePages: number;
  allowed: boolean;
}

/**
 * A growth request (a running guest's target raised through the toolstack; docs/architecture.md#growth) is an
 * admission too: it may take only what is free, not promised and not the reserve — never memory a pending request
 * is waiting for (`promisedPages`: the strategy's promises; every guest's growth toward its current target, this
 * one's included, counts as promised as well). `newTargetPages` is the raised target in pages, `domid` the guest;
 * the increase is what it adds beyond where the guest is or is already heading.
 */
export function admitGrowth(
  state: ObservedState,
  domid: number,
  newTargetPages: number,
  policy: Partial<BalloonPolicy> = {},
  promisedPages = 0,
): GrowthAdmission {
  const op = 'admitGrowth';
  checkObservedState(op, state);
  const domain = state.domains.find((d) => d.domid === domid);
  if (!domain) throw invalidArgument(op, 'domid', 'a domain of the observed state', domid);
  if (!Number.isSafeInteger(newTargetPages) || newTargetPages < 0) {
    throw invalidArgument(op, 'newTargetPages', 'an integer from 0 to 2^53-1', newTargetPages);
  }
  const resolved = resolveBalloonPolicy(op, policy);
  // Growth already agreed to (this guest's own up to its current target included) is not free any more.
  const agreed = pendingGrowthPages(state);
  const increasePages = Math.max(0, newTargetPages - Math.max(domain.totPages, Math.min(targetPages(domain), domain.maxPages)));
  const admissible = admissiblePages(headroomPages(state.host), reservePagesOf(resolved), arrivingPages(state, resolved), promisedPages + agreed);
  return { increasePages, admissiblePages: admissible, allowed: increasePages <= admissible };
}
