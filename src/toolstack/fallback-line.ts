/**
 * claim-first's line: the requests in its ballooning fallback (waiting for the host lock, or ballooning), each with
 * its need in pages. The fallback plans for the whole line — the needs of those behind are promised too — so in a
 * boot storm the memory for the next in line is freed while one waits (docs/architecture.md#claim-first). The donors
 * a plan for the line lowered are remembered: once the line is empty, what is still on their way and no request
 * needs is given back.
 */
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { pagesToKiB } from '../units.js';
import type { StrategyContext } from './context.js';
import { cleanup } from './donors.js';
import type { DonorTarget } from './events.js';

export class FallbackLine {
  private readonly needs = new Map<string, number>();
  private sum = 0;
  /** Donors a plan for the line lowered: domid → name. */
  private readonly lowered = new Map<number, string>();
  /** Guests that claimed on memory asked for the line and are still being built. */
  private buildsOnIt = 0;
  /** The journal holds donor changes pooled for the line (keep-for-line) not closed yet. */
  private pooled = false;

  get size(): number {
    return this.needs.size;
  }

  /** Σ of the needs in the line (pages). */
  get pages(): number {
    return this.sum;
  }

  /** The donors lowered for the line (domid → name): what releaseUnneededAsks also withdraws at its end. */
  get donors(): ReadonlyMap<number, string> {
    return this.lowered;
  }

  join(name: string, need: number): void {
    this.leave(name);
    this.needs.set(name, need);
    this.sum += need;
  }

  /** The request leaves the line (its claim is staked, or it failed). */
  leave(name: string): void {
    const need = this.needs.get(name);
    if (need === undefined) return;
    this.needs.delete(name);
    this.sum -= need;
  }

  /** A plan made for the line was carried out: the donors it lowered are the line's. */
  planned(plan: BalloonPlan): void {
    for (const d of plan.donors) if (d.toKiB < d.fromKiB) this.lowered.set(d.domid, d.name);
  }

  /**
   * `request` claimed on memory asked for the line: the journal pools its donor changes as the line's, and it keeps
   * `needPages` of them if its guest runs (keep-for-line; recovery's lineRepairs), so that a crash before the line
   * ends gives the donors back what was asked for requests that never started.
   */
  async claimedOnIt(ctx: StrategyContext, request: string, needPages: number): Promise<void> {
    this.buildsOnIt++;
    await this.record(ctx, { request, keepKiB: pagesToKiB(needPages) });
  }

  /** `request`'s donor changes join the line's pool, keeping nothing (what it gave back is the line's too). */
  pool(ctx: StrategyContext, request: string): Promise<void> {
    return this.record(ctx, { request, keepKiB: 0 });
  }

  /**
   * `request`'s admission ended (`claimedOnIt`: it had claimed on the line). Once the line is empty and no guest that
   * claimed on it is still being built, what donors gave for it is settled as it would be without a crash: the pool
   * is closed in the journal (lineEnds) instead of staying open until the host is idle.
   */
  async ended(ctx: StrategyContext, request: string, claimedOnIt: boolean): Promise<void> {
    if (claimedOnIt) this.buildsOnIt--;
    if (!this.pooled || this.needs.size > 0 || this.buildsOnIt > 0) return;
    await this.record(ctx, { request, keepKiB: 0, lineEnds: true });
  }

  /** Journals a keep-for-line. Best effort: a journal that cannot write reports it; the pool then closes at idle. */
  private async record(ctx: StrategyContext, intent: { request: string; keepKiB: number; lineEnds?: boolean }): Promise<void> {
    this.pooled = intent.lineEnds !== true; // before the await: a request claiming meanwhile opens a new pool
    try {
      await ctx.mutations.keepForLine(intent);
    } catch {
      // See above.
    }
  }

  /** The line's asks were settled (withdrawn where not needed, with the last request's). */
  settled(): void {
    this.lowered.clear();
  }

  /**
   * The line ended with a failure: every donor lowered for it that is still above its target gets its target set to
   * where it is (it keeps what it gave; the rest is not needed). Best effort, never throws: a donor whose target
   * could not be raised is reported as cleanup-failed.
   */
  async giveBack(ctx: StrategyContext, request: string): Promise<void> {
    const donors = new Map(this.lowered);
    this.lowered.clear();
    if (donors.size === 0) return;
    let domains;
    try {
      domains = await ctx.backend.listDomains();
    } catch {
      return; // Best effort, as releaseUnneededAsks.
    }
    const given: DonorTarget[] = [];
    for (const d of domains) {
      const name = donors.get(d.domid);
      if (name === undefined || d.targetKiB === undefined || d.dying || pagesToKiB(d.totPages) <= d.targetKiB) continue;
      const byKiB = pagesToKiB(d.totPages) - d.targetKiB;
      const ok = await cleanup(ctx, request, `give ${name} (domid ${d.domid}) back what the line no longer needs`, () =>
        ctx.mutations.raiseTarget({ domid: d.domid, name, request, byKiB, reason: 'replan' }),
      );
      if (ok) given.push({ domid: d.domid, name, fromKiB: d.targetKiB, toKiB: d.targetKiB + byKiB });
    }
    if (given.length > 0) ctx.emit({ type: 'donors-restored', request, donors: given });
    // What it gave back is the line's too: a crash before the pool closes must not give it back twice.
    await this.pool(ctx, request);
  }
}
