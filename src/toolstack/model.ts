/**
 * The model strategy (xapi's squeezed; docs/architecture.md#model): one loop keeps an internal model of free memory
 * — host headroom minus what running guests will still grow to minus what admitted builds are still owed
 * (reservations) — and admits from it, in arrival order, without limits or claims (builds use claim: false). Each
 * round observes the host, ties reservations to the domains being built, reconciles the model with what the
 * hypervisor reports (guests converge, donors free memory), admits what now fits, and balloons donors (the same
 * fraction of each range) for what waits; the wait loop (wait-for-memory.ts) runs on those rounds, so a retry, a
 * replan and a look are all the next round. A build finishing releases its reservation. Stuck donors are never
 * asked again; the wait for memory is budgeted by wall time. A build refused memory by the hypervisor (something grew
 * that the model could not foresee, e.g. a guest ballooning up on its own) goes back to the queue while the budget
 * lasts.
 */
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import {
  admitFromModel, createModel, modelFreePages, reconcile, releaseReservation, transferReservation, type HostModel,
} from '../admission/model.js';
import { applyPlan, observeProgress, resolveWaitConfig, startWaiting, type WaitState, type WaitStep } from '../admission/progress.js';
import { isOutOfMemory } from '../errors.js';
import { BuildQueue, type QueuedRequest } from './build-queue.js';
import { pause, planPolicy, type StrategyContext } from './context.js';
import { donorProgress, markUncooperative, restoreDonors, setDonorTargets } from './donors.js';
import { eventError } from './events.js';
import { observe } from './observe.js';
import { impossibleRequestError } from './requests.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from './types.js';
import { LEAVE, waitForMemory, type WaitForMemoryIo } from './wait-for-memory.js';

/** What one round found: a wait step, nothing to wait for, or a plan blocked by builds in flight; or no work left. */
type Round = { kind: 'step'; step: WaitStep } | { kind: 'idle' } | { kind: 'blocked' } | { kind: 'finished' };

export class ModelStrategy implements AdmissionStrategy {
  readonly name = 'model' as const;
  private model: HostModel | undefined;
  /** Waiting, in arrival order. */
  private pending: QueuedRequest[] = [];
  private readonly building = new Map<string, QueuedRequest>();
  private readonly queue: BuildQueue;
  private lastPlan: BalloonPlan | undefined;
  /** The round that made the wait loop leave (nothing to wait for, or blocked by builds). */
  private leftWith: Round = { kind: 'idle' };

  constructor(private readonly ctx: StrategyContext) {
    this.queue = new BuildQueue(ctx, 'model', {
      built: (entry) => this.release(entry.request.name),
      failed: (entry, error) => {
        this.release(entry.request.name);
        const budgetMs = resolveWaitConfig(ctx.wait).budgetMs;
        if (!isOutOfMemory(error) || ctx.clock.now() - entry.result.requestedAtMs >= budgetMs) return false;
        // The hypervisor disagreed with the model: reconcile and try again from the queue.
        ctx.emit({ type: 'claim-refused', request: entry.request.name, error: eventError(error) });
        entry.result.admittedAtMs = null;
        this.pending.unshift(entry);
        if (!this.queue.running) this.startLoop();
        return true;
      },
    });
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    return this.queue.admit(request, (entry) => {
      this.pending.push(entry);
      if (!this.queue.running) this.startLoop();
      else this.queue.changed.notify();
    });
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private startLoop(): void {
    this.queue.startLoop(() => this.run(), () => this.pending.length > 0);
  }

  private startBuild(entry: QueuedRequest): void {
    this.building.set(entry.request.name, entry);
    this.queue.startBuild(entry);
  }

  private release(name: string): void {
    this.building.delete(name);
    if (this.model) this.model = releaseReservation(this.model, name);
  }

  /** Until nothing waits or builds: rounds, and the wait loop over them while donors free memory. */
  private async run(): Promise<void> {
    const ctx = this.ctx;
    const idle = (): Promise<void> => Promise.race([this.queue.changed.wait(), pause(ctx)]);
    const io: WaitForMemoryIo<never> = {
      waitForProgress: (untilMs) => Promise.race([this.queue.changed.wait(), pause(ctx, untilMs)]),
      pause: idle,
      look: (wait) => this.waitStep(wait),
      replan: (wait) => this.waitStep(wait),
      markUncooperative: (wait, domids) => markUncooperative(ctx, this.queue.ledger, null, wait, domids),
      retry: async (wait) => {
        await idle();
        const next = await this.waitStep(wait);
        return next === LEAVE ? LEAVE : { kind: 'step', step: next };
      },
    };
    this.lastPlan = undefined;
    try {
      this.model = createModel((await observe(ctx)).state);
      let round = await this.round(undefined);
      while (round.kind !== 'finished') {
        let wait: WaitState | undefined;
        if (round.kind === 'step') {
          const outcome = await waitForMemory(io, round.step);
          if (outcome.kind === 'gave-up') {
            this.giveUp(outcome.cause, outcome.wait);
            round = await this.round(undefined);
            continue;
          }
          // Left: a round found nothing to wait for, or its plan blocked by builds in flight.
          if (outcome.kind === 'left') wait = outcome.wait;
          round = this.leftWith;
        }
        if (round.kind === 'idle') {
          wait = undefined;
          if (this.pending.length === 0 && this.building.size > 0) await this.queue.changed.wait();
        } else if (round.kind === 'blocked') {
          await idle();
        }
        round = await this.round(wait);
      }
    } catch (error) {
      // An observation failed: fail what waits.
      const waiting = this.pending;
      this.pending = [];
      for (const entry of waiting) this.queue.settle(entry, { error });
    }
    // Builds in flight finish first (their memory must not be ballooned back into), then asks no started guest
    // used are given back.
    while (this.building.size > 0) await this.queue.changed.wait();
    await restoreDonors(ctx, this.queue.ledger, null);
  }

  /** The wait loop's look, replan and retry are all the next round; a round without a step leaves the loop. */
  private async waitStep(wait: WaitState): Promise<WaitStep | typeof LEAVE> {
    const round = await this.round(wait);
    if (round.kind === 'step') return round.step;
    this.leftWith = round;
    return LEAVE;
  }

  /**
   * One round: observe, reconcile the model, admit what fits (and fail what never can), then — when requests still
   * wait — adopt the balloon plan into the wait (`wait`: the wait so far, if any) and set the new targets.
   */
  private async round(wait: WaitState | undefined): Promise<Round> {
    const ctx = this.ctx;
    if (this.pending.length === 0 && this.building.size === 0) return { kind: 'finished' };
    const observation = await observe(ctx);
    let model = this.model!;
    for (const reservation of model.reservations) {
      if (reservation.domid !== undefined) continue;
      const domain = observation.domains.find((d) => d.name === reservation.id && !d.dying);
      if (domain) model = transferReservation(model, reservation.id, domain.domid);
    }
    model = reconcile(model, observation.state).model;

    const waiting = this.pending.map((e) => ({ id: e.request.name, needPages: e.needPages }));
    const admission = admitFromModel(model, waiting, planPolicy(ctx));
    this.model = admission.model;
    const byName = new Map(this.pending.map((e) => [e.request.name, e]));
    const leaving = new Set([...admission.admitted, ...admission.impossible].map((r) => r.id));
    this.pending = this.pending.filter((e) => !leaving.has(e.request.name));
    for (const impossible of admission.impossible) {
      this.queue.settle(byName.get(impossible.id)!, {
        error: impossibleRequestError(ctx, impossible.id, impossible.needPages, observation.state, wait),
      });
    }
    // Nobody left to benefit from what was asked: donors get it back.
    if (admission.admitted.length === 0 && this.pending.length === 0 && this.building.size === 0) {
      await restoreDonors(ctx, this.queue.ledger, null);
    }
    for (const admitted of admission.admitted) this.startBuild(byName.get(admitted.id)!);

    const plan = admission.balloon;
    if (plan === null || this.pending.length === 0) return { kind: 'idle' };
    this.lastPlan = plan;
    const freePages = modelFreePages(this.model);
    const target = Math.max(1, plan.shortfallPages + Math.max(0, freePages));
    const newAsks = plan.donors.some((d) => d.askedPages > 0);
    // What is reserved for builds in flight blocks the plan: wait for them to finish and look again.
    if (!plan.feasible && this.building.size > 0) return { kind: 'blocked' };
    let step: WaitStep;
    if (wait === undefined) {
      step = startWaiting({ needPages: target, plan, nowMs: ctx.clock.now(), headroomPages: Math.max(0, freePages), config: ctx.wait });
    } else if (newAsks || !plan.feasible) {
      step = applyPlan({ ...wait, needPages: target }, plan, ctx.clock.now());
    } else {
      donorProgress(ctx, null, wait.asked, observation.domains);
      step = observeProgress({ ...wait, needPages: target }, {
        nowMs: ctx.clock.now(),
        headroomPages: Math.max(0, freePages),
        donors: observation.domains.map((d) => ({ domid: d.domid, totPages: d.totPages })),
      });
    }
    if (step.decision.kind !== 'give-up' && newAsks) await setDonorTargets(ctx, plan, null, this.queue.ledger);
    return { kind: 'step', step };
  }

  /** The wait gave up: every waiting request fails with the report; what was asked is given back once builds end. */
  private giveUp(cause: 'budget-exhausted' | 'nothing-left-to-ask', wait: WaitState): void {
    for (const entry of this.pending) {
      const report = buildGiveUpReport({
        request: entry.request.name, cause, wait: { ...wait, needPages: entry.needPages }, nowMs: this.ctx.clock.now(), lastPlan: this.lastPlan,
      });
      this.queue.settle(entry, { error: new AdmissionError(report) });
    }
    this.pending = [];
  }
}
