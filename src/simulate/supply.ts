/**
 * The memory a host could have free over time, at best: its headroom at the start plus what every donor could give,
 * each at its balloon rate from the moment it may start, down to what it can give at most. Pure; MiB and seconds.
 * Both bounds (lower-bound.ts, tight-bound.ts) are built on it (docs/bounds.md#supply).
 *
 * The supply is piecewise linear and nondecreasing: it is kept as its breakpoints (time, value, slope after), built
 * once in O(n log n), so `availableMiB` and `timeToHave` cost O(log n) each.
 *
 * An intermittent donor (its driver moves movingS, then stops stuckS, over and over, from time 0: the mock host's
 * phase) gives only in its moving windows, counted so that the supply stays at or above what the mock's driver can
 * deliver (givingIntervals).
 */

/** The mock host's balloon tick (src/mock/host.ts TICK_MS), in s. */
const TICK_S = 0.1;
/** Past this many windows of one intermittent donor, the rest is counted at its full rate (still an upper bound). */
const MAX_WINDOWS = 100_000;

export interface SupplyDonor {
  /** MiB the donor can give at most: its size above its floor, capped where its balloon driver stalls. */
  reclaimableMiB: number;
  /** 0 for a donor that gives nothing (uncooperative). */
  balloonMiBps: number;
  /** The earliest time it can start giving (s). */
  fromS: number;
  /** Moves movingS, then stops stuckS, over and over from time 0 (absent: always moves once asked). */
  intermittent?: { movingS: number; stuckS: number } | null;
}

/**
 * When a donor may give, as [start, end) intervals at its full rate from `fromS` on, until it has given `cap` MiB
 * (the last interval is cut there; an always-moving donor has one interval). An intermittent donor's driver ticks
 * (every 100 ms, the first a tick after it is asked, or at a window's start when it was stuck) only inside its moving
 * windows [s, e), each tick moving 100 ms's worth: its first tick in a window is at τ = max(s, fromS + 100 ms), it
 * makes at most ⌈(e − τ) / 100 ms⌉ there, and by any time t it has moved at most the rate × (t − τ + 100 ms). So the
 * window is counted at the full rate from τ − 100 ms for that many ticks (overlapping ones merged).
 */
export function givingIntervals(donor: SupplyDonor, cap = donor.reclaimableMiB): [number, number][] {
  const from = Math.max(0, donor.fromS);
  const rate = donor.balloonMiBps;
  const cycle = donor.intermittent;
  if (cycle === undefined || cycle === null || cycle.stuckS === 0 || !Number.isFinite(from)) return [[from, from + cap / rate]];
  // The mock's phase, in whole ms (src/mock/guest.ts).
  const movingMs = Math.max(1, Math.round(cycle.movingS * 1000));
  const periodMs = movingMs + Math.max(1, Math.round(cycle.stuckS * 1000));
  const out: [number, number][] = [];
  let left = cap;
  for (let k = Math.max(0, Math.floor((from * 1000) / periodMs) - 1); left > 0; k++) {
    const windowS = (k * periodMs) / 1000;
    const endS = (k * periodMs + movingMs) / 1000;
    const firstTick = Math.max(windowS, from + TICK_S);
    if (firstTick >= endS) continue;
    let start = firstTick - TICK_S;
    let end = out.length >= MAX_WINDOWS ? Number.POSITIVE_INFINITY : start + Math.ceil((endS - firstTick) / TICK_S - 1e-9) * TICK_S;
    const last = out[out.length - 1];
    if (last !== undefined && start <= last[1]) {
      start = last[1];
      if (end <= start) continue;
    }
    // The last window ends where the donor has given everything (exactly: no floating-point residue left to chase).
    if ((end - start) * rate >= left) {
      end = start + left / rate;
      left = 0;
    } else {
      left -= (end - start) * rate;
    }
    if (last !== undefined && last[1] === start) last[1] = end;
    else out.push([start, end]);
  }
  return out;
}

interface Breakpoint {
  t: number;
  value: number;
  /** MiB/s from t to the next breakpoint. */
  slope: number;
}

export class MemorySupply {
  /** Everything that could ever be free: the headroom and every donor's whole range (MiB). */
  readonly capacityMiB: number;
  private readonly points: Breakpoint[] = [];

  constructor(
    /** Free minus outstanding claims at the start (MiB). */
    readonly headroomMiB: number,
    donors: readonly SupplyDonor[],
  ) {
    const giving = donors.filter((d) => d.balloonMiBps > 0 && d.reclaimableMiB > 0);
    const changes: { t: number; slope: number }[] = [];
    for (const d of giving) {
      for (const [from, to] of givingIntervals(d)) changes.push({ t: from, slope: d.balloonMiBps }, { t: to, slope: -d.balloonMiBps });
    }
    changes.sort((a, b) => a.t - b.t);
    let value = Math.max(0, headroomMiB);
    let slope = 0;
    let t = 0;
    this.points.push({ t: 0, value, slope: 0 });
    for (const change of changes) {
      value += slope * (change.t - t);
      t = change.t;
      slope += change.slope;
      const last = this.points[this.points.length - 1]!;
      if (last.t === t) last.slope = slope;
      else this.points.push({ t, value, slope });
      if (Math.abs(slope) < 1e-9) this.points[this.points.length - 1]!.slope = 0;
    }
    this.capacityMiB = giving.reduce((sum, d) => sum + d.reclaimableMiB, Math.max(0, headroomMiB));
  }

  /** The last breakpoint at or before t. */
  private at(t: number): Breakpoint {
    let lo = 0;
    let hi = this.points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.points[mid]!.t <= t) lo = mid;
      else hi = mid - 1;
    }
    return this.points[lo]!;
  }

  /** Memory that can be free at time t ≥ 0 (s). */
  availableMiB(t: number): number {
    const p = this.at(Math.max(0, t));
    return Math.min(this.capacityMiB, p.value + p.slope * (Math.max(0, t) - p.t));
  }

  /** The earliest t ≥ `notBefore` with availableMiB(t) ≥ needMiB (exact), or null when the supply never gets there. */
  timeToHave(needMiB: number, notBefore = 0): number | null {
    if (this.availableMiB(notBefore) >= needMiB) return Math.max(0, notBefore);
    if (needMiB > this.capacityMiB + 1e-9) return null;
    // The first breakpoint whose value reaches needMiB; the crossing is on the segment before it.
    let lo = 0;
    let hi = this.points.length - 1;
    if (this.points[hi]!.value < needMiB) {
      const last = this.points[hi]!;
      if (last.slope > 0) return Math.max(last.t + (needMiB - last.value) / last.slope, notBefore);
      // Within capacity but above the last value: rounding in summing many segments; the supply is complete there.
      return Math.max(last.t, notBefore);
    }
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.points[mid]!.value >= needMiB) hi = mid;
      else lo = mid + 1;
    }
    const before = this.points[lo - 1]!;
    const t = before.slope > 0 ? before.t + (needMiB - before.value) / before.slope : this.points[lo]!.t;
    return Math.max(t, notBefore);
  }
}
