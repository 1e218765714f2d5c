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
 * Requests that could never fit even alone are left out (every strategy fails them at once). When the rest cannot
 * all fit together there is no time at which every request runs: the bound is null.
 */

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

/** Memory available t seconds after ballooning may start. */
function availableMiB(input: BoundInput, t: number): number {
  let total = Math.max(0, input.headroomMiB);
  for (const d of input.donors) {
    if (d.balloonMiBps > 0) total += Math.min(d.reclaimableMiB, d.balloonMiBps * Math.max(0, t));
  }
  return total;
}

/** The earliest t ≥ 0 with availableMiB(t) ≥ needMiB (piecewise linear, so exact), or null if never. */
function timeToHave(input: BoundInput, needMiB: number): number | null {
  if (availableMiB(input, 0) >= needMiB) return 0;
  // Breakpoints are where a donor runs out; between them the supply grows linearly.
  const ends = input.donors
    .filter((d) => d.balloonMiBps > 0 && d.reclaimableMiB > 0)
    .map((d) => d.reclaimableMiB / d.balloonMiBps)
    .sort((a, b) => a - b);
  let from = 0;
  for (const end of [...ends, Number.POSITIVE_INFINITY]) {
    const atFrom = availableMiB(input, from);
    const rate = input.donors.reduce((sum, d) => sum + (d.balloonMiBps > 0 && d.reclaimableMiB > d.balloonMiBps * from ? d.balloonMiBps : 0), 0);
    if (rate > 0) {
      const t = from + (needMiB - atFrom) / rate;
      if (t <= end) return t;
    }
    if (end === Number.POSITIVE_INFINITY) return null;
    from = end;
  }
  return null;
}

export function lowerBoundS(input: BoundInput): number | null {
  const capacity = availableMiB(input, Number.POSITIVE_INFINITY);
  const feasible = input.requests.filter((r) => r.memoryMiB <= capacity);
  if (feasible.length === 0) return 0;
  const built = Math.max(...feasible.map((r) => r.at + r.memoryMiB / r.buildMiBps));
  const firstArrival = Math.min(...feasible.map((r) => r.at));
  const memoryTime = timeToHave(input, feasible.reduce((sum, r) => sum + r.memoryMiB, 0));
  if (memoryTime === null) return null;
  return Math.round(Math.max(built, firstArrival + memoryTime) * 1000) / 1000;
}
