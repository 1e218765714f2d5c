/**
 * claim-first's hedge against stuck donors (docs/architecture.md#the-hedge). A stuck donor used to cost a request the
 * whole stall timeout (5 s) before the plan turned to the others. Instead:
 *  - every plan asks the donors enough up front to cover the shortfall even if the donor expected to give the most
 *    gives nothing (balloon-plan.ts, policy.hedgeDonors = 1 unless the host's policy says otherwise);
 *  - a donor asked to give that has not moved for hedgeAfterMs (0.5 s) — within one wait or across the requests of
 *    the line — is hesitant: the plan is redone at once without counting on it (policy.hesitantDomids); it stays
 *    watched, and is marked uncooperative only after the stall timeout. It stays hesitant for the next requests too,
 *    until it moves or its domain goes;
 *  - once nobody is left in the fallback's line, what was asked and is not needed any more is given back: every
 *    donor lowered for the line that is still above its target gets its target raised to where it is now.
 */
import type { BalloonPlan, BalloonPolicy } from '../admission/balloon-plan.js';
import { hesitantDonors, resolveWaitConfig, type WaitState, type WaitStep } from '../admission/progress.js';
import { kibToPagesCeil, kibToPagesFloor, pagesToKiB } from '../units.js';
import { planPolicy, type StrategyContext } from './context.js';
import { cleanup } from './donors.js';
import { eventError, type DonorTarget } from './events.js';
import { observe, type Observation } from './observe.js';

/** What the hedge remembers for one host's claim-first; used under the host lock. */
export class Hedge {
  /** Hesitant donors and their tot_pages when found so: un-hesitant once lower. */
  private readonly hesitant = new Map<number, number>();
  /** Donors lowered for the current line, by domid. */
  private readonly lowered = new Map<number, string>();
  /** Each lowered donor's tot_pages when last seen to change, and when. */
  private readonly motion = new Map<number, { totPages: number; sinceMs: number }>();

  constructor(private readonly ctx: StrategyContext) {}

  /** The planning policy: the host's, with the hedge and the hesitant donors. */
  policy(): Partial<BalloonPolicy> {
    const base = planPolicy(this.ctx);
    return { ...base, hedgeDonors: base.hedgeDonors ?? 1, hesitantDomids: [...this.hesitant.keys()] };
  }

  /**
   * From a fresh observation: forgets hesitation for donors that moved since, or are gone; and finds hesitant any
   * donor lowered for the line that is short of its target and has not moved for hedgeAfterMs — across requests, so
   * that a stuck donor costs the line one hedgeAfterMs, not one per request.
   */
  refresh(observation: Observation, nowMs: number): void {
    const tot = new Map(observation.domains.map((d) => [d.domid, d]));
    for (const [domid, pages] of this.hesitant) {
      const now = tot.get(domid)?.totPages;
      if (now === undefined || now < pages) this.hesitant.delete(domid);
    }
    const { hedgeAfterMs, targetTolerancePages } = resolveWaitConfig(this.ctx.wait);
    for (const [domid, seen] of this.motion) {
      const d = tot.get(domid);
      if (d === undefined) {
        this.motion.delete(domid);
        continue;
      }
      if (d.totPages !== seen.totPages) this.motion.set(domid, { totPages: d.totPages, sinceMs: nowMs });
      else if (nowMs - seen.sinceMs >= hedgeAfterMs && d.totPages > kibToPagesCeil(d.targetKiB ?? 0) + targetTolerancePages) {
        this.hesitant.set(domid, d.totPages);
      }
    }
  }

  /** Records whom a plan lowered (for the give-back) and starts watching them move. */
  asked(plan: BalloonPlan, nowMs: number): void {
    for (const d of plan.donors) {
      if (d.askedPages === 0) continue;
      this.lowered.set(d.domid, d.name);
      if (!this.motion.has(d.domid)) this.motion.set(d.domid, { totPages: d.expectedFreePages + kibToPagesCeil(d.toKiB), sinceMs: nowMs });
    }
  }

  /** After a look: a donor newly found hesitant turns a plain wait into a replan around it. */
  afterLook(step: WaitStep, nowMs: number): WaitStep {
    if (step.decision.kind !== 'wait') return step;
    const fresh = hesitantDonors(step.state, nowMs).filter((domid) => !this.hesitant.has(domid));
    if (fresh.length === 0) return step;
    for (const domid of fresh) this.hesitant.set(domid, this.watchedTot(step.state, domid));
    return { state: step.state, decision: { kind: 'replan' } };
  }

  /**
   * The line is empty: every donor lowered for it that has not reached its target gets the target raised to where
   * it is now. Never throws (a failure is a cleanup-failed event).
   */
  async giveBackUnneeded(): Promise<void> {
    const ctx = this.ctx;
    if (this.lowered.size === 0) return;
    let observation: Observation;
    try {
      observation = await observe(ctx);
    } catch (error) {
      ctx.emit({ type: 'cleanup-failed', request: null, step: 'look at the donors to give back what was not needed', error: eventError(error) });
      return;
    }
    const given: DonorTarget[] = [];
    for (const d of observation.domains) {
      const name = this.lowered.get(d.domid);
      if (name === undefined || d.targetKiB === undefined || d.dying) continue;
      const byKiB = pagesToKiB(d.totPages) - d.targetKiB;
      if (kibToPagesFloor(byKiB) <= 0) continue;
      const ok = await cleanup(ctx, null, `give ${name} (domid ${d.domid}) back what was not needed`, () =>
        ctx.mutations.raiseTarget({ domid: d.domid, name, request: null, byKiB, reason: 'unneeded' }),
      );
      if (ok) given.push({ domid: d.domid, name, fromKiB: d.targetKiB, toKiB: d.targetKiB + byKiB });
    }
    this.lowered.clear();
    this.motion.clear();
    if (given.length > 0) ctx.emit({ type: 'donors-restored', request: null, donors: given });
  }

  private watchedTot(state: WaitState, domid: number): number {
    return state.donors.find((d) => d.domid === domid)?.lowestTotPages ?? Number.POSITIVE_INFINITY;
  }
}
