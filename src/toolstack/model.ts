/**
 * The model strategy (xapi's squeezed; docs/architecture.md#model): one loop keeps an internal model of free memory
 * — host headroom minus what running guests will still grow to minus what admitted builds are still owed
 * (reservations) minus the reserve for Xen — and admits from it, in arrival order, without claims (builds use
 * claim: false). It enforces what the model assumes, as squeezed does: while it works, every running guest's
 * max_pages is held to its target (max-pages-limits.ts, holder 'model'), so no guest grows during a build beyond what
 * the model counted; a target raised meanwhile is growth, admitted (its limit raised) only when the model has room.
 * Each round observes the host, ties reservations to the domains being built, reconciles the model, holds the
 * limits, admits what now fits, and — when requests still wait — balloons donors with the one planner; the wait loop
 * (wait-for-memory.ts) runs on those rounds: a look is a round, a replan (a donor reached its target, or one was
 * found stuck) a round that plans again with the observed rates, a retry the next round. A build finishing releases
 * its reservation. A wait that gives up fails the request at the head of the line only; a look that still fails
 * after its retries, too. A build refused memory by the hypervisor (something the model could not foresee) goes back
 * to the queue, a few times at most. What no started guest used is given back, and every limit lifted, when nothing
 * waits or builds.
 */
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import {
  admitFromModel, createModel, modelBreakdown, modelLimits, reconcile, releaseReservation, reservationRemaining,
  transferReservation, type HostModel,
} from '../admission/model.js';
import { applyPlan, donorRates, observeProgress, startWaiting, type GiveUpCause, type WaitState, type WaitStep } from '../admission/progress.js';
import type { ObservedState } from '../admission/state.js';
import { isOutOfMemory } from '../errors.js';
import { BuildQueue, type QueuedRequest } from './build-queue.js';
import { pause, planPolicy, type StrategyContext } from './context.js';
import { carryOutPlan, donorProgress, markUncooperative, releaseUnneededAsks, restoreDonors } from './donors.js';
import { eventError } from './events.js';
import { observe } from './observe.js';
import { impossibleRequestError } from './requests.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from './types.js';
import { LEAVE, waitForMemory, type WaitForMemoryIo } from './wait-for-memory.js';

/** What one round found: a wait step, nothing to wait for, or a plan blocked by builds in flight; or no work left. */
type Round = { kind: 'step'; step: WaitStep } | { kind: 'idle' } | { kind: 'blocked' } | { kind: 'finished' };

/** The holder of the model's max_pages limits (max-pages-limits.ts). */
const MODEL = 'model';
/** A build the hypervisor refused goes back to the queue at most this many times in all. */
const MAX_BUILD_ATTEMPTS = 3;

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
  /** Builds started so far (a retry that admitted nothing lets time pass before the next round). */
  private started = 0;

  constructor(private readonly ctx: StrategyContext) {
    this.queue = new BuildQueue(ctx, 'model', {
      built: (entry) => this.release(entry.request.name),
      failed: (entry, error) => {
        this.release(entry.request.name);
        if (!isOutOfMemory(error) || entry.attempts >= MAX_BUILD_ATTEMPTS) return false;
        // The hypervisor disagreed with the model: reconcile and try again from the queue.
        ctx.emit({ type: 'build-refused', request: entry.request.name, error: eventError(error) });
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

  promisedPages(state: ObservedState): number {
    const reserved = this.model ? this.model.reservations.reduce((sum, r) => sum + reservationRemaining(r, state), 0) : 0;
    return reserved + this.pending.reduce((sum, e) => sum + e.needPages, 0);
  }

  private startLoop(): void {
    this.queue.startLoop(() => this.run(), () => this.pending.length > 0);
  }

  private startBuild(entry: QueuedRequest): void {
    this.building.set(entry.request.name, entry);
    this.started++;
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
      look: (wait) => this.waitStep(wait, false),
      replan: (wait) => this.waitStep(wait, true),
      markUncooperative: (wait, domids) => markUncooperative(ctx, this.queue.ledger, null, MODEL, wait, domids),
      retry: async (wait) => {
        const before = this.started;
        const next = await this.waitStep(wait, true);
        // The model did not agree yet (its view of what is on its way differs a little): let time pass.
        if (this.started === before) await idle();
        return next === LEAVE ? LEAVE : { kind: 'step', step: next };
      },
    };
    this.lastPlan = undefined;
    try {
      let round: Round = { kind: 'idle' };
      let wait: WaitState | undefined;
      for (;;) {
        let outcome;
        try {
          // Let everything else due at this instant happen first (a burst of arrivals, builds ending together), so
          // that one round sees it all: a round reads every domain, and one per arrival made a burst quadratic.
          await ctx.clock.sleep(0);
          this.model ??= createModel((await observe(ctx)).state);
          round = await this.round(wait, true);
          if (round.kind === 'step') outcome = await waitForMemory(io, round.step);
        } catch (error) {
          // Looked again and still failed: the request at the head of the line cannot go on.
          this.failHead(null, undefined, error);
          if (this.pending.length === 0 && this.building.size === 0) break;
          wait = undefined;
          await idle();
          continue;
        }
        if (round.kind === 'finished') break;
        wait = undefined;
        if (outcome !== undefined) {
          if (outcome.kind === 'gave-up') {
            this.failHead(outcome.cause, outcome.wait);
            continue;
          }
          // Left: a round found nothing to wait for, or its plan blocked by builds in flight.
          if (outcome.kind === 'left') wait = outcome.wait;
          round = this.leftWith;
        }
        if (round.kind === 'idle') {
          wait = undefined;
          // Builds in flight: keep holding the limits (and admitting growth) while they populate.
          if (this.pending.length === 0 && this.building.size > 0) await idle();
        } else if (round.kind === 'blocked') {
          await idle();
        }
      }
    } catch (error) {
      // Something unexpected: fail what waits.
      const waiting = this.pending;
      this.pending = [];
      for (const entry of waiting) this.queue.settle(entry, { error });
    }
    // Builds in flight finish first (their memory must not be ballooned back into), then asks no started guest
    // used are given back and every limit is lifted.
    while (this.building.size > 0) await this.queue.changed.wait();
    await restoreDonors(ctx, this.queue.ledger, null, MODEL);
    this.model = undefined;
  }

  /** The wait loop's look, replan and retry are all rounds; a round without a step leaves the loop. */
  private async waitStep(wait: WaitState, replan: boolean): Promise<WaitStep | typeof LEAVE> {
    const round = await this.round(wait, replan);
    if (round.kind === 'step') return round.step;
    this.leftWith = round;
    return LEAVE;
  }

  /**
   * One round: observe, reconcile the model, hold the limits (admitting growth it has room for), admit what fits (and
   * fail what never can), then — when requests still wait — plan (the first round of a wait, or `replan`) and set
   * the targets, or feed the wait what the donors did.
   */
  private async round(wait: WaitState | undefined, replan: boolean): Promise<Round> {
    const ctx = this.ctx;
    if (this.pending.length === 0 && this.building.size === 0) return { kind: 'finished' };
    const observation = await observe(ctx);
    let model = this.model!;
    const live = new Map(observation.domains.filter((d) => !d.dying && d.name !== undefined).map((d) => [d.name!, d]));
    for (const reservation of model.reservations) {
      if (reservation.domid !== undefined) continue;
      const domain = live.get(reservation.id);
      if (domain) model = transferReservation(model, reservation.id, domain.domid);
    }
    model = reconcile(model, observation.state).model;
    this.model = await this.holdLimits(model);
    model = this.model;

    const policy = planPolicy(ctx);
    const waiting = this.pending.map((e) => ({ id: e.request.name, needPages: e.needPages }));
    const admission = admitFromModel(model, waiting, policy, wait ? donorRates(wait) : undefined);
    this.model = admission.model;
    const byName = new Map(this.pending.map((e) => [e.request.name, e]));
    const leaving = new Set([...admission.admitted, ...admission.impossible].map((r) => r.id));
    this.pending = this.pending.filter((e) => !leaving.has(e.request.name));
    for (const impossible of admission.impossible) {
      const entry = byName.get(impossible.id)!;
      // The wait so far is this request's only if it was waiting when the wait began.
      const itsWait = wait !== undefined && entry.result.requestedAtMs <= wait.startedMs ? wait : undefined;
      this.queue.settle(entry, { error: impossibleRequestError(ctx, impossible.id, impossible.needPages, observation.state, itsWait) });
    }
    for (const admitted of admission.admitted) this.startBuild(byName.get(admitted.id)!);
    // The last waiting request admitted out of a wait: what is still on its way is needed only for the reserve.
    if (admission.admitted.length > 0 && wait !== undefined && this.pending.length === 0) {
      await releaseUnneededAsks(ctx, this.queue.ledger, null, MODEL, wait);
    }

    const plan = admission.balloon;
    if (plan === null || this.pending.length === 0) return { kind: 'idle' };
    this.lastPlan = plan;
    // What is reserved for builds in flight blocks the plan: wait for them to finish and look again.
    if (!plan.feasible && this.building.size > 0) return { kind: 'blocked' };
    const { headroomPages, growthPages, reservedPages } = modelBreakdown(this.model, policy);
    const promisedHeadroom = headroomPages - growthPages - reservedPages;
    const needPages = admission.balloonForPages;
    let step: WaitStep;
    if (wait === undefined || replan || !plan.feasible) {
      const set = plan.feasible ? await carryOutPlan(ctx, plan, null, this.queue.ledger, MODEL) : plan;
      step = wait === undefined
        ? startWaiting({ needPages, plan: set, nowMs: ctx.clock.now(), headroomPages: promisedHeadroom, config: ctx.wait })
        : applyPlan({ ...wait, needPages, lastHeadroomPages: promisedHeadroom }, set, ctx.clock.now());
    } else {
      donorProgress(ctx, null, wait.asked, observation.domains);
      step = observeProgress({ ...wait, needPages }, {
        nowMs: ctx.clock.now(),
        headroomPages: promisedHeadroom,
        donors: observation.domains.map((d) => ({ domid: d.domid, totPages: d.totPages })),
      });
    }
    return { kind: 'step', step };
  }

  /**
   * Holds every running guest to its target (modelLimits), raising the limit of a guest whose target went up only
   * when the model has room for that growth beyond what the waiting requests need. Returns the model with the
   * admitted growth counted.
   */
  private async holdLimits(model: HostModel): Promise<HostModel> {
    const held = this.ctx.limits.limitsKiB();
    const waiting = this.pending.reduce((sum, e) => sum + e.needPages, 0);
    const enforced = modelLimits(model, held, planPolicy(this.ctx), waiting);
    await this.ctx.limits.limit(MODEL, 'model', null, enforced.limits.map((l) => ({ domid: l.domid, name: l.name, maxKiB: l.maxKiB, kib: l.limitKiB })));
    return enforced.model;
  }

  /** The request at the head of the line cannot go on: it fails, with the give-up report when a wait gave up. */
  private failHead(cause: GiveUpCause | null, wait: WaitState | undefined, error?: unknown): void {
    const head = this.pending.shift();
    if (head === undefined) return;
    const reason = cause && wait
      ? new AdmissionError(buildGiveUpReport({
          request: head.request.name, cause, wait: { ...wait, needPages: head.needPages }, nowMs: this.ctx.clock.now(), lastPlan: this.lastPlan,
        }))
      : error;
    this.queue.settle(head, { error: reason });
  }
}
