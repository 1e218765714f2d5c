/**
 * limit-and-check, as George Dunlap described it in the 2013 claim debate (docs/architecture.md#limit-and-check).
 * One loop per batch (a batch lasts while requests wait or build):
 *   check: set max_pages of every running guest to its current size, observe, admit from that pool in arrival order
 *   (checkRound), build the admitted guests without a claim, balloon round-robin for what waits; then re-check only
 *   after every guest being built has finished — or, when nothing is building, once the wait loop says the pool
 *   would cover what waits (a retry, for this strategy, is the next check);
 *   end: remove every limit, on every path (finally), failures and exceptions included.
 * A request arriving while guests are built is admitted from what is left of the last check's pool when it fits;
 * otherwise it waits for the re-check after those builds (which is what makes this strategy slow in case B).
 * On a host with tmem (before Xen 4.13) the batch also freezes tmem and caps it at its size, and thaws it at the end;
 * on Xen ≥ 4.13 there is no tmem (features.tmem is false) and nothing is called.
 * Donors ballooned for requests that end up admitted keep their targets; when the wait gives up they get back
 * what was asked of them.
 */
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import {
  addLimits, applyRound, buildFinished, checkRound, enqueue, giveUpWaiting, limitsFor, nextAction, startSession,
  type LimitAndCheckSession, type MaxMemLimit,
} from '../admission/limit-and-check.js';
import { applyPlan, startWaiting, type GiveUpCause, type WaitState, type WaitStep } from '../admission/progress.js';
import type { ObservedState } from '../admission/state.js';
import { BuildQueue, type QueuedRequest } from './build-queue.js';
import { pause, planPolicy, type StrategyContext } from './context.js';
import { cleanup, markUncooperative, restoreDonors, setDonorTargets } from './donors.js';
import { observe } from './observe.js';
import { impossibleRequestError } from './requests.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from './types.js';
import { LEAVE, lookAtDonors, waitForMemory, type WaitForMemoryIo } from './wait-for-memory.js';

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

  private failWaiting(cause: GiveUpCause, wait: WaitState | undefined, lastPlan: BalloonPlan | undefined): void {
    const session = this.session!;
    for (const pending of session.pending) {
      const error = wait
        ? new AdmissionError(buildGiveUpReport({
            request: pending.id, cause, wait: { ...wait, needPages: pending.needPages }, nowMs: this.ctx.clock.now(), lastPlan,
          }))
        : new Error(`${pending.id}: gave up waiting for memory (${cause})`);
      this.settle(pending.id, { error });
    }
    this.session = giveUpWaiting(session);
  }

  /** Sets the limits, recording each in the session as it is set (so a failure half-way removes only those). */
  private async setLimits(limits: readonly MaxMemLimit[]): Promise<void> {
    const set: MaxMemLimit[] = [];
    try {
      for (const limit of limits) {
        await this.ctx.mutations.limitMaxPages(limit);
        this.session = addLimits(this.session!, [limit]);
        set.push(limit);
      }
    } finally {
      if (set.length > 0) this.ctx.emit({ type: 'limits-set', request: null, limits: set });
    }
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
      pause: () => pause(ctx),
      look: (wait) => lookAtDonors(ctx, null, wait),
      replan: async () => LEAVE,
      markUncooperative: (wait, domids) => markUncooperative(ctx, this.queue.ledger, null, wait, domids),
      retry: async () => LEAVE,
    };
  }

  /** One batch: checks until nothing waits or builds; the limits are removed however it ends. */
  private async runBatch(): Promise<void> {
    const ctx = this.ctx;
    let wait: WaitState | undefined;
    let lastPlan: BalloonPlan | undefined;
    let rotateAfterDomid: number | undefined;
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
        if (ctx.backend.features.tmem && !this.tmemFrozen) await this.freezeTmem();
        let observation = await observe(ctx);
        const limits = limitsFor(observation.state, {}, this.session!.limits);
        if (limits.length > 0) {
          await this.setLimits(limits);
          observation = await observe(ctx);
        }
        const round = checkRound(observation.state, this.session!.pending, { policy: planPolicy(ctx), rotateAfterDomid });
        this.session = applyRound(this.session!, round);
        this.poolLeftPages = round.remainingPoolPages;
        this.lastCheck = { state: observation.state, capacityPages: round.capacityPages };
        for (const impossible of round.impossible) {
          this.settle(impossible.id, { error: impossibleRequestError(ctx, impossible.id, impossible.needPages, observation.state, wait) });
        }
        // Nobody left to benefit from what was asked: donors get it back.
        if (round.admitted.length === 0 && this.session!.pending.length === 0 && this.session!.building.length === 0) {
          await restoreDonors(ctx, ledger, null);
        }
        for (const admitted of round.admitted) this.startBuild(admitted.id);
        if (round.admitted.length > 0) wait = undefined;

        const plan = round.balloon;
        if (plan === null) continue;
        lastPlan = plan;
        const target = round.remainingPoolPages + plan.shortfallPages;
        const step: WaitStep = wait === undefined
          ? startWaiting({ needPages: target, plan, nowMs: ctx.clock.now(), headroomPages: round.remainingPoolPages, config: ctx.wait })
          : applyPlan({ ...wait, needPages: target }, plan, ctx.clock.now());
        wait = step.state;
        if (step.decision.kind !== 'give-up') {
          await setDonorTargets(ctx, plan, null, ledger);
          const asked = plan.donors.filter((d) => d.askedPages > 0);
          if (asked.length > 0) rotateAfterDomid = asked[asked.length - 1]!.domid;
        }
        // Builds in flight: the next check waits for all of them (the ballooning goes on meanwhile).
        if (this.session!.building.length > 0 && step.decision.kind !== 'give-up') continue;

        // Nothing building: wait on the donors until the pool would cover the waiting run, then check again.
        const outcome = await waitForMemory(io, step);
        if (outcome.kind === 'left') wait = outcome.wait;
        else if (outcome.kind === 'gave-up') {
          this.failWaiting(outcome.cause, outcome.wait, lastPlan);
          wait = undefined;
          // Builds use no claims: donors growing back now could take the pool lent to them, so only when none run
          // (otherwise the end of the batch gives it back).
          if (this.session!.building.length === 0) await restoreDonors(ctx, ledger, null);
        }
      }
    } catch (error) {
      // An observation or a limit failed: fail what waits; builds in flight finish on their own, and what was asked
      // of donors is given back once they have (releaseLimits).
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
    // Asks no started guest used (its request failed or gave up): given back before the limits go.
    await restoreDonors(ctx, this.queue.ledger, null);
    const limits = [...this.session!.limits];
    const removed: MaxMemLimit[] = [];
    for (const limit of limits) {
      const restored = { ...limit, fromKiB: limit.toKiB, toKiB: limit.fromKiB };
      const ok = await cleanup(ctx, null, `remove the max_pages limit of ${limit.name} (domid ${limit.domid})`, () =>
        ctx.mutations.restoreMaxPages(restored),
      );
      if (ok) removed.push(restored);
    }
    if (removed.length > 0) ctx.emit({ type: 'limits-removed', request: null, limits: removed });
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
