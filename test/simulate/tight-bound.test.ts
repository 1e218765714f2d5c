/**
 * The tight bound (src/simulate/tight-bound.ts, docs/bounds.md) on cases worked out by hand, and the supply it is
 * built on.
 */
import { describe, expect, it } from 'vitest';
import { MemorySupply } from '../../src/simulate/supply.js';
import { ballooningFrom, tightBound, type TightBoundInput, type TightBoundRequest } from '../../src/simulate/tight-bound.js';

const request = (at: number, memoryMiB: number, buildMiBps = 1024): TightBoundRequest => ({ at, memoryMiB, needMiB: memoryMiB + 2, buildMiBps });

function input(headroomMiB: number, donors: { reclaimableMiB: number; balloonMiBps: number; fromS?: number }[], requests: TightBoundRequest[], startsPerS = 0): TightBoundInput {
  return { headroomMiB, donors: donors.map((d) => ({ fromS: 0, ...d })), requests, startsPerS, marginMiB: 0 };
}

describe('MemorySupply', () => {
  it('is the headroom plus every donor at its rate from its start, down to what it can give', () => {
    const supply = new MemorySupply(1000, [
      { reclaimableMiB: 100, balloonMiBps: 100, fromS: 0 },
      { reclaimableMiB: 1000, balloonMiBps: 100, fromS: 2 },
      { reclaimableMiB: 5000, balloonMiBps: 0, fromS: 0 }, // stuck: gives nothing
    ]);
    expect(supply.capacityMiB).toBe(2100);
    expect(supply.availableMiB(0)).toBe(1000);
    expect(supply.availableMiB(0.5)).toBe(1050);
    expect(supply.availableMiB(2)).toBe(1100);
    expect(supply.availableMiB(3)).toBe(1200);
    expect(supply.availableMiB(100)).toBe(2100);
    // The inverse, exactly, across breakpoints.
    expect(supply.timeToHave(1000)).toBe(0);
    expect(supply.timeToHave(1050)).toBe(0.5);
    expect(supply.timeToHave(1100)).toBe(1);
    expect(supply.timeToHave(1150)).toBe(2.5);
    expect(supply.timeToHave(2100)).toBe(12);
    expect(supply.timeToHave(2101)).toBeNull();
    expect(supply.timeToHave(1050, 5)).toBe(5);
  });
});

describe('tightBound', () => {
  it('case B by hand: three 16 GiB guests, the third needs 10,762 MiB freed from web1 and dom0, from its arrival', () => {
    // Headroom 38,392 MiB; web1 gives 20,480 at 1 GiB/s, dom0 1,024 at 512 MiB/s. Every build takes 8 s, so all three
    // start together in the best schedule, once 3 × 16,384 = 49,152 MiB can be free: 10,760 to free from σ = 2 s
    // (new3's arrival, when the needs first exceed the headroom): 3,072 in 2 s, then 7,688 at 1 GiB/s = 9.5078 s.
    const b = tightBound(input(38_392, [{ reclaimableMiB: 20_480, balloonMiBps: 1024 }, { reclaimableMiB: 1024, balloonMiBps: 512 }], [
      request(0, 16_384, 2048), request(1, 16_384, 2048), request(2, 16_384, 2048),
    ]));
    expect(b.ballooningFromS).toBe(2);
    expect(b.exact).toBe(true);
    expect(b.boundS).toBe(19.507); // 2 + 9.5078 + 8, rounded down
    expect(b.aloneS).toEqual([8, 9, 10]);
  });

  it('starts a request late when that lets a longer build start sooner (the latest-start schedule)', () => {
    // 1000 MiB free, a donor of 1000 MiB at 100 MiB/s. A (at 0, 1000 MiB, 1 s) and B (at 0, 1000 MiB, 20 s): B first
    // at 0, A once the donor has given 1000 MiB (10 s), built by 11 s; B by 20 s. Greedy arrival order would be worse.
    const b = tightBound(input(1000, [{ reclaimableMiB: 1000, balloonMiBps: 100 }], [request(0, 1000, 1000), request(0, 1000, 50)]));
    expect(b.boundS).toBe(20);
  });

  it('a request that can never run has no bound of its own and settles no earlier than it arrives', () => {
    const b = tightBound(input(1000, [], [request(0, 500), request(7, 99_999)]));
    expect(b.aloneS[1]).toBeNull();
    expect(b.boundS).toBe(7);
    expect(tightBound(input(1000, [], [request(0, 99_999)])).boundS).toBeNull();
    // Runnable alone but not together: no time at which both run.
    expect(tightBound(input(1000, [], [request(0, 600), request(0, 600)])).boundS).toBeNull();
  });

  it('ballooning begins only once the arrived needs exceed the headroom less the margin', () => {
    const base = input(10_000, [{ reclaimableMiB: 10_000, balloonMiBps: 1000 }], [request(0, 4000), request(1, 4000), request(2, 4000)]);
    expect(ballooningFrom(base, base.requests)).toBe(2);
    expect(ballooningFrom({ ...base, marginMiB: 2100 }, base.requests)).toBe(1);
    expect(ballooningFrom({ ...base, headroomMiB: 20_000 }, base.requests)).toBeNull();
  });

  it('with a start rate: exact up to 8 requests (every order), a relaxation beyond, never above the exact one', () => {
    const requests = [request(0, 1000, 1000), request(0, 1000, 500), request(0.5, 1000, 250), request(1, 500, 1000)];
    const rated = input(10_000, [], requests, 2); // a start every 0.5 s
    const exact = tightBound(rated);
    expect(exact.exact).toBe(true);
    // The 4 s build cannot start before it arrives (0.5 s): done by 4.5 s, the others fitted into the turns around it
    // (2 s build at 0, 1 s at 1, 0.5 s at 1.5).
    expect(exact.boundS).toBe(4.5);
    const relaxed = tightBound(rated, 0);
    expect(relaxed.exact).toBe(false);
    expect(relaxed.boundS!).toBeLessThanOrEqual(exact.boundS!);
    expect(relaxed.boundS!).toBeGreaterThanOrEqual(tightBound({ ...rated, startsPerS: 0 }).boundS!);
    // Many starts: ten 0.1 s builds at 0, one start a second: the last starts at 9 s at the earliest.
    const many = tightBound(input(100_000, [], Array.from({ length: 10 }, () => request(0, 100, 1000)), 1));
    expect(many.exact).toBe(false);
    expect(many.boundS).toBe(9.1);
  });
});
