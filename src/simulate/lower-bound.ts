/**
 * lowerBoundS: a time before which no admission strategy could have every request running, given only the build
 * and balloon rates — so a strategy's makespan can be read against it. It is a bound, not an optimum: it relaxes
 * everything a real strategy must respect except two facts, each of which alone forces a request's running time:
 *  1. a guest cannot be running before it arrived and populated its memory at its build rate: at + MiB / buildMiBps;
 *  2. every started guest's pages must exist: the host's headroom at the start plus what the donors can give, each
 *     at its balloon rate from the first arrival (no strategy can balloon for a request not yet made), down to its
 *     floor and no further than a stalling driver goes. Uncooperative donors give nothing.
 * Ignored (each would only make the bound later, so ignoring them keeps it a bound): libxl's build overhead beyond the
 * guest's own pages, the host's reaction and polling times, memory demanded by guests growing. A guest's own demand
 * to shrink is counted as free from the start (the caller adds it to the headroom).
 * Requests that could never fit even alone are left out (every strategy fails them at once). When none is left, or the
 * rest cannot all fit together, there is no time at which every request runs: the bound is null. The bound is
 * rounded down to the millisecond, so it stays a bound. The tight bound (tight-bound.ts) adds all-or-nothing
 * admission, the moment ballooning may begin and the start rate.
 */
import { MemorySupply } from './supply.js';

export interface BoundDonor {
  /** MiB the donor can give: its size above its floor, capped where its balloon driver stalls. */
  reclaimableMiB: number;
  /** 0 for an uncooperative donor. */
  balloonMiBps: number;
}

export interface BoundRequest {
  at: number;
  memoryMiB: number;
  buildMiBps: number;
}

export interface BoundInput {
  /** Free minus outstanding claims once the scenario's guests run, before the first request. */
  headroomMiB: number;
  donors: readonly BoundDonor[];
  requests: readonly BoundRequest[];
}

export function lowerBoundS(input: BoundInput): number | null {
  const first = input.requests.reduce((t, r) => Math.min(t, r.at), Number.POSITIVE_INFINITY);
  const supply = new MemorySupply(input.headroomMiB, input.donors.map((d) => ({ ...d, fromS: Number.isFinite(first) ? first : 0 })));
  const feasible = input.requests.filter((r) => r.memoryMiB <= supply.capacityMiB);
  if (feasible.length === 0) return null;
  const built = feasible.reduce((t, r) => Math.max(t, r.at + r.memoryMiB / r.buildMiBps), 0);
  const firstFeasible = feasible.reduce((t, r) => Math.min(t, r.at), Number.POSITIVE_INFINITY);
  const memoryTime = supply.timeToHave(feasible.reduce((sum, r) => sum + r.memoryMiB, 0), firstFeasible);
  if (memoryTime === null) return null;
  return Math.floor(Math.max(built, memoryTime) * 1000 + 1e-6) / 1000;
}
