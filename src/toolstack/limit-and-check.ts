/**
 * limit-and-check, as George Dunlap described it in the 2013 claim debate (docs/architecture.md#limit-and-check).
 * One loop per batch (a batch lasts while requests wait or build):
 *   check: set max_pages of every running guest to its current size, observe, admit from that pool in arrival order
 *   (checkRound; the pool keeps the reserve for Xen), build the admitted guests without a claim, balloon with the one
 *   planner for what waits (donors' max_pages follow their lowered targets, so none grows back into what it gave);
 *   then re-check only after every guest being built has finished — or, when nothing is building, once the wait
 *   loop says the pool would cover what waits or a donor reached its target (a retry or a replan, for this
 *   strategy, is the next check);
 *   end: remove every limit, on every path (finally), failures and exceptions included.
 * A request arriving while guests are built is admitted from what is left of the last check's pool when it fits;
 * otherwise it waits for the re-check after those builds (which is what makes this strategy slow in case B).
 * On a host with tmem (before Xen 4.13) the batch also freezes tmem and caps it at its size, and thaws it at the end;
 * on Xen ≥ 4.13 there is no tmem (features.tmem is false) and nothing is called.
 * Donors ballooned for requests that end up admitted keep their targets. A wait that gives up fails only the request
 * at the head of the line (it cannot go on); the others keep what the donors freed and are checked again. A look
 * that fails even after its retries fails the head request only, too. What no started guest used is given back at
 * the end of the batch.
 */
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import {
  addLimits, applyRound, buildFinished, checkRound, enqueue, giveUpWaiting, limitsFor, nextAction, startSession,
  type LimitAndCheckSession,
} from '../admission/limit-and-check.js';
import { applyPlan, donorRates, startWaiting, type GiveUpCause, type WaitState, type WaitStep } from '../admission/progress.js';
import { headroomPages, type ObservedState } from '../admission/state.js';
import { BuildQueue, type QueuedRequest } from './build-queue.js';
import { pause, planPolicy, type StrategyContext } from './context.js';
import { carryOutPlan, cleanup, markUncooperative, releaseUnneededAsks, restoreDonors } from './donors.js';
import { observe } from './observe.js';
import { impossibleRequestError } from './requests.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from './types.js';
import { LEAVE, lookAtDonors, waitForMemory, type WaitForMemoryIo } from './wait-for-memory.js';

/** Holders of this strategy's max_pages limits (max-pages-limits.ts): the batch's, and the donors' for the queue. */
const BATCH = 'batch';
const QUEUE = 'queue';

export class LimitAndCheckStrategy implements AdmissionStrategy {
  readonly name = 'limit-and-check' as const;
  private session: LimitAndCheckSession | undefined;
  private readonly queue: BuildQueue;
  /** What is left of the pool the last check computed. */
  private poolLeftPages = 0;
  /** tmem frozen and capped by this batch (pre-4.13 hosts only). */
  private tmemFrozen = false;
  /** The last check's observation and the most any later check could find (capacity.ts). */
  private lastCheck: { state: ObservedState; capacityPages: number } | undefined;
  /** The wait as its last look left it (fresh), when it left for the next check (a retry or a replan). */
  private leftWith: WaitState | undefined;

  constructor(private readonly ctx: StrategyContext) {
    this.queue = new BuildQueue(ctx, 'pool', {
      built: (entry) => {
        this.session = this.session && buildFinished(this.session, entry.request.name, true);
      },
      failed: (entry) => {
        this.session = this.session && buildFinished(this.session, entry.request.name, false);
        return false;
      },
    });
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    return this.queue.admit(request, (entry) => {
      const pool = { id: request.name, needPages: entry.needPages };
      if (this.session === undefined) {
        this.session = startSession([pool]);
        this.queue.startLoop(() => this.runBatch());
      } else {
        this.session = enqueue(this.session, pool);
        this.queue.changed.notify();
      }
    });
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  promisedPages(state: ObservedState): number {
    return this.queue.promisedPages(state, this.session?.pending.map((p) => p.id) ?? [], this.session?.building ?? []);
  }

  private settle(id: string, outcome: { domid: number } | { error: unknown }): void {
    const entry = this.queue.entry(id);
    if (entry) this.queue.settle(entry, outcome);
  }

  private startBuild(id: string): void {
    this.queue.startBuild(this.queue.entry(id) as QueuedRequest);
  }

  /** Pre-4.13 hosts only: tmem must not grow into the pool either — freeze it and cap it at its current size. */
  private async freezeTmem(): Promise<void> {
    this.tmemFrozen = true; // set first: a failure below still thaws at the end
    await this.ctx.mutations.freezeTmem();
    await this.ctx.mutations.capTmem({ pages: await this.ctx.backend.tmemFreeablePages() });
  }

  /**
   * While builds run, a newcomer is admitted from what is left of the pool the last check computed (no re-check:
   * memory freed since is not in it), in arrival order; the first that does not fit waits for the re-check.
   */
  private admitFromPool(): void {
    // More than any re-check could find (the last check's capacity): fail now.
    const last = this.lastCheck;
    if (last !== undefined) {
      for (const pending of this.session!.pending.filter((p) => p.needPages > last.capacityPages)) {
        this.session = { ...this.session!, pending: this.session!.pending.filter((p) => p.id !== pending.id) };
        this.settle(pending.id, { error: impossibleRequestError(this.ctx, pending.id, pending.needPages, last.state) });
      }
    }
    const session = this.session!;
    const admitted: string[] = [];
    for (const pending of session.pending) {
      if (pending.needPages > this.poolLeftPages) break;
      this.poolLeftPages -= pending.needPages;
      admitted.push(pending.id);
    }
    if (admitted.length === 0) return;
    this.session = {
      ...session,
      pending: session.pending.filter((p) => !admitted.includes(p.id)),
      building: [...session.building, ...admitted],
    };
    for (const id of admitted) this.startBuild(id);
  }

  /** The request at the head of the line cannot go on: it fails (with the give-up report when there is a wait). */
  private failHead(cause: GiveUpCause | null, wait: WaitState | undefined, lastPlan: BalloonPlan | undefined, error?: unknown): void {
    const head = this.session!.pending[0];
    if (head === undefined) return;
    const reason = wait && cause
      ? new AdmissionError(buildGiveUpReport({
          request: head.id, cause, wait: { ...wait, needPages: head.needPages }, nowMs: this.ctx.clock.now(), lastPlan,
        }))
      : error;
    this.session = giveUpWaiting(this.session!, [head.id]);
    this.settle(head.id, { error: reason });
  }

  /** The wait loop's I/O for this batch: every retry, replan or newcomer leaves it for the next check. */
  private waitIo(): WaitForMemoryIo<never> {
    const ctx = this.ctx;
    return {
      waitForProgress: async (untilMs) => {
        const arrived = this.session!.pending.length;
        await Promise.race([pause(ctx, untilMs), this.queue.changed.wait()]);
        // A newcomer is checked at once (nothing is building, so a re-check is allowed).
        if (this.session!.pending.length > arrived) return LEAVE;
      },
      look: (wait) => lookAtDonors(ctx, null, wait),
      replan: async (wait) => {
        this.leftWith = wait;
        return LEAVE;
      },
      markUncooperative: (wait, domids) => markUncooperative(ctx, this.queue.ledger, null, QUEUE, wait, domids),
      retry: async (wait) => {
        this.leftWith = wait;
        return LEAVE;
      },
    };
  }

  /** One batch: checks until nothing waits or builds; the limits are removed however it ends. */
  private async runBatch(): Promise<void> {
    const ctx = this.ctx;
    let wait: WaitState | undefined;
    let lastPlan: BalloonPlan | undefined;
    const ledger = this.queue.ledger;
    const io = this.waitIo();
    try {
      // Requests arriving at the same instant join the first check.
      await ctx.clock.sleep(0);
      for (;;) {
        const action = nextAction(this.session!);
        if (action.kind === 'release-limits') break;
        if (action.kind === 'wait-for-builds') {
          this.admitFromPool();
          await this.queue.changed.wait();
          continue;
        }

        // Check: limit, read free memory once, admit from that pool.
        let round;
        let observation;
        try {
          if (ctx.backend.features.tmem && !this.tmemFrozen) await this.freezeTmem();
          observation = await observe(ctx);
          const limits = limitsFor(observation.state, {}, ctx.limits.heldBy(BATCH).map((domid) => ({ domid })));
          if (limits.length > 0) {
            this.session = addLimits(this.session!, limits);
            await ctx.limits.limit(BATCH, 'batch', null, limits.map((l) => ({ domid: l.domid, name: l.name, maxKiB: l.fromKiB, kib: l.toKiB })));
            observation = await observe(ctx);
          }
          round = checkRound(observation.state, this.session!.pending, {
            policy: planPolicy(ctx),
            ...(wait ? { rates: donorRates(wait) } : {}),
          });
        } catch (error) {
          // Looked again and still failed, or a limit could not be set: the head of the line cannot go on.
          this.failHead(null, undefined, undefined, error);
          continue;
        }
        this.session = applyRound(this.session!, round);
        this.poolLeftPages = round.remainingPoolPages;
        this.lastCheck = { state: observation.state, capacityPages: round.capacityPages };
        for (const impossible of round.impossible) {
          // The wait so far is this request's only if it was waiting when the wait began.
          const requestedAtMs = this.queue.entry(impossible.id)?.result.requestedAtMs ?? Number.POSITIVE_INFINITY;
          const itsWait = wait !== undefined && requestedAtMs <= wait.startedMs ? wait : undefined;
          this.settle(impossible.id, { error: impossibleRequestError(ctx, impossible.id, impossible.needPages, observation.state, itsWait) });
        }
        for (const admitted of round.admitted) this.startBuild(admitted.id);
        // The last waiting requests admitted right after the wait looked: what is still on its way is needed only for
        // the reserve.
        if (round.admitted.length > 0 && this.leftWith !== undefined && this.session!.pending.length === 0) {
          await releaseUnneededAsks(ctx, ledger, null, QUEUE, this.leftWith);
        }
        this.leftWith = undefined;
        if (round.admitted.length > 0) wait = undefined;

        const plan = round.balloon;
        if (plan === null) continue;
        lastPlan = plan;
        let step: WaitStep;
        let outcome;
        try {
          const set = plan.feasible ? await carryOutPlan(ctx, plan, null, ledger, QUEUE) : plan;
          const headroom = headroomPages(observation.state.host) - (round.poolPages - round.remainingPoolPages);
          step = wait === undefined
            ? startWaiting({ needPages: round.balloonForPages, plan: set, nowMs: ctx.clock.now(), headroomPages: headroom, config: ctx.wait })
            : applyPlan({ ...wait, needPages: round.balloonForPages, lastHeadroomPages: headroom }, set, ctx.clock.now());
          wait = step.state;
          // Builds in flight: the next check waits for all of them (the ballooning goes on meanwhile).
          if (this.session!.building.length > 0 && step.decision.kind !== 'give-up') continue;
          // Nothing building: wait on the donors until the pool would cover the waiting run, then check again.
          outcome = await waitForMemory(io, step);
        } catch (error) {
          // A target could not be set, or a look failed even after its retries: the head of the line cannot go on.
          this.failHead(null, undefined, undefined, error);
          wait = undefined;
          continue;
        }
        if (outcome.kind === 'left') {
          wait = outcome.wait;
          // Nothing to wait for (a retry right away): let time pass before the next check.
          if (step.decision.kind === 'retry-claim') await pause(ctx);
        } else if (outcome.kind === 'gave-up') {
          this.failHead(outcome.cause, outcome.wait, lastPlan);
          wait = undefined;
        }
      }
    } catch (error) {
      // Something unexpected: fail what waits; builds in flight finish on their own, and what was asked of donors is
      // given back once they have (releaseLimits).
      const session = this.session!;
      for (const pending of session.pending) this.settle(pending.id, { error });
      this.session = { ...session, pending: [] };
    } finally {
      await this.releaseLimits();
    }
  }

  /** Removes every limit of the batch (each retried once), then starts a new batch for requests that came meanwhile. */
  private async releaseLimits(): Promise<void> {
    const ctx = this.ctx;
    // Builds admitted from the pool still run: the batch ends when they have finished.
    while (this.session!.building.length > 0) await this.queue.changed.wait();
    // Asks no started guest used (its request failed or gave up): given back, with their limits, before the batch's.
    await restoreDonors(ctx, this.queue.ledger, null, QUEUE);
    await ctx.limits.release(BATCH, null);
    if (this.tmemFrozen) {
      this.tmemFrozen = false;
      // The cap is lifted (tmem has no "get cap" to restore an earlier one from) and tmem may take pages again.
      await cleanup(ctx, null, 'lift the tmem cap', () => ctx.mutations.capTmem({ pages: Number.MAX_SAFE_INTEGER }));
      await cleanup(ctx, null, 'thaw tmem', () => ctx.mutations.thawTmem());
    }
    const late = this.session!.pending;
    this.session = undefined;
    this.lastCheck = undefined;
    if (late.length > 0) {
      this.session = startSession(late);
      this.queue.startLoop(() => this.runBatch());
    }
  }
}
