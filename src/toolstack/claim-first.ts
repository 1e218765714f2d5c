/**
 * claim-first (the default): every build claims its whole need in the domain builder (libxl's claim_mode), so the
 * hypervisor serializes admissions and builds run in parallel without a toolstack lock. A claim refused with ENOMEM
 * starts the ballooning fallback, which runs under the host lock (one brain per host, docs/claim-rules.md#lesson-2):
 * observe → planBalloon → set donor targets → the wait loop (wait-for-memory.ts) → retry the build. The lock is held
 * until the retried build's claim is staked (seen as the new domain's outstanding pages), so the memory freed for
 * this request cannot be taken by the next one in line. While a fallback holds the lock, newcomers queue behind it
 * instead of claiming first: memory being freed is spoken for. Donors keep their lowered targets only if the
 * creation succeeds; otherwise what was asked of them is given back. See docs/architecture.md#claim-first.
 */
import { planBalloon, type BalloonPlan } from '../admission/balloon-plan.js';
import { canEverFit, hostCapacity } from '../admission/capacity.js';
import { DonorLedger } from '../admission/donor-ledger.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import { afterRefusedRetry, applyPlan, startWaiting, type WaitState, type WaitStep } from '../admission/progress.js';
import { headroomPages } from '../admission/state.js';
import { isOutOfMemory } from '../errors.js';
import { pause, planPolicy, type StrategyContext } from './context.js';
import { markUncooperative, restoreDonors, setDonorTargets } from './donors.js';
import { eventError } from './events.js';
import { observe } from './observe.js';
import { impossibleRequestError, needPages, takeRequestName } from './requests.js';
import { fail, newResult, succeed } from './results.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from './types.js';
import { lookAtDonors, waitForMemory, type RetryResult, type WaitForMemoryIo } from './wait-for-memory.js';

type BuildOutcome = { kind: 'claimed'; build: Promise<number>; atMs: number } | { kind: 'refused' };
interface Claimed {
  build: Promise<number>;
  atMs: number;
}

export class ClaimFirstStrategy implements AdmissionStrategy {
  readonly name = 'claim-first' as const;
  private readonly inFlight = new Set<Promise<AdmissionResult>>();
  /** Names of requests in flight: a second request for the same name fails at once. */
  private readonly names = new Set<string>();

  constructor(private readonly ctx: StrategyContext) {}

  admit(request: GuestRequest): Promise<AdmissionResult> {
    const work = this.run(request);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async run(request: GuestRequest): Promise<AdmissionResult> {
    const result = newResult(this.ctx, request);
    try {
      takeRequestName(this.names, request);
    } catch (error) {
      return fail(this.ctx, result, error);
    }
    try {
      return await this.admitOne(request, result);
    } finally {
      this.names.delete(request.name);
    }
  }

  private async admitOne(request: GuestRequest, result: AdmissionResult): Promise<AdmissionResult> {
    const ctx = this.ctx;
    try {
      const need = await needPages(ctx, request);
      ctx.building.add(request.name);
      let attempt = 0;
      if (!ctx.lock.locked) {
        attempt++;
        const atMs = ctx.clock.now();
        ctx.emit({ type: 'building', request: request.name, claim: true, attempt });
        try {
          const domid = await this.build(request);
          result.admittedAtMs = atMs;
          return succeed(ctx, result, domid);
        } catch (error) {
          if (!isOutOfMemory(error)) throw error;
          ctx.emit({ type: 'claim-refused', request: request.name, error: eventError(error) });
        }
      }
      // More than the host could ever give (capacity.ts): fail now, without waiting for the lock or asking anyone.
      const observation = await observe(ctx);
      if (!canEverFit(need, hostCapacity(observation.state, planPolicy(ctx)))) {
        throw impossibleRequestError(ctx, request.name, need, observation.state);
      }
      return await this.fallback(request, need, result, attempt);
    } catch (error) {
      ctx.building.delete(request.name);
      return fail(ctx, result, error);
    }
  }

  private build(request: GuestRequest): Promise<number> {
    return this.ctx.mutations.buildGuest({ name: request.name, claim: true, paused: request.paused ?? false }, request.config);
  }

  private async fallback(request: GuestRequest, need: number, result: AdmissionResult, attempts: number): Promise<AdmissionResult> {
    const ctx = this.ctx;
    const name = request.name;
    let lastPlan: BalloonPlan | undefined;
    let attempt = attempts;
    const ledger = new DonorLedger();

    const replan = async (wait: WaitState | undefined): Promise<WaitStep> => {
      const observation = await observe(ctx);
      const plan = planBalloon(observation.state, { needPages: need, policy: planPolicy(ctx) });
      lastPlan = plan;
      const nowMs = ctx.clock.now();
      const step = wait === undefined
        ? startWaiting({ needPages: need, plan, nowMs, headroomPages: headroomPages(observation.state.host), config: ctx.wait })
        : applyPlan(wait, plan, nowMs);
      if (step.decision.kind !== 'give-up') await setDonorTargets(ctx, plan, name, ledger);
      return step;
    };
    const io: WaitForMemoryIo<Claimed> = {
      waitForProgress: (untilMs) => pause(ctx, untilMs),
      pause: () => pause(ctx),
      look: (wait) => lookAtDonors(ctx, name, wait),
      replan,
      markUncooperative: (wait, domids) => markUncooperative(ctx, ledger, name, wait, domids),
      // A retry is the build itself; refused again (the memory went elsewhere, or an injected ENOMEM), look again.
      retry: async (wait): Promise<RetryResult<Claimed>> => {
        attempt++;
        const outcome = await this.buildHoldingUntilClaimed(request, attempt);
        if (outcome.kind === 'claimed') return { kind: 'done', value: { build: outcome.build, atMs: outcome.atMs } };
        return { kind: 'step', step: afterRefusedRetry(wait, ctx.clock.now()) };
      },
    };

    try {
      const claimed = await ctx.lock.withLock(async (): Promise<Claimed> => {
        const outcome = await waitForMemory(io, await replan(undefined));
        if (outcome.kind === 'done') return outcome.value;
        if (outcome.kind === 'gave-up') {
          throw new AdmissionError(buildGiveUpReport({ request: name, cause: outcome.cause, wait: outcome.wait, nowMs: ctx.clock.now(), lastPlan }));
        }
        throw new Error(`claim-first: the wait for ${name} was left (no hook of claim-first leaves it)`);
      });
      result.admittedAtMs = claimed.atMs;
      const domid = await claimed.build;
      return succeed(ctx, result, domid);
    } catch (error) {
      if (ledger.size > 0) await ctx.lock.withLock(() => restoreDonors(ctx, ledger, name));
      throw error;
    }
  }

  /**
   * Starts the build and returns once its claim is staked (or the build settled), so the lock can be released while
   * the guest populates. A refusal with ENOMEM returns 'refused'; any other failure throws.
   */
  private async buildHoldingUntilClaimed(request: GuestRequest, attempt: number): Promise<BuildOutcome> {
    const ctx = this.ctx;
    const atMs = ctx.clock.now();
    ctx.emit({ type: 'building', request: request.name, claim: true, attempt });
    const build = this.build(request);
    let settled: { ok: true; domid: number } | { ok: false; error: unknown } | undefined;
    build.then(
      (domid) => (settled = { ok: true, domid }),
      (error: unknown) => (settled = { ok: false, error }),
    );
    let delayMs = 0;
    for (;;) {
      await ctx.clock.sleep(delayMs);
      delayMs = ctx.pollMs;
      if (settled) {
        if (settled.ok) return { kind: 'claimed', build, atMs };
        if (isOutOfMemory(settled.error)) {
          ctx.emit({ type: 'claim-refused', request: request.name, error: eventError(settled.error) });
          return { kind: 'refused' };
        }
        throw settled.error;
      }
      let domains;
      try {
        domains = await ctx.backend.listDomains();
      } catch {
        continue; // Looking is best effort; the build's own outcome still decides.
      }
      const mine = domains.find((d) => d.name === request.name && !d.dying);
      if (mine && (mine.outstandingPages > 0 || mine.totPages > 0)) {
        ctx.emit({ type: 'admitted', request: request.name, via: 'claim' });
        return { kind: 'claimed', build, atMs };
      }
    }
  }
}
