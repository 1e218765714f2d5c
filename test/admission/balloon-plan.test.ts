import { describe, expect, it } from 'vitest';
import { mulDivCeil, planBalloon, type BalloonPlan } from '../../src/admission/balloon-plan.js';
import { headroomPages, type DomainState, type ObservedState } from '../../src/admission/state.js';
import { KIB_PER_GIB as GIB_KIB, kibToPagesCeil, LIBXL_MIN_DOM0_KIB as LIBXL_DOM0_MIN_KIB } from '../../src/units.js';
import { isXenError } from '../../src/errors.js';
import { prng, randomInt } from '../helpers/random.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

const noDom0 = { dom0Ballooning: false };

function donorOf(plan: BalloonPlan, domid: number) {
  const donor = plan.donors.find((d) => d.domid === domid);
  if (!donor) throw new Error(`domain ${domid} is not a donor in this plan`);
  return donor;
}

/** Each donor's given fraction of its range must equal γ up to one page of rounding. */
function expectEqualFractions(plan: BalloonPlan, state: ObservedState): void {
  for (const donor of plan.donors) {
    const domain = state.domains.find((d) => d.domid === donor.domid)!;
    const range = Math.min(domain.totPages, kibToPagesCeil(domain.targetKiB)) - kibToPagesCeil(donor.floorKiB);
    const fraction = donor.askedPages / range;
    expect(fraction).toBeGreaterThanOrEqual(plan.gamma - 1e-12);
    expect(fraction - plan.gamma).toBeLessThanOrEqual(1 / range + 1e-12);
  }
}

describe('planBalloon: enough headroom', () => {
  it('asks nobody when the headroom covers the need', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES });
    expect(plan).toMatchObject({ feasible: true, shortfallPages: 0, coveredPages: 0, donors: [] });
  });

  it('subtracts outstanding claims from the headroom (free − outstanding, xl info free_memory)', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)], { outstandingPages: 512 * MIB_PAGES });
    expect(headroomPages(state.host)).toBe(512 * MIB_PAGES);
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES, policy: noDom0 });
    expect(plan.shortfallPages).toBe(512 * MIB_PAGES);
    expect(plan.donors.map((d) => d.domid)).toEqual([1]);
  });
});

describe('planBalloon: one, two and ten donors', () => {
  it('one donor gives the shortfall plus the documented margin, never below its floor', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const shortfall = 512 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: 1024 * MIB_PAGES + shortfall, policy: noDom0 });
    expect(plan.feasible).toBe(true);
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

  it('two donors give the same fraction of their (current − floor) ranges', () => {
    const state = host(8192, [dom0(1024), guest(1, 4096, 1024), guest(2, 1536, 512)]);
    const plan = planBalloon(state, { needPages: 3000 * MIB_PAGES, policy: noDom0 });
    expect(plan.feasible).toBe(true);
    expect(plan.donors.map((d) => d.domid)).toEqual([1, 2]);
    expectEqualFractions(plan, state);
    // The bigger range gives more, in proportion: 3072 MiB vs 1024 MiB of range → 3:1.
    const ratio = donorOf(plan, 1).askedPages / donorOf(plan, 2).askedPages;
    expect(ratio).toBeCloseTo(3, 2);
    expect(plan.coveredPages).toBeGreaterThanOrEqual(plan.shortfallPages);
  });

  it('ten donors share the load by equal fractions and together cover the shortfall', () => {
    const domains: DomainState[] = [dom0(2048)];
    for (let i = 1; i <= 10; i++) domains.push(guest(i, 1000 + 137 * i, 100 + 13 * i));
    const state = host(32768, domains);
    const need = headroomPages(state.host) + 5000 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: need, policy: noDom0 });
    expect(plan.feasible).toBe(true);
    expect(plan.donors).toHaveLength(10);
    expectEqualFractions(plan, state);
    const asked = plan.donors.reduce((s, d) => s + d.askedPages, 0);
    expect(asked).toBe(plan.coveredPages);
    expect(asked).toBeGreaterThanOrEqual(5000 * MIB_PAGES);
    for (const donor of plan.donors) expect(donor.toKiB).toBeGreaterThanOrEqual(donor.floorKiB);
  });
});

describe('planBalloon: floors', () => {
  it('a policy floor above the guest minimum wins', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const policy = { ...noDom0, floorsKiB: { 1: 1536 * MIB_KIB } };
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 400 * MIB_PAGES, policy });
    expect(donorOf(plan, 1).floorKiB).toBe(1536 * MIB_KIB);
    expect(donorOf(plan, 1).toKiB).toBeGreaterThanOrEqual(1536 * MIB_KIB);
    // 600 MiB is past the policy floor (only 512 MiB of range): infeasible, though the guest's own min would allow it.
    const tooMuch = planBalloon(state, { needPages: headroomPages(state.host) + 600 * MIB_PAGES, policy });
    expect(tooMuch.feasible).toBe(false);
    expect(tooMuch.reclaimablePages).toBe(512 * MIB_PAGES);
  });

  it('the margin is capped by the ranges: asking for exactly everything is feasible with γ = 1', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 1536 * MIB_PAGES, policy: noDom0 });
    expect(plan.feasible).toBe(true);
    expect(plan.gamma).toBe(1);
    expect(donorOf(plan, 1).toKiB).toBe(512 * MIB_KIB);
    expect(plan.marginPages).toBe(0);
  });

  it('dom0 is never planned below 1 GiB by default', () => {
    const state = host(4096, [dom0(3072)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 2048 * MIB_PAGES });
    expect(plan.feasible).toBe(true);
    expect(donorOf(plan, 0).floorKiB).toBe(GIB_KIB);
    expect(donorOf(plan, 0).toKiB).toBe(GIB_KIB);
    const over = planBalloon(state, { needPages: headroomPages(state.host) + 2049 * MIB_PAGES });
    expect(over.feasible).toBe(false);
    expect(over.donors).toEqual([]);
  });

  it('dom0 goes lower only when configured, and never below libxl\'s 128 MiB', () => {
    const state = host(4096, [dom0(3072)]);
    const need = headroomPages(state.host) + 2560 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: need, policy: { dom0MinKiB: 512 * MIB_KIB } });
    expect(plan.feasible).toBe(true);
    expect(donorOf(plan, 0).toKiB).toBeGreaterThanOrEqual(512 * MIB_KIB);
    const clamped = planBalloon(state, { needPages: need, policy: { dom0MinKiB: 16 * MIB_KIB } });
    expect(donorOf(clamped, 0).floorKiB).toBe(LIBXL_DOM0_MIN_KIB);
  });

  it('dom0 is not a donor when dom0 ballooning is off', () => {
    const state = host(4096, [dom0(3072)]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 1, policy: noDom0 });
    expect(plan.feasible).toBe(false);
    expect(plan.excluded).toEqual([{ domid: 0, name: 'Domain-0', reason: 'dom0-not-allowed' }]);
  });
});

describe('planBalloon: who may not be asked', () => {
  it('excludes building, paused, dying and uncooperative guests, with the reason', () => {
    const state = host(16384, [
      dom0(1024),
      guest(1, 2048, 256, { building: true }),
      guest(2, 2048, 256, { paused: true }),
      guest(3, 2048, 256, { dying: true }),
      guest(4, 2048, 256, { uncooperative: true }),
      guest(5, 2048, 256),
      guest(6, 2048, 256),
      guest(7, 256, 256),
    ]);
    const plan = planBalloon(state, {
      needPages: headroomPages(state.host) + 100 * MIB_PAGES,
      policy: { ...noDom0, excludedDomids: [6] },
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
    ]);
  });

  it('replans without a stuck donor: its promise is not credited, the others\' in-flight memory is', () => {
    const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 512)]);
    const need = headroomPages(state.host) + 1000 * MIB_PAGES;
    const first = planBalloon(state, { needPages: need, policy: noDom0 });
    expect(first.donors.map((d) => d.domid)).toEqual([1, 2]);
    const [d1, d2] = [donorOf(first, 1), donorOf(first, 2)];
    expect(d1.askedPages).toBe(d2.askedPages);

    // Guest 1 never moved; guest 2 is halfway to its new target. Both targets are lowered as planned.
    const halfway = Math.floor(d2.askedPages / 2);
    const later: ObservedState = {
      host: { ...state.host, freePages: state.host.freePages + halfway },
      domains: state.domains.map((d) =>
        d.domid === 1
          ? { ...d, targetKiB: d1.toKiB }
          : d.domid === 2
            ? { ...d, targetKiB: d2.toKiB, totPages: d.totPages - halfway }
            : d,
      ),
    };
    const replan = planBalloon(later, { needPages: need, policy: { ...noDom0, excludedDomids: [1] } });
    expect(replan.feasible).toBe(true);
    expect(replan.donors.map((d) => d.domid)).toEqual([2]);
    const still = later.domains[2]!.totPages - kibToPagesCeil(d2.toKiB);
    // Shortfall now = need − new headroom; guest 2's remaining in-flight is credited, the rest newly asked.
    expect(replan.shortfallPages).toBe(need - headroomPages(later.host));
    expect(donorOf(replan, 2).expectedFreePages).toBe(still + donorOf(replan, 2).askedPages);
    expect(replan.coveredPages).toBeGreaterThanOrEqual(replan.shortfallPages);
    expect(donorOf(replan, 2).fromKiB).toBe(d2.toKiB);
    expect(donorOf(replan, 2).toKiB).toBeGreaterThanOrEqual(512 * MIB_KIB);
    expect(replan.excluded).toContainEqual({ domid: 1, name: 'guest1', reason: 'uncooperative' });
  });

  it('credits memory already in flight and asks nothing more when it covers the shortfall', () => {
    // Guest 1 is on its way from 2048 to 1024 MiB (an earlier target).
    const state = host(4096, [dom0(1024), guest(1, 2048, 512, { targetKiB: 1024 * MIB_KIB })]);
    const plan = planBalloon(state, { needPages: headroomPages(state.host) + 500 * MIB_PAGES, policy: noDom0 });
    expect(plan.feasible).toBe(true);
    expect(plan.donors).toEqual([
      {
        domid: 1,
        name: 'guest1',
        fromKiB: 1024 * MIB_KIB,
        toKiB: 1024 * MIB_KIB,
        floorKiB: 512 * MIB_KIB,
        askedPages: 0,
        expectedFreePages: 1024 * MIB_PAGES,
      },
    ]);
    expect(plan.coveredPages).toBe(1024 * MIB_PAGES);
  });

  it('subtracts the pending growth of guests ballooning up from the headroom', () => {
    const grower = guest(2, 1024, 512, { targetKiB: 1536 * MIB_KIB, maxPages: 2048 * MIB_PAGES, maxKiB: 2048 * MIB_KIB });
    const state = host(8192, [dom0(1024), guest(1, 2048, 512), grower]);
    const need = headroomPages(state.host);
    const counted = planBalloon(state, { needPages: need, policy: noDom0 });
    expect(counted.usableHeadroomPages).toBe(need - 512 * MIB_PAGES);
    expect(counted.shortfallPages).toBe(512 * MIB_PAGES);
    const ignored = planBalloon(state, { needPages: need, policy: { ...noDom0, countPendingGrowth: false } });
    expect(ignored.shortfallPages).toBe(0);
  });
});

describe('planBalloon: the impossible request fails fast', () => {
  it('a need above everything reclaimable plus headroom asks nobody and says why', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 5000 * MIB_PAGES });
    expect(plan.feasible).toBe(false);
    expect(plan.donors).toEqual([]);
    expect(plan.coveredPages).toBe(0);
    expect(plan.reason?.code).toBe('not-enough-reclaimable');
    expect(plan.reason?.message).toContain(`needs ${5000 * MIB_PAGES} pages`);
    expect(plan.reason?.message).toContain(`at most ${plan.reclaimablePages} more`);
  });
});

describe('planBalloon: rounding', () => {
  it('rounds every share up so the sum never under-covers', () => {
    // Prime-sized ranges make every exact share fractional.
    const domains = [7919, 7927, 7933, 7937, 7949].map((pages, i) => ({
      ...guest(i + 1, 64, 0),
      totPages: pages,
      targetKiB: pages * 4,
    }));
    const state: ObservedState = { host: { totalPages: 100_000, freePages: 1000, outstandingPages: 0 }, domains };
    for (const extra of [1, 2, 3, 997, 10_007, 30_000]) {
      const plan = planBalloon(state, { needPages: 1000 + extra, policy: { marginMinPages: 0, marginFraction: 0 } });
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
    expect(() => planBalloon(state, { needPages: 1, policy: { marginFraction: Number.NaN } })).toThrow(
      /policy\.marginFraction must be a finite number >= 0, got NaN/,
    );
    expect(() => planBalloon(state, { needPages: 1, policy: { excludedDomids: [1, -2] } })).toThrow(
      /policy\.excludedDomids\[1\] must be a domid, got -2/,
    );
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

describe('planBalloon: property checks over random states (seeded)', () => {
  it('never plans a donor below its floor; always covers the shortfall when feasible; infeasible only when it must be', () => {
    const random = prng(0x5eed);
    let feasibleCount = 0;
    let infeasibleCount = 0;
    for (let round = 0; round < 600; round++) {
      const domains: DomainState[] = [dom0(randomInt(random, 512, 4096))];
      const count = randomInt(random, 0, 12);
      for (let i = 1; i <= count; i++) {
        const mib = randomInt(random, 64, 8192);
        const minMiB = randomInt(random, 0, mib);
        const d = guest(i, mib, minMiB);
        const flavour = random();
        if (flavour < 0.1) d.building = true;
        else if (flavour < 0.15) d.uncooperative = true;
        else if (flavour < 0.3) d.targetKiB = randomInt(random, 0, mib) * MIB_KIB + randomInt(random, 0, 3);
        else if (flavour < 0.35) d.targetKiB = (mib + randomInt(random, 1, 512)) * MIB_KIB;
        if (d.targetKiB > d.maxKiB) {
          d.maxKiB = d.targetKiB;
          d.maxPages = kibToPagesCeil(d.targetKiB);
        }
        domains.push(d);
      }
      const used = domains.reduce((s, d) => s + d.totPages, 0);
      const totalPages = used + randomInt(random, 0, 4096) * MIB_PAGES;
      const freePages = totalPages - used;
      const state: ObservedState = {
        host: { totalPages, freePages, outstandingPages: randomInt(random, 0, freePages) },
        domains,
      };
      const policy = {
        dom0Ballooning: random() < 0.5,
        marginFraction: random() * 0.1,
        marginMinPages: randomInt(random, 0, 512),
      };
      const needPages = randomInt(random, 0, totalPages);
      const plan = planBalloon(state, { needPages, policy });

      // Independent arithmetic: what could be freed at most from every eligible domain.
      const eligible = domains.filter(
        (d) => !d.building && !d.uncooperative && !(d.isDom0 && !policy.dom0Ballooning),
      );
      const floorOf = (d: DomainState) =>
        kibToPagesCeil(d.isDom0 ? Math.max(d.minKiB, GIB_KIB) : d.minKiB);
      const reclaimable = eligible.reduce(
        (s, d) => s + d.totPages - Math.min(Math.min(d.totPages, kibToPagesCeil(d.targetKiB)), floorOf(d)),
        0,
      );
      expect(plan.reclaimablePages).toBe(reclaimable);
      expect(plan.feasible).toBe(reclaimable >= plan.shortfallPages);

      if (plan.feasible) {
        feasibleCount++;
        expect(plan.coveredPages).toBeGreaterThanOrEqual(plan.shortfallPages);
        const expected = plan.donors.reduce((s, d) => s + d.expectedFreePages, 0);
        expect(expected).toBe(plan.coveredPages);
      } else {
        infeasibleCount++;
        expect(plan.donors).toEqual([]);
      }
      for (const donor of plan.donors) {
        const domain = domains.find((d) => d.domid === donor.domid)!;
        expect(eligible).toContain(domain);
        expect(donor.toKiB).toBeLessThanOrEqual(donor.fromKiB);
        if (donor.askedPages > 0) {
          expect(donor.toKiB).toBeGreaterThanOrEqual(donor.floorKiB);
          expect(donor.toKiB).toBeGreaterThanOrEqual(floorOf(domain) * 4);
        }
      }
    }
    // The generator must exercise both outcomes, or the property says nothing.
    expect(feasibleCount).toBeGreaterThan(100);
    expect(infeasibleCount).toBeGreaterThan(50);
  });
});
