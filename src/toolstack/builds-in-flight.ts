/**
 * claim-first's builds in flight, by name, with each one's need (pages): until a build returns, what Xen does not
 * show for it yet — its claim before libxl stakes it, libxl's extra beyond the claim — is promised to it. Kept with
 * their sum, so "could the builds in flight still take this much?" needs no look at the host.
 */
import type { ObservedState } from '../admission/state.js';
import { isOutOfMemory } from '../errors.js';
import type { StrategyContext } from './context.js';
import { eventError } from './events.js';
import type { GuestRequest } from './types.js';

/** How a claimed build went, as far as admission cares: its claim was staked (it runs on), or refused (ENOMEM). */
export type BuildOutcome = { kind: 'claimed'; build: Promise<number>; atMs: number } | { kind: 'refused' };

export class BuildsInFlight {
  private readonly needs = new Map<string, number>();
  /** Σ of the needs: the most the builds in flight could still take. */
  private sum = 0;

  get totalPages(): number {
    return this.sum;
  }

  /** A build of `name` needing `need` pages starts (replacing any earlier one of that name). */
  starts(name: string, need: number): void {
    this.ends(name);
    this.needs.set(name, need);
    this.sum += need;
  }

  /** The build of `name` returned (or never started). */
  ends(name: string): void {
    const need = this.needs.get(name);
    if (need === undefined) return;
    this.needs.delete(name);
    this.sum -= need;
  }

  /**
   * What the builds still need beyond what Xen shows for them in `state` (their domain's tot_pages plus its claim):
   * before libxl stakes the claim, all of it; after, libxl's extra beyond the claim. One pass over the domains, not
   * one per build: a boot storm has many builds in flight on a host running many guests.
   */
  unclaimedPages(state: ObservedState): number {
    return stillToTake(this.needs, state);
  }
}

/**
 * What requests needing `needs` (name → pages) still have to take beyond what their live domains in `state` hold
 * (tot_pages plus outstanding claim), in pages: 0 for one whose domain holds its need, all of it for one without a
 * domain yet. One pass over the domains.
 */
export function stillToTake(needs: ReadonlyMap<string, number>, state: ObservedState): number {
  if (needs.size === 0) return 0;
  const held = new Map<string, number>();
  for (const d of state.domains) if (!d.dying && needs.has(d.name)) held.set(d.name, d.totPages + d.outstandingPages);
  let pages = 0;
  for (const [name, need] of needs) pages += Math.max(0, need - (held.get(name) ?? 0));
  return pages;
}

/**
 * Starts `request`'s build with a claim (one of `builds`, needing `need` pages) and returns once its claim is staked
 * — seen as the new domain's outstanding pages, looking every poll interval — or the build settled, so the host lock
 * can be released while the guest populates. A refusal with ENOMEM returns 'refused'; any other failure throws.
 */
export async function buildUntilClaimed(
  ctx: StrategyContext,
  builds: BuildsInFlight,
  request: GuestRequest,
  need: number,
  attempt: number,
): Promise<BuildOutcome> {
  const atMs = ctx.clock.now();
  ctx.emit({ type: 'building', request: request.name, claim: true, attempt });
  const build = ctx.mutations.buildGuest({ name: request.name, claim: true, paused: request.paused ?? false }, request.config);
  builds.starts(request.name, need);
  let settled: { ok: true; domid: number } | { ok: false; error: unknown } | undefined;
  build.then(
    (domid) => {
      builds.ends(request.name);
      settled = { ok: true, domid };
    },
    (error: unknown) => {
      builds.ends(request.name);
      settled = { ok: false, error };
    },
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
