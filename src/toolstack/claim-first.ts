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
 * claiming first. The fallback plans for the whole line (fallback-line.ts): the needs of the requests queued behind
 * it are promised too, when the host can give that much, and each retries as soon as its own need is there — so in a
 * boot storm the memory for the next in line is freed while one waits. Donors keep their lowered targets only if the
 * creation succeeds; a request that fails hands what its donors gave to the next request waiting for the lock, or
 * gives it back when none waits. See docs/architecture.md#claim-first.
 */
import { planBalloon, type BalloonPlan } from '../admission/balloon-plan.js';
import { admissiblePages, arrivingPages, canEverFit, hostCapacity } from '../admission/capacity.js';
import { DonorLedger } from '../admission/donor-ledger.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import { afterRefusedRetry, applyPlan, donorRates, startWaiting, type WaitState, type WaitStep } from '../admission/progress.js';
import { headroomPages, type ObservedState } from '../admission/state.js';
import type { Physinfo } from '../backend.js';
import { isOutOfMemory } from '../errors.js';
import { kibToPagesCeil } from '../units.js';
import { pause, planPolicy, reservePages, type StrategyContext } from './context.js';
import {
  adoptHandover, carryOutPlan, handOver, keepDonors, markUncooperative, releaseUnneededAsks, restoreDonors, HANDOVER,
} from './donors.js';
import { BuildsInFlight, buildUntilClaimed } from './builds-in-flight.js';
import { eventError } from './events.js';
import { FallbackLine } from './fallback-line.js';
import { observe, type Observation } from './observe.js';
import { impossibleRequestError, largerThanTheHost, needPages, takeRequestName } from './requests.js';
import { fail, newResult, succeed } from './results.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from './types.js';
import { lookAtDonors, waitForMemory, type RetryResult, type WaitForMemoryIo } from './wait-for-memory.js';

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
  /** Builds in flight: what Xen does not show for them yet is promised to them. */
  private readonly builds = new BuildsInFlight();
  /** Requests in the fallback, planned for together. Memory freed is theirs. */
  private readonly line = new FallbackLine();
  /** The host's memory in pages, once physinfo has been read (it never changes). */
  private hostTotalPages: number | undefined;

  /** The reserve kept free for Xen, in pages (the host's policy never changes). */
  private readonly reserve: number;

  constructor(private readonly ctx: StrategyContext) {
    this.reserve = reservePages(ctx);
  }

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
    return this.line.pages + this.builds.unclaimedPages(state);
  }

  /**
   * Does a claim of `need` pages now leave the reserve for Xen (capacity.ts's admissiblePages)? Certain from physinfo
   * alone when the headroom covers the need, the reserve and everything the builds in flight could still take;
   * otherwise one look decides (what donors are freeing counts toward the reserve, what builds hold already is
   * out of the headroom). So a host with room does not list its domains once per request.
   */
  private async claimFits(need: number, physinfo: Physinfo): Promise<{ fits: boolean; observation?: Observation }> {
    const ctx = this.ctx;
    const reserve = this.reserve;
    const headroom = headroomPages({ totalPages: physinfo.totalPages, freePages: physinfo.freePages, outstandingPages: physinfo.outstandingPages });
    if (need <= headroom - this.builds.totalPages - reserve) return { fits: true };
    const observation = await observe(ctx, physinfo);
    const { state } = observation;
    const room = admissiblePages(headroomPages(state.host), reserve, arrivingPages(state, planPolicy(ctx)), this.builds.unclaimedPages(state));
    return { fits: need <= room, observation };
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
      // The host's memory never changes: once known, a request larger than all of it fails without a look.
      if (this.hostTotalPages !== undefined && need > this.hostTotalPages) throw largerThanTheHost(ctx, request.name, need, this.hostTotalPages, this.reserve);
      ctx.building.add(request.name);
      let attempt = 0;
      const physinfo = await ctx.backend.physinfo();
      this.hostTotalPages = physinfo.totalPages;
      if (need > physinfo.totalPages) throw largerThanTheHost(ctx, request.name, need, physinfo.totalPages, this.reserve);
      let observation: Observation | undefined;
      if (!ctx.lock.locked) {
        // The claim must leave the reserve for Xen (Xen itself cannot see it).
        const look = await this.claimFits(need, physinfo);
        observation = look.observation;
        if (!ctx.lock.locked && look.fits) {
          attempt++;
          const atMs = ctx.clock.now();
          ctx.emit({ type: 'building', request: request.name, claim: true, attempt });
          this.builds.starts(request.name, need);
          try {
            const domid = await this.build(request);
            result.admittedAtMs = atMs;
            return succeed(ctx, result, domid);
          } catch (error) {
            if (!isOutOfMemory(error)) throw error;
            ctx.emit({ type: 'claim-refused', request: request.name, error: eventError(error) });
            observation = undefined;
          } finally {
            this.builds.ends(request.name);
          }
        }
      }
      // More than the host could ever give (capacity.ts): fail now, without waiting for the lock or asking anyone.
      // (physinfo is still fresh when no build was tried: nothing happened since.)
      observation ??= await observe(ctx, attempt === 0 ? physinfo : undefined);
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
    const promised = (state: ObservedState): number => this.builds.unclaimedPages(state);

    const replan = async (wait: WaitState | undefined): Promise<WaitStep> => {
      const observation = await observe(ctx);
      const request = (promisedPages: number): BalloonPlan => planBalloon(observation.state, {
        needPages: need,
        promisedPages,
        policy: planPolicy(ctx),
        ...(wait ? { rates: donorRates(wait) } : {}),
      });
      // For the whole line when the host can give that much (the needs of the requests queued behind this one are
      // promised too), otherwise for this request alone; the wait itself is for this request's need.
      const unclaimed = promised(observation.state);
      const behind = this.line.pages - need;
      const forLine = behind > 0 ? request(unclaimed + behind) : undefined;
      const plan = forLine?.feasible ? forLine : request(unclaimed);
      lastPlan = plan;
      const set = plan.feasible ? await carryOutPlan(ctx, plan, name, ledger, name) : plan;
      if (plan === forLine) this.line.planned(set);
      const nowMs = ctx.clock.now();
      const headroom = headroomPages(observation.state.host) - unclaimed;
      const step = wait === undefined
        ? startWaiting({ needPages: need, plan: set, nowMs, headroomPages: headroom, config: ctx.wait })
        : applyPlan({ ...wait, lastHeadroomPages: headroom }, set, nowMs);
      // The line is still short, but this request's own need may be taken now (the reserve free or on its way from
      // the donors just asked): it goes at once instead of after a look.
      const arriving = set.donors.reduce((sum, d) => sum + Math.max(0, d.totPages - kibToPagesCeil(d.toKiB)), 0);
      if (step.decision.kind === 'wait' && admissiblePages(headroom, set.reservePages, arriving) >= need) {
        return { state: step.state, decision: { kind: 'retry-claim' } };
      }
      return step;
    };
    /** Its claim was staked on memory asked for the line (its donor changes are the line's in the journal). */
    let claimedFromLine = false;
    const io: WaitForMemoryIo<Claimed> = {
      waitForProgress: (untilMs) => pause(ctx, untilMs),
      look: (wait) => lookAtDonors(ctx, name, wait, promised),
      replan,
      markUncooperative: (wait, domids) => markUncooperative(ctx, ledger, name, name, wait, domids),
      // A retry is the build itself; refused again (the memory went elsewhere, or an injected ENOMEM), look again.
      retry: async (wait): Promise<RetryResult<Claimed>> => {
        attempt++;
        const outcome = await buildUntilClaimed(ctx, this.builds, request, need, attempt);
        if (outcome.kind === 'claimed') {
          // Recorded as the claim is staked: the build may finish before anything else is written.
          claimedFromLine = this.line.donors.size > 0;
          if (claimedFromLine) await this.line.claimedOnIt(ctx, name, need);
          // What is still on its way is for the requests queued behind, if any; else it is not needed any more (what
          // earlier requests asked for the line included).
          if (this.line.size === 1) {
            await releaseUnneededAsks(ctx, ledger, name, name, wait, this.line.donors);
            this.line.settled();
            // What it withdrew is the line's too (else a crash would give it back a second time).
            if (claimedFromLine) await this.line.pool(ctx, name);
          }
          return { kind: 'done', value: { build: outcome.build, atMs: outcome.atMs } };
        }
        return { kind: 'step', step: afterRefusedRetry(wait, ctx.clock.now()) };
      },
    };

    this.line.join(name, need);
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
      this.line.leave(name);
      result.admittedAtMs = claimed.atMs;
      const domid = await claimed.build;
      await keepDonors(ctx, ledger, name, name);
      await this.line.ended(ctx, name, claimedFromLine);
      return succeed(ctx, result, domid);
    } catch (error) {
      this.line.leave(name);
      if (ledger.size > 0 || ctx.limits.heldBy(name).length > 0) {
        await ctx.lock.withLock(async () => {
          // Another request waits for memory: it adopts what the donors gave instead of asking them again.
          if (this.line.size > 0) await handOver(ctx, ledger, name);
          else await restoreDonors(ctx, ledger, name, name);
          // Its changes were already the line's (its build failed after the claim): what it gave back is too.
          if (claimedFromLine) await this.line.pool(ctx, name);
        });
      }
      if (this.line.size === 0 && this.line.donors.size > 0) {
        // The line ends with this failure: what earlier requests asked for it and is still on its way goes back.
        await ctx.lock.withLock(async () => {
          if (this.line.size === 0) await this.line.giveBack(ctx, name);
        });
      }
      await this.line.ended(ctx, name, claimedFromLine);
      throw error;
    }
  }
}
