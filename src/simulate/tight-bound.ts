/**
 * The tight bound (docs/bounds.md): the earliest time every request could be running if a guest may only start
 * building once its whole allocation is free — claims are all-or-nothing — given the build and balloon rates, the
 * host's start rate, and perfect knowledge of which donors are stuck. Pure; MiB and seconds.
 *
 * The model (each simplification only makes the bound earlier, so it stays a bound):
 *  - request j arrives at a_j, needs m_j MiB and builds for d_j = m_j / buildMiBps once started at s_j ≥ a_j;
 *  - it may start only when the memory free at s_j covers every request started so far, its own included:
 *    Σ_{k: s_k ≤ s_j} m_k ≤ S(s_j), where S is the supply (supply.ts): the headroom plus every donor giving at its
 *    rate, from the moment ballooning may begin (σ, see below) or the donor is ready, down to its floor or stall;
 *  - with a start rate, two starts are at least 1 / startsPerS apart;
 *  - σ, the moment ballooning may begin: no admitter balloons before the needs of the requests that have arrived
 *    (and that it could take for possible) exceed the headroom less its own safety margins (docs/bounds.md#sigma), so
 *    σ is the first arrival at which those needs exceed headroom − marginMiB.
 * Requests that could never fit alone settle no earlier than they arrive (they count for the makespan by their
 * arrival) and have no bound of their own (null). When the others cannot all fit at once, or none can run at all,
 * there is no time at which every request runs: the bound is null.
 *
 * Without a start rate the bound is exact for any number of requests: starting every request as late as its finish
 * allows (s_j = T − d_j) never hurts the memory constraint, so the optimum is max over the arrivals (a_j + d_j) and
 * over the requests in order of decreasing build time (d_(k) + τ(C_k)), with C_k the memory of the first k and τ the
 * supply's inverse. With a start rate it is exact (every order tried) up to EXACT_MAX_REQUESTS requests, and beyond
 * that the maximum of three proven relaxations (docs/bounds.md#relaxation).
 */
import { BinaryHeap } from '../binary-heap.js';
import { MemorySupply, type SupplyDonor } from './supply.js';

/** Up to this many runnable requests, a start-rate bound tries every order of starts (8! = 40,320). */
export const EXACT_MAX_REQUESTS = 8;

export interface TightBoundRequest {
  at: number;
  /** Pages the build populates, in MiB: what must be free when it starts. */
  memoryMiB: number;
  /** libxl's need (memory plus its overhead), in MiB: what the admitters compare with free memory. */
  needMiB: number;
  buildMiBps: number;
}

export interface TightBoundInput {
  headroomMiB: number;
  /** Each donor's range and rate; `fromS` is when it is ready (a guest still building: when it runs), else 0. */
  donors: readonly SupplyDonor[];
  requests: readonly TightBoundRequest[];
  /** At most this many starts per second (Infinity or 0: unlimited). */
  startsPerS: number;
  /** The most any admitter keeps free beyond the needs before it balloons (docs/bounds.md#sigma). */
  marginMiB: number;
  /**
   * The most memory any admitter could believe it can find for a request (docs/bounds.md#sigma): free pages with
   * claims not subtracted, plus every donor's range with stuck and stalling ones counted in full. A request within
   * it may be ballooned for, even if it can never run. Default: the supply's capacity.
   */
  apparentCapacityMiB?: number;
}

export interface TightBound {
  /** The bound in seconds (rounded down to the ms); null when the runnable requests cannot all run, or none can. */
  boundS: number | null;
  /** Exact (true) or a relaxation (false, only with a start rate and many requests). */
  exact: boolean;
  /** When ballooning may begin (σ); null when it is never needed. */
  ballooningFromS: number | null;
  /** Per request: the earliest it could be running were it alone (null: it can never run). */
  aloneS: (number | null)[];
}

interface Job {
  a: number;
  m: number;
  d: number;
}

function floorMs(s: number): number {
  return Math.floor(s * 1000 + 1e-6) / 1000;
}

/** σ: the first arrival at which the needs of the requests arrived so far exceed headroom − margin. */
export function ballooningFrom(input: TightBoundInput, runnable: readonly TightBoundRequest[]): number | null {
  const byArrival = [...runnable].sort((x, y) => x.at - y.at);
  let arrived = 0;
  for (let i = 0; i < byArrival.length; i++) {
    arrived += byArrival[i]!.needMiB;
    const next = byArrival[i + 1];
    if (next !== undefined && next.at === byArrival[i]!.at) continue;
    if (arrived > input.headroomMiB - input.marginMiB) return byArrival[i]!.at;
  }
  return null;
}

function supplyFrom(input: TightBoundInput, sigma: number | null): MemorySupply {
  const from = sigma ?? Number.POSITIVE_INFINITY;
  return new MemorySupply(
    input.headroomMiB,
    input.donors.map((d) => ({ ...d, fromS: Math.max(d.fromS, from) })),
  );
}

/** Without a start rate: exact, any number of requests (see the header). */
function unlimitedStarts(jobs: readonly Job[], supply: MemorySupply): number | null {
  let bound = jobs.reduce((t, j) => Math.max(t, j.a + j.d), 0);
  const byBuild = [...jobs].sort((x, y) => y.d - x.d);
  let cumulative = 0;
  for (let k = 0; k < byBuild.length; k++) {
    cumulative += byBuild[k]!.m;
    // Requests with equal build times start together: only the last of a tie is a constraint.
    if (k + 1 < byBuild.length && byBuild[k + 1]!.d === byBuild[k]!.d) continue;
    const tau = supply.timeToHave(cumulative);
    if (tau === null) return null;
    bound = Math.max(bound, byBuild[k]!.d + tau);
  }
  return bound;
}

/** The best makespan of one order of starts, each as late as the next start (gap δ) and its own finish allow. */
function orderMakespan(order: readonly Job[], gap: number, supply: MemorySupply): number | null {
  const n = order.length;
  const c = new Array<number>(n);
  c[n - 1] = order[n - 1]!.d;
  for (let k = n - 2; k >= 0; k--) c[k] = Math.max(order[k]!.d, c[k + 1]! + gap);
  let bound = 0;
  let cumulative = 0;
  for (let k = 0; k < n; k++) {
    cumulative += order[k]!.m;
    const tau = supply.timeToHave(cumulative);
    if (tau === null) return null;
    bound = Math.max(bound, c[k]! + Math.max(order[k]!.a, tau));
  }
  return bound;
}

/** Exact with a start rate: the best over every order of starts. */
function everyOrder(jobs: readonly Job[], gap: number, supply: MemorySupply): number | null {
  let best: number | null = null;
  const order: Job[] = [];
  const used = new Array<boolean>(jobs.length).fill(false);
  const visit = (): void => {
    if (order.length === jobs.length) {
      const t = orderMakespan(order, gap, supply);
      if (t !== null && (best === null || t < best)) best = t;
      return;
    }
    for (let i = 0; i < jobs.length; i++) {
      if (used[i]) continue;
      used[i] = true;
      order.push(jobs[i]!);
      visit();
      order.pop();
      used[i] = false;
    }
  };
  visit();
  return best;
}

/**
 * With a start rate and many requests: the largest of three relaxations, each proven in docs/bounds.md#relaxation —
 * (i) no start rate; (ii) the start rate without memory (the preemptive single-machine bound with release dates and
 * tails); (iii) the k-th start needs the k smallest allocations free and has n − k starts after it.
 */
function relaxed(jobs: readonly Job[], gap: number, supply: MemorySupply): number | null {
  const free = unlimitedStarts(jobs, supply);
  if (free === null) return null;
  let bound = Math.max(free, preemptiveStarts(jobs, gap));
  const sizes = jobs.map((j) => j.m).sort((x, y) => x - y);
  const shortest = jobs.reduce((t, j) => Math.min(t, j.d), Number.POSITIVE_INFINITY);
  let cumulative = 0;
  for (let k = 1; k <= sizes.length; k++) {
    cumulative += sizes[k - 1]!;
    const tau = supply.timeToHave(cumulative);
    if (tau === null) return null;
    bound = Math.max(bound, tau + (sizes.length - k) * gap + shortest);
  }
  return bound;
}

/**
 * Starts as jobs of length `gap` on one machine, released at a_j, each finishing d_j − gap after its slot ends
 * (its tail): the preemptive schedule that always serves the released job with the longest tail is optimal for the
 * preemptive problem (Jackson's rule), so its makespan bounds every non-preemptive one.
 */
function preemptiveStarts(jobs: readonly Job[], gap: number): number {
  const byRelease = [...jobs].sort((x, y) => x.a - y.a);
  // The released job with the longest tail first.
  const ready = new BinaryHeap<{ tail: number; left: number }>((x, y) => x.tail > y.tail);
  let t = 0;
  let i = 0;
  let makespan = 0;
  while (i < byRelease.length || ready.size > 0) {
    if (ready.size === 0) t = Math.max(t, byRelease[i]!.a);
    while (i < byRelease.length && byRelease[i]!.a <= t) {
      ready.push({ tail: byRelease[i]!.d - gap, left: gap });
      i++;
    }
    const job = ready.peek()!;
    const next = i < byRelease.length ? byRelease[i]!.a : Number.POSITIVE_INFINITY;
    const run = Math.min(job.left, next - t);
    t += run;
    job.left -= run;
    if (job.left <= 1e-12) {
      ready.pop();
      makespan = Math.max(makespan, t + job.tail);
    }
  }
  return makespan;
}

/** `exactUpTo`: try every order up to this many requests (default EXACT_MAX_REQUESTS; tests lower it). */
export function tightBound(input: TightBoundInput, exactUpTo = EXACT_MAX_REQUESTS): TightBound {
  const everything = new MemorySupply(input.headroomMiB, input.donors.map((d) => ({ ...d, fromS: 0 })));
  const runnable = input.requests.filter((r) => r.memoryMiB <= everything.capacityMiB);
  // Ballooning may begin for any request an admitter could take for possible, not only for those that are.
  const apparent = Math.max(everything.capacityMiB, input.apparentCapacityMiB ?? 0);
  const sigma = ballooningFrom(input, input.requests.filter((r) => r.memoryMiB <= apparent));
  // Alone, a request that needs ballooning has the donors from its arrival on (a donor still building is counted
  // from then too, which only makes this earlier): the supply from 0, shifted by its arrival — or, when a donor moves
  // by turns on the host's clock (which a shift would move), the supply from its arrival itself.
  const byTurns = input.donors.some((d) => d.intermittent !== undefined && d.intermittent !== null);
  const aloneS = input.requests.map((r) => {
    if (r.memoryMiB > everything.capacityMiB) return null;
    const build = r.memoryMiB / r.buildMiBps;
    if (r.needMiB <= input.headroomMiB - input.marginMiB) return floorMs(r.at + build);
    if (byTurns) {
      const at = new MemorySupply(input.headroomMiB, input.donors.map((d) => ({ ...d, fromS: r.at }))).timeToHave(r.memoryMiB, r.at);
      return at === null ? null : floorMs(at + build);
    }
    const tau = everything.timeToHave(r.memoryMiB);
    return tau === null ? null : floorMs(r.at + tau + build);
  });
  const gap = input.startsPerS > 0 && Number.isFinite(input.startsPerS) ? 1 / input.startsPerS : 0;
  const jobs: Job[] = runnable.map((r) => ({ a: r.at, m: r.memoryMiB, d: r.memoryMiB / r.buildMiBps }));
  const base = { exact: true, ballooningFromS: sigma, aloneS };
  if (jobs.length === 0) return { ...base, boundS: null };
  const supply = supplyFrom(input, sigma);
  const impossibleArrivals = input.requests.filter((r) => r.memoryMiB > everything.capacityMiB).map((r) => r.at);
  let bound: number | null;
  let exact = true;
  if (gap === 0) bound = unlimitedStarts(jobs, supply);
  else if (jobs.length <= exactUpTo) bound = everyOrder(jobs, gap, supply);
  else {
    bound = relaxed(jobs, gap, supply);
    exact = false;
  }
  if (bound === null) return { ...base, exact, boundS: null };
  return { ...base, exact, boundS: floorMs(impossibleArrivals.reduce((t, a) => Math.max(t, a), bound)) };
}
