/**
 * Carrying a balloon plan out on the donors, through the mutation port: set their targets and limit their
 * max_pages to them while the request depends on that memory (max-pages-limits.ts), give back what a replan no
 * longer needs or a failed request asked, let a stuck donor keep what it gave, and show their progress. The
 * arithmetic is admission's (balloon-plan.ts, donor-ledger.ts); this file only calls and reports.
 * See docs/architecture.md#donors.
 */
import type { BalloonPlan, PlannedDonor } from '../admission/balloon-plan.js';
import { stuckDonorRaiseKiB, type DonorLedger } from '../admission/donor-ledger.js';
import type { AskedDonor, WaitState } from '../admission/progress.js';
import type { DomainInfo } from '../backend.js';
import { XenError } from '../errors.js';
import { kibToPagesCeil, pagesToKiB } from '../units.js';
import type { StrategyContext } from './context.js';
import { eventError, type DonorTarget } from './events.js';

/**
 * Carries a plan out for `request` (a request's name; null for a strategy's queue), whose max_pages limits are held
 * as `holder`. Per planned donor:
 * - a lower target: set (enforce off), recorded in the ledger, then max_pages limited to it — the donor cannot grow
 *   back into what it gives while the request needs it (squeezed sets max_pages to the target each time it moves
 *   one);
 * - a higher target (a replan needs less of it): only what this requester asked is given back (reason 'replan'),
 *   and its limit follows;
 * - the same target while the donor is above it (memory it is already freeing, which the plan relies on): the
 *   target is written again — so a guest that grew past its recorded target is really asked — and limited.
 * Stops at the first failure (the ledger and the limits stay exact, for the caller's restore). Returns the plan as
 * really set: each donor's toKiB is the target it has now.
 */
export async function carryOutPlan(
  ctx: StrategyContext,
  plan: BalloonPlan,
  request: string | null,
  ledger: DonorLedger,
  holder: string,
): Promise<BalloonPlan> {
  const changes: { donor: PlannedDonor; toKiB: number; kind: 'lower' | 'raise' | 'rewrite' }[] = [];
  for (const donor of plan.donors) {
    if (donor.toKiB < donor.fromKiB) changes.push({ donor, toKiB: donor.toKiB, kind: 'lower' });
    else if (donor.toKiB > donor.fromKiB) {
      const owed = ledger.get(donor.domid)?.askedKiB ?? 0;
      const byKiB = Math.min(owed, donor.toKiB - donor.fromKiB);
      if (byKiB > 0) changes.push({ donor, toKiB: donor.fromKiB + byKiB, kind: 'raise' });
    } else if (donor.totPages > kibToPagesCeil(donor.fromKiB)) changes.push({ donor, toKiB: donor.fromKiB, kind: 'rewrite' });
  }
  const moved = changes.filter((c) => c.kind !== 'rewrite');
  if (moved.length > 0) {
    ctx.emit({
      type: 'ballooning',
      request,
      round: ctx.nextBalloonRound(),
      method: plan.method,
      shortfallKiB: pagesToKiB(plan.shortfallPages),
      donors: moved.map(({ donor, toKiB }) => ({ domid: donor.domid, name: donor.name, fromKiB: donor.fromKiB, toKiB })),
    });
  }
  const limited: { domid: number; name: string; maxKiB: number; kib: number }[] = [];
  try {
    for (const { donor, toKiB, kind } of changes) {
      const { domid, name, fromKiB } = donor;
      if (kind === 'raise') {
        await ctx.mutations.raiseTarget({ domid, name, request, byKiB: toKiB - fromKiB, reason: 'replan' });
        ledger.raised(domid, toKiB - fromKiB);
      } else {
        await ctx.mutations.lowerTarget({ domid, name, request, fromKiB, toKiB });
        if (kind === 'lower') ledger.lowered(domid, name, fromKiB, toKiB);
      }
      limited.push({ domid, name, maxKiB: donor.maxKiB, kib: toKiB });
    }
  } finally {
    if (limited.length > 0) await ctx.limits.limit(holder, 'donor', request, limited);
  }
  const set = new Map(changes.filter((c) => c.kind !== 'rewrite').map((c) => [c.donor.domid, c.toKiB]));
  // What really was set: a give-back this requester could not make leaves the target (and more to come) as it was.
  const donors = plan.donors.map((d) => {
    const toKiB = set.get(d.domid) ?? d.fromKiB;
    return toKiB === d.toKiB ? d : { ...d, toKiB, expectedFreePages: Math.max(0, d.totPages - kibToPagesCeil(toKiB)) };
  });
  return { ...plan, donors, coveredPages: donors.reduce((sum, d) => sum + d.expectedFreePages, 0) };
}

/**
 * Gives back what the ledger says was asked (all donors, or only `domids`): first `holder`'s max_pages limits on
 * them are lifted, then each target is raised by what was asked, relative to where it is now, so another
 * admission's own lowering of the same donor is kept. Each call is retried once; a donor that is gone is skipped.
 * Never throws: a failure is reported as a cleanup-failed event.
 */
export async function restoreDonors(
  ctx: StrategyContext,
  ledger: DonorLedger,
  request: string | null,
  holder: string,
  domids?: readonly number[],
): Promise<void> {
  await ctx.limits.release(holder, request, domids);
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
 * The wait is over (the need may be taken) while some donors it asked are still short of their targets. What is still
 * on its way is needed only for the part of the reserve for Xen that is not free yet: the fastest donors keep their
 * targets until that is covered; every other one keeps what it gave and the rest of its ask is given back now, its
 * limit with it (a donor that stopped — rate 0 — first of all: it must not be left at a target it will never reach,
 * counted by later plans as memory on its way). Nobody is marked uncooperative: the stall rule did not judge them.
 */
export async function releaseUnneededAsks(
  ctx: StrategyContext,
  ledger: DonorLedger,
  request: string | null,
  holder: string,
  wait: WaitState,
): Promise<void> {
  const rates = new Map(wait.asked.map((a) => [a.domid, a.ratePagesPerS]));
  const speed = (domid: number): number => rates.get(domid) ?? Number.MAX_VALUE / 2;
  const short = wait.donors.filter((d) => !d.reached && ledger.get(d.domid) !== undefined);
  if (short.length === 0) return;
  // Where they are now, not at the wait's last look: a donor still moving must not be told to grow back.
  let domains: DomainInfo[];
  try {
    domains = await ctx.backend.listDomains();
  } catch {
    return; // Best effort: they keep their asks, as they would have without this.
  }
  let reserveShort = Math.max(0, wait.reservePages - Math.max(0, wait.lastHeadroomPages - wait.needPages));
  const release: { domid: number; totPages: number }[] = [];
  for (const donor of short.sort((a, b) => speed(b.domid) - speed(a.domid))) {
    const info = domains.find((d) => d.domid === donor.domid);
    if (info === undefined) continue;
    if (reserveShort > 0 && speed(donor.domid) > 0) reserveShort -= Math.max(0, info.totPages - donor.targetPages);
    else release.push({ domid: donor.domid, totPages: info.totPages });
  }
  if (release.length > 0) await releaseStuckDonors(ctx, ledger, request, holder, release);
}

/**
 * The request the donors gave for is running: they keep their lowered targets, and `holder`'s max_pages limits on
 * them are lifted (the memory they gave is the new guest's now). Never throws.
 */
export async function keepDonors(ctx: StrategyContext, ledger: DonorLedger, request: string | null, holder: string): Promise<void> {
  ledger.commit();
  await ctx.limits.release(holder, request);
}

/**
 * A request that failed hands what it asked of donors, and its limits, to the next request waiting for the host
 * lock (ctx.handover) instead of giving it back: that request adopts it (adoptHandover), so the donors' gains are
 * not undone while they are still needed.
 */
export async function handOver(ctx: StrategyContext, ledger: DonorLedger, holder: string): Promise<void> {
  if (ledger.size > 0) await ctx.mutations.handOver({ request: holder });
  ctx.handover.absorb(ledger.take());
  await ctx.limits.transfer(holder, HANDOVER);
}

/** Takes over what a failed request handed over (see handOver). */
export async function adoptHandover(ctx: StrategyContext, ledger: DonorLedger, holder: string): Promise<void> {
  if (ctx.handover.size > 0) await ctx.mutations.adoptHandover({ request: holder });
  ledger.absorb(ctx.handover.take());
  await ctx.limits.transfer(HANDOVER, holder);
}

/** The holder name of limits handed over and not adopted yet. */
export const HANDOVER = 'handover';

/**
 * Donors found uncooperative keep what they gave and are asked for nothing more (stuckDonorRaiseKiB): the target
 * goes back up to where each stopped, and its max_pages limit with it (squeezed clips an inactive guest's max to
 * min(target, actual): it may free more while nobody looks, never take more). What a donor did give stays in the
 * ledger, given back too if the admission fails.
 */
async function releaseStuckDonors(
  ctx: StrategyContext,
  ledger: DonorLedger,
  request: string | null,
  holder: string,
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
  if (released.length > 0) {
    ctx.emit({ type: 'donors-restored', request, donors: released });
    await ctx.limits.limit(holder, 'donor', request, released.map((d) => ({ domid: d.domid, name: d.name, maxKiB: d.toKiB, kib: d.toKiB })));
  }
}

/**
 * The waiting policy found donors that made no progress: never ask them again on this host, say so, and let each
 * keep what it gave (its target and limit set where it stopped).
 */
export async function markUncooperative(
  ctx: StrategyContext,
  ledger: DonorLedger,
  request: string | null,
  holder: string,
  wait: WaitState,
  domids: readonly number[],
): Promise<void> {
  for (const domid of domids) {
    ctx.uncooperative.add(domid);
    const stuck = wait.uncooperative.find((u) => u.domid === domid);
    ctx.emit({ type: 'donor-uncooperative', request, domid, name: stuck?.name ?? `domain-${domid}` });
  }
  await releaseStuckDonors(ctx, ledger, request, holder, wait.uncooperative.filter((u) => domids.includes(u.domid)));
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
