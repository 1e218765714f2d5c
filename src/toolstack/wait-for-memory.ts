/**
 * The one loop that waits for ballooning to free memory: the only interpreter of progress.ts's WaitDecision. Its
 * I/O is injected, so every strategy runs the same loop and says only what its steps mean for it, and a test can
 * drive it with simulated donors (test/toolstack/wait-for-memory.test.ts). See docs/architecture.md#the-wait-loop.
 *
 *   wait               → waitForProgress(untilMs), then look (observe the donors; observeProgress)
 *   mark-uncooperative → markUncooperative (each keeps what it gave), then replan without them
 *   replan             → replan the remainder from a fresh observation at once (a donor reached its target: no
 *                        donor idles while the need is short)
 *   retry-claim        → retry: what a retry means is the strategy's (claim-first: build with a claim;
 *                        limit-and-check: check again; model: its next round)
 *   give-up            → return 'gave-up'; the strategy fails the request(s) and gives the donors back their memory
 *
 * Any hook may answer LEAVE instead of a step: the strategy has something of its own to do first (a newcomer to
 * check, builds to wait for); the loop returns 'left' with the wait as it stands, and the strategy may come back.
 */
import { observeProgress, type GiveUpCause, type WaitState, type WaitStep } from '../admission/progress.js';
import { headroomPages, type ObservedState } from '../admission/state.js';
import type { StrategyContext } from './context.js';
import { donorProgress } from './donors.js';
import { observe } from './observe.js';

/** A hook's answer: the strategy leaves the loop to do something of its own first. */
export const LEAVE = Symbol('leave');
/** The type of LEAVE. */
export type Leave = typeof LEAVE;

/** What a retry achieved: done (with the strategy's value), or a new step to carry on with. */
export type RetryResult<T> = { kind: 'done'; value: T } | { kind: 'step'; step: WaitStep };

/** What a strategy's steps mean for it: the loop's injected I/O. `T` is what a successful retry yields. */
export interface WaitForMemoryIo<T> {
  /** Nothing to do before `untilMs` (the next stall or budget deadline): sleep until then or one poll, whichever is sooner. */
  waitForProgress(untilMs: number): Promise<void | Leave>;
  /** Observe the donors and feed the observation to the wait (default: lookAtDonors). */
  look(wait: WaitState): Promise<WaitStep | Leave>;
  /** Observe, plan again (donors marked uncooperative excluded), set the new targets: the next step. */
  replan(wait: WaitState): Promise<WaitStep | Leave>;
  /** These donors made no progress for the stall timeout: never ask them again; they keep what they gave. */
  markUncooperative(wait: WaitState, domids: readonly number[]): Promise<void>;
  /** The headroom covers the need: try it. */
  retry(wait: WaitState): Promise<RetryResult<T> | Leave>;
}

/** How the loop ended: done (the retry's value), gave up (why, and the wait for the report), or left. */
export type WaitOutcome<T> =
  | { kind: 'done'; value: T }
  | { kind: 'gave-up'; cause: GiveUpCause; wait: WaitState }
  | { kind: 'left'; wait: WaitState };

/** Runs the wait from its first step (startWaiting's or applyPlan's) until it is done, gives up or is left. */
export async function waitForMemory<T>(io: WaitForMemoryIo<T>, first: WaitStep): Promise<WaitOutcome<T>> {
  let step = first;
  for (;;) {
    const { state, decision } = step;
    let next: WaitStep | Leave;
    switch (decision.kind) {
      case 'give-up':
        return { kind: 'gave-up', cause: decision.cause, wait: state };
      case 'retry-claim': {
        const retried = await io.retry(state);
        if (retried === LEAVE) return { kind: 'left', wait: state };
        if (retried.kind === 'done') return retried;
        next = retried.step;
        break;
      }
      case 'mark-uncooperative':
        await io.markUncooperative(state, decision.domids);
        next = await io.replan(state);
        break;
      case 'replan':
        next = await io.replan(state);
        break;
      case 'wait':
        if ((await io.waitForProgress(decision.untilMs)) === LEAVE) return { kind: 'left', wait: state };
        next = await io.look(state);
        break;
    }
    if (next === LEAVE) return { kind: 'left', wait: state };
    step = next;
  }
}

/**
 * The usual look: one observation of the host, each watched donor's progress published for `request`, then
 * observeProgress with every donor's tot_pages and the headroom less what the strategy has promised out of it
 * (`promised`, from the same observation; default nothing).
 */
export async function lookAtDonors(
  ctx: StrategyContext,
  request: string | null,
  wait: WaitState,
  promised: (state: ObservedState) => number = () => 0,
): Promise<WaitStep> {
  const observation = await observe(ctx);
  donorProgress(ctx, request, wait.asked, observation.domains);
  return observeProgress(wait, {
    nowMs: ctx.clock.now(),
    headroomPages: headroomPages(observation.state.host) - promised(observation.state),
    donors: observation.domains.map((d) => ({ domid: d.domid, totPages: d.totPages })),
  });
}
