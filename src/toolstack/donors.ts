/**
 * Carrying a balloon plan out on the donors, through the mutation port: set their targets, give back what a failed
 * request asked, let a stuck donor keep what it gave, and show their progress. The arithmetic is admission's
 * (donor-ledger.ts); this file only calls and reports. See docs/architecture.md#donors.
 */
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { stuckDonorRaiseKiB, type DonorLedger } from '../admission/donor-ledger.js';
import type { AskedDonor, WaitState } from '../admission/progress.js';
import type { DomainInfo } from '../backend.js';
import { XenError } from '../errors.js';
import { kibToPagesCeil, pagesToKiB } from '../units.js';
import type { StrategyContext } from './context.js';
import { eventError, type DonorTarget } from './events.js';

/**
 * Sets the new targets of a plan's newly asked donors (max_pages left alone), recording in the ledger what was
 * actually lowered — a failure half-way leaves the ledger exact, so a restore gives back only what was really asked.
 */
export async function setDonorTargets(ctx: StrategyContext, plan: BalloonPlan, request: string | null, ledger: DonorLedger): Promise<void> {
  const asked = plan.donors.filter((d) => d.askedPages > 0 && d.toKiB < d.fromKiB);
  if (asked.length === 0) return;
  ctx.emit({
    type: 'ballooning',
    request,
    round: ctx.nextBalloonRound(),
    method: plan.method,
    shortfallKiB: pagesToKiB(plan.shortfallPages),
    donors: asked.map((d) => ({ domid: d.domid, name: d.name, fromKiB: d.fromKiB, toKiB: d.toKiB })),
  });
  for (const donor of asked) {
    await ctx.mutations.lowerTarget({ domid: donor.domid, name: donor.name, request, fromKiB: donor.fromKiB, toKiB: donor.toKiB });
    ledger.lowered(donor.domid, donor.name, donor.fromKiB, donor.toKiB);
  }
}

/**
 * Gives back what the ledger says was asked (all donors, or only `domids`): each target is raised by what was
 * asked, relative to where it is now, so another admission's own lowering of the same donor is kept. Each call is
 * retried once; a donor that is gone is skipped. Never throws: a failure is reported as a cleanup-failed event.
 */
export async function restoreDonors(ctx: StrategyContext, ledger: DonorLedger, request: string | null, domids?: readonly number[]): Promise<void> {
  const restored: DonorTarget[] = [];
  for (const entry of ledger.take(domids)) {
    const ok = await cleanup(ctx, request, `restore the target of ${entry.name} (domid ${entry.domid})`, () =>
      ctx.mutations.raiseTarget({ domid: entry.domid, name: entry.name, request, byKiB: entry.askedKiB, reason: 'restore' }),
    );
    if (ok) restored.push({ domid: entry.domid, name: entry.name, fromKiB: entry.toKiB, toKiB: entry.toKiB + entry.askedKiB });
  }
  if (restored.length > 0) ctx.emit({ type: 'donors-restored', request, donors: restored });
}

/**
 * Donors found uncooperative keep what they gave and are asked for nothing more (stuckDonorRaiseKiB). What a donor
 * did give stays in the ledger, given back too if the admission fails.
 */
async function releaseStuckDonors(
  ctx: StrategyContext,
  ledger: DonorLedger,
  request: string | null,
  stuck: readonly { domid: number; totPages: number }[],
): Promise<void> {
  const released: DonorTarget[] = [];
  for (const donor of stuck) {
    const entry = ledger.get(donor.domid);
    if (!entry) continue;
    const raiseKiB = stuckDonorRaiseKiB(entry, donor.totPages);
    if (raiseKiB === 0) continue;
    const ok = await cleanup(ctx, request, `give ${entry.name} (domid ${entry.domid}) its target back`, () =>
      ctx.mutations.raiseTarget({ domid: entry.domid, name: entry.name, request, byKiB: raiseKiB, reason: 'stuck' }),
    );
    if (!ok) continue;
    ledger.raised(entry.domid, raiseKiB);
    released.push({ domid: entry.domid, name: entry.name, fromKiB: entry.toKiB, toKiB: entry.toKiB + raiseKiB });
  }
  if (released.length > 0) ctx.emit({ type: 'donors-restored', request, donors: released });
}

/**
 * The waiting policy found donors that made no progress: never ask them again on this host, say so, and let each
 * keep what it gave (its target set where it stopped).
 */
export async function markUncooperative(
  ctx: StrategyContext,
  ledger: DonorLedger,
  request: string | null,
  wait: WaitState,
  domids: readonly number[],
): Promise<void> {
  for (const domid of domids) {
    ctx.uncooperative.add(domid);
    const stuck = wait.uncooperative.find((u) => u.domid === domid);
    ctx.emit({ type: 'donor-uncooperative', request, domid, name: stuck?.name ?? `domain-${domid}` });
  }
  await releaseStuckDonors(ctx, ledger, request, wait.uncooperative.filter((u) => domids.includes(u.domid)));
}

/** Runs a cleanup step, retrying once; ESRCH (the domain is gone) counts as done. False (and an event) on failure. */
export async function cleanup(ctx: StrategyContext, request: string | null, step: string, action: () => Promise<void>): Promise<boolean> {
  let last: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await action();
      return true;
    } catch (error) {
      if (error instanceof XenError && error.code === 'ESRCH') return true;
      last = error;
    }
  }
  ctx.emit({ type: 'cleanup-failed', request, step, error: eventError(last) });
  return false;
}

/** Publishes donor-progress for every watched donor seen in an observation. */
export function donorProgress(ctx: StrategyContext, request: string | null, asked: readonly AskedDonor[], domains: readonly DomainInfo[]): void {
  for (const donor of asked) {
    const info = domains.find((d) => d.domid === donor.domid);
    if (!info) continue;
    const wanted = donor.firstTotPages - kibToPagesCeil(donor.lastTargetKiB);
    const given = donor.firstTotPages - info.totPages;
    ctx.emit({
      type: 'donor-progress',
      request,
      domid: donor.domid,
      name: donor.name,
      totKiB: pagesToKiB(info.totPages),
      targetKiB: donor.lastTargetKiB,
      fraction: wanted <= 0 ? 1 : Math.max(0, Math.min(1, given / wanted)),
    });
  }
}
