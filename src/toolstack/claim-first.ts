/**
 * claim-first (the default): every build claims its whole need in the domain builder (libxl's claim_mode), so the
 * hypervisor serializes admissions and builds run in parallel without a toolstack lock. Before a build claims, one
 * look checks that the claim leaves the reserve for Xen (capacity.ts's admissiblePages, counting builds of this host
 * whose claims are not visible yet). When that look, or the claim itself, finds too little, the ballooning fallback
 * runs under the host lock (one brain per host, docs/claim-rules.md#lesson-2): observe → plan (balloon-plan.ts) →
 * set donor targets and limit their max_pages to them → the wait loop (wait-for-memory.ts), replanning the
 * remainder whenever a donor reaches its target → retry the build. The lock is held until the retried build's claim
 * is staked (seen as the new domain's outstanding pages), so the memory freed for this request cannot be taken by
 * the next one in line, and the donors cannot grow back into it: their max_pages follow their lowered targets until
 * the guest has populated its memory. While a fallback holds the lock, newcomers queue behind it instead of
 * claiming first. Donors keep their lowered targets only if the creation succeeds; a request that fails hands what
 * its donors gave to the next request waiting for the lock, or gives it back when none waits.
 * See docs/architecture.md#claim-first.
 */
import { planBalloon, type BalloonPlan } from '../admission/balloon-plan.js';
import { admissiblePages, arrivingPages, canEverFit, hostCapacity } from '../admission/capacity.js';
import { DonorLedger } from '../admission/donor-ledger.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import { afterRefusedRetry, applyPlan, donorRates, startWaiting, type WaitState, type WaitStep } from '../admission/progress.js';
import { headroomPages, type ObservedState } from '../admission/state.js';
import { isOutOfMemory } from '../errors.js';
import { pause, planPolicy, reservePages, type StrategyContext } from './context.js';
import {
  adoptHandover, carryOutPlan, handOver, keepDonors, markUncooperative, releaseUnneededAsks, restoreDonors, HANDOVER,
} from './donors.js';
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
  /** Admissions in flight, and the cleanup that follows the last of them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Names of requests in flight: a second request for the same name fails at once. */
  private readonly names = new Set<string>();
  /**
   * Builds in flight: name → need (pages). Until a build returns, what Xen does not show for it yet (its claim before
   * libxl stakes it, libxl's extra beyond the claim) is promised to it.
   */
  private readonly starting = new Map<string, number>();
  /** Requests in the fallback (waiting for the lock, or ballooning): name → need. Memory freed is theirs. */
  private readonly waiting = new Map<string, number>();

  constructor(private readonly ctx: StrategyContext) {}

  admit(request: GuestRequest): Promise<AdmissionResult> {
    const work = this.run(request);
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
      if (this.inFlight.size === 0) this.track(this.restoreLeftover());
    });
    return work;
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * What was handed over to a request that then did not need it (it failed before adopting it, say): with nothing
   * in flight, nobody is left to use it, so the donors get it back.
   */
  private async restoreLeftover(): Promise<void> {
    const ctx = this.ctx;
    if (ctx.handover.size === 0 && ctx.limits.heldBy(HANDOVER).length === 0) return;
    await ctx.lock.withLock(async () => {
      const leftover = new DonorLedger();
      leftover.absorb(ctx.handover.take());
      await restoreDonors(ctx, leftover, null, HANDOVER);
    });
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  promisedPages(state: ObservedState): number {
    let waiting = 0;
    for (const need of this.waiting.values()) waiting += need;
    return waiting + this.unclaimedPages(state);
  }

  /**
   * What builds in flight still need beyond what Xen shows for them (their domain's tot_pages plus its claim): before
   * libxl stakes the claim, all of it; after, libxl's extra beyond the claim.
   */
  private unclaimedPages(state: ObservedState): number {
    let pages = 0;
    for (const [name, need] of this.starting) {
      const domain = state.domains.find((d) => d.name === name && !d.dying);
      pages += Math.max(0, need - (domain ? domain.totPages + domain.outstandingPages : 0));
    }
    return pages;
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
        // One look first: the claim must leave the reserve for Xen (Xen itself cannot see it).
        const { state } = await observe(ctx);
        const room = admissiblePages(headroomPages(state.host), reservePages(ctx), arrivingPages(state, planPolicy(ctx)), this.unclaimedPages(state));
        if (!ctx.lock.locked && need <= room) {
          attempt++;
          const atMs = ctx.clock.now();
          ctx.emit({ type: 'building', request: request.name, claim: true, attempt });
          this.starting.set(request.name, need);
          try {
            const domid = await this.build(request);
            result.admittedAtMs = atMs;
            return succeed(ctx, result, domid);
          } catch (error) {
            if (!isOutOfMemory(error)) throw error;
            ctx.emit({ type: 'claim-refused', request: request.name, error: eventError(error) });
          } finally {
            this.starting.delete(request.name);
          }
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
    const promised = (state: ObservedState): number => this.unclaimedPages(state);

    const replan = async (wait: WaitState | undefined): Promise<WaitStep> => {
      const observation = await observe(ctx);
      const plan = planBalloon(observation.state, {
        needPages: need,
        promisedPages: promised(observation.state),
        policy: planPolicy(ctx),
        ...(wait ? { rates: donorRates(wait) } : {}),
      });
      lastPlan = plan;
      const set = plan.feasible ? await carryOutPlan(ctx, plan, name, ledger, name) : plan;
      const nowMs = ctx.clock.now();
      const headroom = headroomPages(observation.state.host) - promised(observation.state);
      return wait === undefined
        ? startWaiting({ needPages: need, plan: set, nowMs, headroomPages: headroom, config: ctx.wait })
        : applyPlan({ ...wait, lastHeadroomPages: headroom }, set, nowMs);
    };
    const io: WaitForMemoryIo<Claimed> = {
      waitForProgress: (untilMs) => pause(ctx, untilMs),
      look: (wait) => lookAtDonors(ctx, name, wait, promised),
      replan,
      markUncooperative: (wait, domids) => markUncooperative(ctx, ledger, name, name, wait, domids),
      // A retry is the build itself; refused again (the memory went elsewhere, or an injected ENOMEM), look again.
      retry: async (wait): Promise<RetryResult<Claimed>> => {
        attempt++;
        const outcome = await this.buildHoldingUntilClaimed(request, attempt);
        if (outcome.kind === 'claimed') {
          await releaseUnneededAsks(ctx, ledger, name, name, wait);
          return { kind: 'done', value: { build: outcome.build, atMs: outcome.atMs } };
        }
        return { kind: 'step', step: afterRefusedRetry(wait, ctx.clock.now()) };
      },
    };

    this.waiting.set(name, need);
    try {
      const claimed = await ctx.lock.withLock(async (): Promise<Claimed> => {
        await adoptHandover(ctx, ledger, name);
        const outcome = await waitForMemory(io, await replan(undefined));
        if (outcome.kind === 'done') return outcome.value;
        if (outcome.kind === 'gave-up') {
          throw new AdmissionError(buildGiveUpReport({ request: name, cause: outcome.cause, wait: outcome.wait, nowMs: ctx.clock.now(), lastPlan }));
        }
        throw new Error(`claim-first: the wait for ${name} was left (no hook of claim-first leaves it)`);
      });
      // Staked: the claim protects what is left to populate; the request no longer waits for memory.
      this.waiting.delete(name);
      result.admittedAtMs = claimed.atMs;
      const domid = await claimed.build;
      await keepDonors(ctx, ledger, name, name);
      return succeed(ctx, result, domid);
    } catch (error) {
      this.waiting.delete(name);
      if (ledger.size > 0 || ctx.limits.heldBy(name).length > 0) {
        await ctx.lock.withLock(async () => {
          // Another request waits for memory: it adopts what the donors gave instead of asking them again.
          if (this.waiting.size > 0) await handOver(ctx, ledger, name);
          else await restoreDonors(ctx, ledger, name, name);
        });
      }
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
    this.starting.set(request.name, this.waiting.get(request.name) ?? 0);
    void build.then(
      () => this.starting.delete(request.name),
      () => this.starting.delete(request.name),
    );
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
