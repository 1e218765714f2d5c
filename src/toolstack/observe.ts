/**
 * One look at the host: physinfo and the domain list, turned into the ObservedState every decision is made from,
 * with the host's own records (floors, guests being built, uncooperative donors) as the domains' facts.
 */
import { donorFacts } from '../admission/donor-facts.js';
import { observeState, type ObservedState } from '../admission/state.js';
import type { DomainInfo, Physinfo } from '../backend.js';
import type { StrategyContext } from './context.js';

/** One look: what the backend reported (pages, Xen's meanings) and the state decisions are made from. */
export interface Observation {
  physinfo: Physinfo;
  domains: DomainInfo[];
  state: ObservedState;
}

/**
 * Reads physinfo, then the domain list (two backend calls, in that order). A donor marked uncooperative whose
 * domain is gone is forgotten: its domid may be given to a new guest.
 */
export async function observe(ctx: StrategyContext): Promise<Observation> {
  const physinfo = await ctx.backend.physinfo();
  const domains = await ctx.backend.listDomains();
  if (ctx.uncooperative.size > 0) {
    const listed = new Set(domains.map((d) => d.domid));
    for (const domid of ctx.uncooperative) if (!listed.has(domid)) ctx.uncooperative.delete(domid);
  }
  const facts = donorFacts(domains, { floorsKiB: ctx.floorsKiB(), building: ctx.building, uncooperative: ctx.uncooperative });
  return { physinfo, domains, state: observeState(physinfo, domains, facts) };
}
