/**
 * "Can this request ever fit?" — one rule for every strategy (docs/architecture.md#capacity). A request can fit
 * only if its need is at most
 *
 *   max(0, headroom − promised) + reclaimable + returning
 *
 * - headroom: free − outstanding claims (what a claim could stake now; docs/claim-rules.md#rule-10);
 * - promised: what the strategy has already promised out of that headroom that Xen does not know about (the model's
 *   reservations still owed and the growth it agreed to; 0 for claim-first and limit-and-check, whose promises are
 *   claims or builds already counted by Xen);
 * - reclaimable: what ballooning could still free — memory in flight toward targets set earlier plus every eligible
 *   donor's range above its floor (balloon-plan.ts's donorCandidates, so the same donors the planner would ask);
 * - returning: the tot_pages of dying domains, which the hypervisor is still handing back (docs/claim-rules.md#rule-9).
 * A request above that is failed at once, asking nobody; anything at or below it may wait.
 */
import { donorCandidates, resolveBalloonPolicy, type BalloonPolicy } from './balloon-plan.js';
import { checkObservedState, headroomPages, type ObservedState } from './state.js';
import { invalidArgument } from '../validate.js';

/** The terms of the rule, in pages, for reports and tests. */
export interface Capacity {
  headroomPages: number;
  promisedPages: number;
  reclaimablePages: number;
  returningPages: number;
  /** The most any request could ever be given: max(0, headroom − promised) + reclaimable + returning. */
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
  const { candidates } = donorCandidates(state, resolveBalloonPolicy(op, policy));
  const reclaimable = candidates.reduce((sum, c) => sum + c.inFlightPages + c.rangePages, 0);
  const headroom = headroomPages(state.host);
  const returning = returningPages(state);
  return {
    headroomPages: headroom,
    promisedPages,
    reclaimablePages: reclaimable,
    returningPages: returning,
    totalPages: Math.max(0, headroom - promisedPages) + reclaimable + returning,
  };
}

/** The rule itself: a request of `needPages` can fit (now or after waiting) only within the capacity. */
export function canEverFit(needPages: number, capacity: Capacity): boolean {
  return needPages <= capacity.totalPages;
}
