/**
 * The one planner (src/admission/balloon-plan.ts): the shortfall with the reserve for Xen in it, the proportional
 * split before any rate is known, water-filling on observed rates after, floors, who may not be asked, rounding, and
 * properties over random states (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mulDivCeil, planBalloon, waterFill, type BalloonPlan } from '../../src/admission/balloon-plan.js';
import { headroomPages, type DomainState, type ObservedState } from '../../src/admission/state.js';
import { KIB_PER_GIB as GIB_KIB, kibToPagesCeil, LIBXL_MIN_DOM0_KIB as LIBXL_DOM0_MIN_KIB } from '../../src/units.js';
import { isXenError } from '../../src/errors.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

/** No reserve, no tolerance and no dom0: the arithmetic of the split alone. */
const plain = { dom0Ballooning: false, reserveKiB: 0, tolerancePages: 0 };

function donorOf(plan: BalloonPlan, domid: number) {
  const donor = plan.donors.find((d) => d.domid === domid);
  if (!donor) throw new Error(`domain ${domid} is not a donor in this plan`);
  return donor;
}

/** Each donor's share of what it can give (tot − min(target, floor)) must equal γ up to one page of rounding. */
function expectEqualFractions(plan: BalloonPlan, state: ObservedState): void {
  for (const donor of plan.donors) {
    const domain = state.domains.find((d) => d.domid === donor.domid)!;
    const give = domain.totPages - kibToPagesCeil(donor.floorKiB);
    const fraction = donor.expectedFreePages / give;
    expect(fraction).toBeGreaterThanOrEqual(plan.gamma - 1e-12);
    expect(fraction - plan.gamma).toBeLessThanOrEqual(1 / give + 1e-12);
  }
}

describe('planBalloon: enough headroom', () => {
  it('asks nobody when the headroom covers the need and the reserve', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES - 64 * MIB_PAGES });
    expect(plan).toMatchObject({ feasible: true, shortfallPages: 0, coveredPages: 0, donors: [], reservePages: 64 * MIB_PAGES });
  });

  it('the reserve for Xen (64 MiB by default) is part of the shortfall: one page more and someone is asked', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES - 64 * MIB_PAGES + 1, policy: { dom0Ballooning: false } });
    expect(plan.shortfallPages).toBe(1);
    expect(plan.donors.map((d) => d.domid)).toEqual([1]);
    const configured = planBalloon(state, { needPages: 1024 * MIB_PAGES, policy: { dom0Ballooning: false, reserveKiB: 0 } });
    expect(configured.shortfallPages).toBe(0);
  });

  it('subtracts outstanding claims from the headroom (free − outstanding, xl info free_memory), and what is promised', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)], { outstandingPages: 512 * MIB_PAGES });
    expect(headroomPages(state.host)).toBe(512 * MIB_PAGES);
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES, policy: plain });
    expect(plan.shortfallPages).toBe(512 * MIB_PAGES);
    expect(plan.donors.map((d) => d.domid)).toEqual([1]);
    const promised = planBalloon(state, { needPages: 1024 * MIB_PAGES, promisedPages: 100 * MIB_PAGES, policy: plain });
    expect(promised.shortfallPages).toBe(612 * MIB_PAGES);
    expect(promised.promisedPages).toBe(100 * MIB_PAGES);
  });
});

describe('planBalloon: before any rate is known, the same fraction of what each can give', () => {
  it('one donor gives the shortfall plus the documented margin, never below its floor', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const shortfall = 512 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES + shortfall, policy: plain });
    expect(plan.feasible).toBe(true);
    expect(plan.method).toBe('proportional');
    expect(plan.shortfallPages).toBe(shortfall);
    const margin = Math.max(256, Math.ceil(shortfall * 0.05));
    const donor = donorOf(plan, 1);
    expect(donor.askedPages).toBe(shortfall + margin);
    expect(donor.fromKiB).toBe(2048 * MIB_KIB);
    expect(donor.toKiB).toBe((2048 * MIB_PAGES - shortfall - margin) * 4);
    expect(donor.toKiB).toBeGreaterThanOrEqual(512 * MIB_KIB);
    expect(plan.coveredPages).toBe(shortfall + margin);
    expect(plan.marginPages).toBe(margin);
    expect(plan.gamma).toBeCloseTo((shortfall + margin) / ((2048 - 512) * MIB_PAGES), 12);
  });

  it('two donors give the same fraction of what they can give', () => {
    const state = host(8192, [dom0(1024), guest(1, 4096, 1024), guest(2, 1536, 512)]);
    const plan = planBalloon(state, { needPages: 3000 * MIB_PAGES, policy: plain });
    expect(plan.feasible).toBe(true);
    expect(plan.donors.map((d) => d.domid)).toEqual([1, 2]);
    expectEqualFractions(plan, state);
    // 3072 MiB vs 1024 MiB above the floors → 3:1.
    expect(donorOf(plan, 1).askedPages / donorOf(plan, 2).askedPages).toBeCloseTo(3, 2);
    expect(plan.coveredPages).toBeGreaterThanOrEqual(plan.shortfallPages);
  });

  it('ten donors share the load by equal fractions and together cover the shortfall', () => {
    const domains: DomainState[] = [dom0(2048)];
    for (let i = 1; i <= 10; i++) domains.push(guest(i, 1000 + 137 * i, 100 + 13 * i));
    const state = host(32768, domains);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 5000 * MIB_PAGES, policy: plain });
    expect(plan.donors).toHaveLength(10);
    expectEqualFractions(plan, state);
    const asked = plan.donors.reduce((s, d) => s + d.askedPages, 0);
    expect(asked).toBe(plan.coveredPages);
    expect(asked).toBeGreaterThanOrEqual(5000 * MIB_PAGES);
    for (const donor of plan.donors) expect(donor.toKiB).toBeGreaterThanOrEqual(donor.floorKiB);
  });
});

describe('planBalloon: with observed rates, water-filling on time (work-conserving)', () => {
  // idle-donor.json: a small and a large donor at the same rate; the small one finished its proportional share.
  const small = guest(1, 1221, 500, { targetKiB: 1221 * MIB_KIB });
  const large = guest(2, 3221, 500, { targetKiB: 2662 * MIB_KIB });
  const state = host(6080, [dom0(1024), small, large], { overheadPages: 56 * MIB_PAGES });
  const rate = 50 * MIB_PAGES;

  it('equal rates: equal shares, both finish together; the large one gives back what it no longer needs to give', () => {
    const plan = planBalloon(state, { needPages: 1000 * MIB_PAGES, policy: plain, rates: new Map([[1, rate], [2, rate]]) });
    expect(plan.method).toBe('by-rate');
    const [s, l] = [donorOf(plan, 1), donorOf(plan, 2)];
    expect(Math.abs(s.expectedFreePages - l.expectedFreePages)).toBeLessThanOrEqual(1);
    expect(plan.finishS!).toBeCloseTo(s.expectedFreePages / rate, 2);
    expect(s.askedPages).toBe(s.expectedFreePages);
    // It was already on its way to 2662 MiB (559 MiB to go), more than its equal share now.
    expect(l.askedPages).toBe(0);
    expect(l.releasedPages).toBeGreaterThan(0);
    expect(l.toKiB).toBeGreaterThan(l.fromKiB);
  });

  it('a donor observed not to move is given nothing new while the others can cover; an unobserved one the mean rate', () => {
    const three = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 512), guest(3, 2048, 512)]);
    const need = headroomPages(three.host) + 1000 * MIB_PAGES;
    const plan = planBalloon(three, { needPages: need, policy: plain, rates: new Map([[1, 0], [2, rate]]) });
    expect(plan.donors.map((d) => d.domid)).toEqual([2, 3]);
    expect(donorOf(plan, 3).ratePagesPerS).toBe(rate);
    expect(Math.abs(donorOf(plan, 2).askedPages - donorOf(plan, 3).askedPages)).toBeLessThanOrEqual(1);
    // When the moving ones cannot cover it all, the still one is asked for the rest.
    const big = planBalloon(three, { needPages: headroomPages(three.host) + 3500 * MIB_PAGES, policy: plain, rates: new Map([[1, 0], [2, rate], [3, rate]]) });
    expect(donorOf(big, 2).toKiB).toBe(512 * MIB_KIB);
    expect(donorOf(big, 3).toKiB).toBe(512 * MIB_KIB);
    expect(donorOf(big, 1).askedPages).toBeGreaterThan(0);
  });

  it('a faster donor gives more, in proportion to its rate, until it is empty', () => {
    const two = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 4096, 512)]);
    const plan = planBalloon(two, { needPages: headroomPages(two.host) + 1200 * MIB_PAGES, policy: plain, rates: new Map([[1, 3 * rate], [2, rate]]) });
    expect(donorOf(plan, 1).askedPages / donorOf(plan, 2).askedPages).toBeCloseTo(3, 2);
    const capped = planBalloon(two, { needPages: headroomPages(two.host) + 2500 * MIB_PAGES, policy: plain, rates: new Map([[1, 10 * rate], [2, rate]]) });
    expect(donorOf(capped, 1).toKiB).toBe(512 * MIB_KIB);
  });

  it('waterFill: the smallest level that covers the amount, every share within its cap', () => {
    expect(waterFill([100, 100], [1, 1], 50)).toEqual({ shares: [25, 25], level: 25 });
    expect(waterFill([10, 100], [1, 1], 50)).toEqual({ shares: [10, 40], level: 40 });
    expect(waterFill([10, 100], [0, 1], 50).shares).toEqual([0, 50]);
    expect(waterFill([5, 5], [1, 1], 0)).toEqual({ shares: [0, 0], level: 0 });
  });
});

describe('planBalloon: drivers that stop short of their targets', () => {
  it('asks every donor the tolerance more than its share, within what it can give (squeezed\'s inaccuracy compensation)', () => {
    const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 2040)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 100 * MIB_PAGES, policy: { ...plain, tolerancePages: 4 * MIB_PAGES } });
    const [one, two] = [donorOf(plan, 1), donorOf(plan, 2)];
    expect(one.askedPages).toBe(one.expectedFreePages + 4 * MIB_PAGES);
    // Guest 2 can give only 8 MiB: its share and the tolerance, never below its floor.
    expect(two.askedPages).toBe(Math.min(8 * MIB_PAGES, two.expectedFreePages + 4 * MIB_PAGES));
    expect(two.toKiB).toBeGreaterThanOrEqual(2040 * MIB_KIB);
    const tight = planBalloon(state, { needPages: headroomPages(state.host) + 1540 * MIB_PAGES, policy: { ...plain, tolerancePages: 4 * MIB_PAGES } });
    expect(donorOf(tight, 2).toKiB).toBe(2040 * MIB_KIB);
    expect(plan.coveredPages).toBe(one.expectedFreePages + two.expectedFreePages);
  });
});

describe('planBalloon: floors', () => {
  it('a policy floor above the guest minimum wins', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const policy = { ...plain, floorsKiB: { 1: 1536 * MIB_KIB } };
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 400 * MIB_PAGES, policy });
    expect(donorOf(plan, 1).floorKiB).toBe(1536 * MIB_KIB);
    expect(donorOf(plan, 1).toKiB).toBeGreaterThanOrEqual(1536 * MIB_KIB);
    const tooMuch = planBalloon(state, { needPages: headroomPages(state.host) + 600 * MIB_PAGES, policy });
    expect(tooMuch.feasible).toBe(false);
    expect(tooMuch.reclaimablePages).toBe(512 * MIB_PAGES);
  });

  it('the margin is capped by what the donors can give: asking for exactly everything is feasible with γ = 1', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 1536 * MIB_PAGES, policy: plain });
    expect(plan.feasible).toBe(true);
    expect(plan.gamma).toBe(1);
    expect(donorOf(plan, 1).toKiB).toBe(512 * MIB_KIB);
    expect(plan.marginPages).toBe(0);
  });

  it('dom0 is never planned below 1 GiB by default', () => {
    const state = host(4096, [dom0(3072)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 2048 * MIB_PAGES, policy: { reserveKiB: 0 } });
    expect(donorOf(plan, 0).floorKiB).toBe(GIB_KIB);
    expect(donorOf(plan, 0).toKiB).toBe(GIB_KIB);
    const over = planBalloon(state, { needPages: headroomPages(state.host) + 2049 * MIB_PAGES, policy: { reserveKiB: 0 } });
    expect(over.feasible).toBe(false);
    expect(over.donors).toEqual([]);
  });

  it("dom0 goes lower only when configured, and never below libxl's 128 MiB", () => {
    const state = host(4096, [dom0(3072)]);
    const need = headroomPages(state.host) + 2560 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: need, policy: { dom0MinKiB: 512 * MIB_KIB, reserveKiB: 0 } });
    expect(plan.feasible).toBe(true);
    expect(donorOf(plan, 0).toKiB).toBeGreaterThanOrEqual(512 * MIB_KIB);
    const clamped = planBalloon(state, { needPages: need, policy: { dom0MinKiB: 16 * MIB_KIB, reserveKiB: 0 } });
    expect(donorOf(clamped, 0).floorKiB).toBe(LIBXL_DOM0_MIN_KIB);
  });

  it('dom0 is not a donor when dom0 ballooning is off', () => {
    const state = host(4096, [dom0(3072)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 1, policy: plain });
    expect(plan.feasible).toBe(false);
    expect(plan.excluded).toEqual([{ domid: 0, name: 'Domain-0', reason: 'dom0-not-allowed' }]);
  });
});

describe('planBalloon: who may not be asked', () => {
  it('excludes building, paused, dying, uncooperative guests and guests without a balloon driver, with the reason', () => {
    const state = host(20480, [
      dom0(1024),
      guest(1, 2048, 256, { building: true }),
      guest(2, 2048, 256, { paused: true }),
      guest(3, 2048, 256, { dying: true }),
      guest(4, 2048, 256, { uncooperative: true }),
      guest(5, 2048, 256),
      guest(6, 2048, 256),
      guest(7, 256, 256),
      guest(8, 2048, 256, { canBalloon: false }),
    ]);
    const plan = planBalloon(state, {
      needPages: headroomPages(state.host) + 100 * MIB_PAGES,
      policy: { ...plain, excludedDomids: [6] },
    });
    expect(plan.donors.map((d) => d.domid)).toEqual([5]);
    expect(plan.excluded.map((e) => [e.domid, e.reason])).toEqual([
      [0, 'dom0-not-allowed'],
      [1, 'building'],
      [2, 'paused'],
      [3, 'dying'],
      [4, 'uncooperative'],
      [6, 'uncooperative'],
      [7, 'at-floor'],
      [8, 'no-balloon-driver'],
    ]);
  });

  it('replans without a stuck donor: its promise is not counted, the other gives what is still missing', () => {
    const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 512)]);
    const need = headroomPages(state.host) + 1000 * MIB_PAGES;
    const first = planBalloon(state, { needPages: need, policy: plain });
    const [d1, d2] = [donorOf(first, 1), donorOf(first, 2)];
    expect(d1.askedPages).toBe(d2.askedPages);
    // Guest 1 never moved; guest 2 is halfway to its new target.
    const halfway = Math.floor(d2.askedPages / 2);
    const later: ObservedState = {
      host: { ...state.host, freePages: state.host.freePages + halfway },
      domains: state.domains.map((d) =>
        d.domid === 1 ? { ...d, targetKiB: d1.toKiB } : d.domid === 2 ? { ...d, targetKiB: d2.toKiB, totPages: d.totPages - halfway } : d,
      ),
    };
    const replan = planBalloon(later, { needPages: need, policy: { ...plain, excludedDomids: [1] } });
    expect(replan.donors.map((d) => d.domid)).toEqual([2]);
    expect(replan.shortfallPages).toBe(need - headroomPages(later.host));
    const two = donorOf(replan, 2);
    expect(two.expectedFreePages).toBeGreaterThanOrEqual(replan.shortfallPages);
    expect(two.fromKiB).toBe(d2.toKiB);
    expect(two.toKiB).toBeGreaterThanOrEqual(512 * MIB_KIB);
    expect(replan.excluded).toContainEqual({ domid: 1, name: 'guest1', reason: 'uncooperative' });
  });

  it('memory already in flight counts: no new ask when it covers the shortfall', () => {
    // Guest 1 is on its way from 2048 to 1024 MiB (an earlier target).
    const state = host(4096, [dom0(1024), guest(1, 2048, 512, { targetKiB: 1024 * MIB_KIB })]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 500 * MIB_PAGES, policy: plain });
    expect(plan.feasible).toBe(true);
    const donor = donorOf(plan, 1);
    expect(donor.askedPages).toBe(0);
    expect(donor.expectedFreePages).toBeGreaterThanOrEqual(500 * MIB_PAGES);
    expect(donor.expectedFreePages).toBeLessThan(1024 * MIB_PAGES);
  });

  it('subtracts the pending growth of guests ballooning up from the headroom', () => {
    const grower = guest(2, 1024, 512, { targetKiB: 1536 * MIB_KIB, maxPages: 2048 * MIB_PAGES, maxKiB: 2048 * MIB_KIB });
    const state = host(8192, [dom0(1024), guest(1, 2048, 512), grower]);
    const need = headroomPages(state.host);
    const counted = planBalloon(state, { needPages: need, policy: plain });
    expect(counted.usableHeadroomPages).toBe(need - 512 * MIB_PAGES);
    expect(counted.shortfallPages).toBe(512 * MIB_PAGES);
    const ignored = planBalloon(state, { needPages: need, policy: { ...plain, countPendingGrowth: false } });
    expect(ignored.shortfallPages).toBe(0);
  });
});

describe('planBalloon: the impossible request fails fast', () => {
  it('a need above everything the donors can give plus the headroom asks nobody and says why', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 5000 * MIB_PAGES });
    expect(plan.feasible).toBe(false);
    expect(plan.donors).toEqual([]);
    expect(plan.coveredPages).toBe(0);
    expect(plan.reason?.code).toBe('not-enough-reclaimable');
    expect(plan.reason?.message).toContain('needs 5000 MiB plus the 64 MiB kept free for Xen');
    expect(plan.reason?.message).toContain(`at most ${plan.reclaimablePages / MIB_PAGES} MiB more`);
  });
});

describe('planBalloon: rounding', () => {
  it('rounds every share up so the sum never under-covers', () => {
    const domains = [7919, 7927, 7933, 7937, 7949].map((pages, i) => ({ ...guest(i + 1, 64, 0), totPages: pages, targetKiB: pages * 4 }));
    const state: ObservedState = { host: { totalPages: 100_000, freePages: 1000, outstandingPages: 0 }, domains };
    for (const extra of [1, 2, 3, 997, 10_007, 30_000]) {
      const plan = planBalloon(state, { needPages: 1000 + extra, policy: { marginMinPages: 0, marginFraction: 0, reserveKiB: 0, tolerancePages: 0 } });
      const asked = plan.donors.reduce((s, d) => s + d.askedPages, 0);
      expect(asked).toBeGreaterThanOrEqual(extra);
      expect(asked - extra).toBeLessThan(plan.donors.length);
      expectEqualFractions(plan, state);
    }
  });

  it('mulDivCeil is exact beyond 2^53', () => {
    expect(mulDivCeil(2 ** 40, 2 ** 40 + 1, 2 ** 40)).toBe(2 ** 40 + 1);
    expect(mulDivCeil(7, 3, 2)).toBe(11);
    expect(mulDivCeil(0, 5, 3)).toBe(0);
  });
});

describe('planBalloon: bad input', () => {
  it('names the bad argument', () => {
    const state = host(4096, [dom0(1024)]);
    expect(() => planBalloon(state, { needPages: -1 })).toThrow(/needPages must be an integer/);
    expect(() => planBalloon(state, { needPages: 1, promisedPages: 0.5 })).toThrow(/promisedPages must be an integer/);
    expect(() => planBalloon(state, { needPages: 1, rates: new Map([[3, -1]]) })).toThrow(/rates\[3\] must be a finite number/);
    expect(() => planBalloon(state, { needPages: 1, policy: { reserveKiB: -1 } })).toThrow(/policy\.reserveKiB must be a finite number >= 0/);
    expect(() => planBalloon(state, { needPages: 1, policy: { marginFraction: Number.NaN } })).toThrow(
      /policy\.marginFraction must be a finite number >= 0, got NaN/,
    );
    expect(() => planBalloon(state, { needPages: 1, policy: { excludedDomids: [1, -2] } })).toThrow(/policy\.excludedDomids\[1\] must be a domid, got -2/);
    const broken = { ...state, domains: [{ ...state.domains[0]!, totPages: 1.5 }] };
    try {
      planBalloon(broken, { needPages: 1 });
      expect.unreachable();
    } catch (error) {
      expect(isXenError(error, 'EINVAL')).toBe(true);
      expect((error as Error).message).toContain('state.domains[0].totPages');
    }
  });
});

/** A random host of donors of every kind: building, uncooperative, without a driver, on their way down or up. */
const arbitraryState = fc
  .record({
    dom0MiB: fc.integer({ min: 512, max: 4096 }),
    guests: fc.array(
      fc.record({
        mib: fc.integer({ min: 64, max: 8192 }),
        minFraction: fc.double({ min: 0, max: 1, noNaN: true }),
        kind: fc.constantFrom('plain', 'building', 'uncooperative', 'no-driver', 'down', 'up'),
        targetFraction: fc.double({ min: 0, max: 1, noNaN: true }),
        rate: fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
      }),
      { maxLength: 12 },
    ),
    freeMiB: fc.integer({ min: 0, max: 4096 }),
    outstandingFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ dom0MiB, guests, freeMiB, outstandingFraction }) => {
    const domains: DomainState[] = [dom0(dom0MiB)];
    const rates = new Map<number, number>();
    guests.forEach((g, i) => {
      const d = guest(i + 1, g.mib, Math.floor(g.mib * g.minFraction));
      if (g.kind === 'building') d.building = true;
      if (g.kind === 'uncooperative') d.uncooperative = true;
      if (g.kind === 'no-driver') d.canBalloon = false;
      if (g.kind === 'down') d.targetKiB = Math.floor(g.mib * g.targetFraction) * MIB_KIB;
      if (g.kind === 'up') {
        d.targetKiB = (g.mib + 1 + Math.floor(512 * g.targetFraction)) * MIB_KIB;
        d.maxKiB = d.targetKiB;
        d.maxPages = kibToPagesCeil(d.targetKiB);
      }
      if (g.rate !== undefined) rates.set(i + 1, g.rate * MIB_PAGES);
      domains.push(d);
    });
    const used = domains.reduce((s, d) => s + d.totPages, 0);
    const freePages = freeMiB * MIB_PAGES;
    const state: ObservedState = {
      host: { totalPages: used + freePages, freePages, outstandingPages: Math.floor(freePages * outstandingFraction) },
      domains,
    };
    return { state, rates };
  });

describe('planBalloon: properties over random hosts with donors of every kind (fast-check)', () => {
  it('never below a floor, never an ineligible donor, covers the shortfall iff feasible, infeasible only when it must be', () => {
    fc.assert(
      fc.property(
        arbitraryState,
        fc.integer({ min: 0, max: 40_000 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 128 }),
        fc.boolean(),
        ({ state, rates }, needMiB, dom0Ballooning, reserveMiB, useRates) => {
          const policy = { dom0Ballooning, reserveKiB: reserveMiB * MIB_KIB };
          const plan = planBalloon(state, { needPages: needMiB * MIB_PAGES, policy, ...(useRates ? { rates } : {}) });
          const eligible = state.domains.filter(
            (d) => !d.building && !d.uncooperative && d.canBalloon !== false && !(d.isDom0 && !dom0Ballooning),
          );
          const floorOf = (d: DomainState): number => kibToPagesCeil(d.isDom0 ? Math.max(d.minKiB, GIB_KIB) : d.minKiB);
          const reclaimable = eligible.reduce((s, d) => s + d.totPages - Math.min(d.totPages, kibToPagesCeil(d.targetKiB), floorOf(d)), 0);
          expect(plan.reclaimablePages).toBe(reclaimable);
          expect(plan.reservePages).toBe(reserveMiB * MIB_PAGES);
          expect(plan.feasible).toBe(reclaimable >= plan.shortfallPages);
          if (!plan.feasible) expect(plan.donors).toEqual([]);
          else {
            expect(plan.coveredPages).toBeGreaterThanOrEqual(plan.shortfallPages);
            expect(plan.donors.reduce((s, d) => s + d.expectedFreePages, 0)).toBe(plan.coveredPages);
          }
          for (const donor of plan.donors) {
            const domain = state.domains.find((d) => d.domid === donor.domid)!;
            expect(eligible).toContain(domain);
            expect(donor.toKiB).toBeGreaterThanOrEqual(Math.min(donor.fromKiB, floorOf(domain) * 4));
            expect(kibToPagesCeil(donor.toKiB)).toBeLessThanOrEqual(domain.totPages);
          }
        },
      ),
      { numRuns: 400, seed: 0x5eed },
    );
  });
});
