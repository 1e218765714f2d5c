/**
 * The memory a host could have free over time, at best: its headroom at the start plus what every donor could give,
 * each at its balloon rate from the moment it may start, down to what it can give at most. Pure; MiB and seconds.
 * Both bounds (lower-bound.ts, tight-bound.ts) are built on it (docs/bounds.md#supply).
 *
 * The supply is piecewise linear and nondecreasing: it is kept as its breakpoints (time, value, slope after), built
 * once in O(n log n), so `availableMiB` and `timeToHave` cost O(log n) each.
 */

export interface SupplyDonor {
  /** MiB the donor can give at most: its size above its floor, capped where its balloon driver stalls. */
  reclaimableMiB: number;
  /** 0 for a donor that gives nothing (uncooperative). */
  balloonMiBps: number;
  /** The earliest time it can start giving (s). */
  fromS: number;
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
      const from = Math.max(0, d.fromS);
      changes.push({ t: from, slope: d.balloonMiBps }, { t: from + d.reclaimableMiB / d.balloonMiBps, slope: -d.balloonMiBps });
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
      return last.slope > 0 ? last.t + (needMiB - last.value) / last.slope : null;
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
