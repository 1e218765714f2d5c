/**
 * One look at the host: physinfo and the domain list, turned into the ObservedState every decision is made from,
 * with the host's own records (floors, guests being built, uncooperative donors) as the domains' facts.
 */
import { donorFacts } from '../admission/donor-facts.js';
import { observeState, type ObservedState } from '../admission/state.js';
import type { DomainInfo, Physinfo } from '../backend.js';
import { XenError } from '../errors.js';
import type { StrategyContext } from './context.js';

/** One look: what the backend reported (pages, Xen's meanings) and the state decisions are made from. */
export interface Observation {
  physinfo: Physinfo;
  domains: DomainInfo[];
  state: ObservedState;
}

/** How many times a look is tried before its error stands (a transient EIO must not fail a batch). */
export const OBSERVE_ATTEMPTS = 3;

/** Errors that another try cannot cure: the backend is closed, or the caller may not look. */
const PERMANENT = new Set(['EBADF', 'EPERM', 'EACCES', 'ENOSYS', 'EINVAL']);

/**
 * Reads physinfo, then the domain list (two backend calls, in that order). A failure is tried again after one poll
 * interval, up to OBSERVE_ATTEMPTS looks in all, unless it cannot be cured (a closed backend, EPERM, EACCES,
 * ENOSYS, EINVAL): then, or after the last try, the error is thrown. A donor marked uncooperative whose domain is
 * gone is forgotten (its domid may be given to a new guest), and so are its max_pages limits.
 */
export async function observe(ctx: StrategyContext): Promise<Observation> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await observeOnce(ctx);
    } catch (error) {
      const code = error instanceof XenError ? error.code : null;
      if (attempt >= OBSERVE_ATTEMPTS || (code !== null && PERMANENT.has(code))) throw error;
      await ctx.clock.sleep(ctx.pollMs);
    }
  }
}

async function observeOnce(ctx: StrategyContext): Promise<Observation> {
  const physinfo = await ctx.backend.physinfo();
  const domains = await ctx.backend.listDomains();
  const listed = new Set(domains.map((d) => d.domid));
  for (const domid of ctx.uncooperative) if (!listed.has(domid)) ctx.uncooperative.delete(domid);
  for (const domid of ctx.limits.snapshot().keys()) if (!listed.has(domid)) ctx.limits.forget(domid);
  const facts = donorFacts(domains, {
    floorsKiB: ctx.floorsKiB(),
    building: ctx.building,
    uncooperative: ctx.uncooperative,
    withoutBalloonDriver: ctx.withoutBalloonDriver,
  });
  return { physinfo, domains, state: observeState(physinfo, domains, facts) };
}
