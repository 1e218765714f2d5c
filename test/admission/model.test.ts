import { describe, expect, it } from 'vitest';
import {
  admitFromModel,
  createModel,
  decideGrowth,
  modelBreakdown,
  modelFreePages,
  modelLimits,
  reconcile,
  releaseReservation,
  reserve,
  transferReservation,
} from '../../src/admission/model.js';
import type { ObservedState } from '../../src/admission/state.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

const M = MIB_PAGES;
/** The model's own terms, without the reserve for Xen (tested on its own below). */
const P = { reserveKiB: 0 };

/** 8 GiB host: dom0 1 GiB, web (2 GiB, asking for 3 GiB, max 4 GiB), db (2 GiB); 3 GiB free. */
function baseState(): ObservedState {
  return host(8192, [
    dom0(1024),
    guest(1, 2048, 512, { name: 'web', targetKiB: 3072 * MIB_KIB, maxPages: 4096 * M, maxKiB: 4096 * MIB_KIB }),
    guest(2, 2048, 512, { name: 'db', maxPages: 4096 * M, maxKiB: 4096 * MIB_KIB }),
  ]);
}

describe('model arithmetic', () => {
  it('free = headroom − Σ(max(target, tot) − tot) − Σ reservations', () => {
    let model = createModel(baseState());
    expect(modelBreakdown(model, P)).toEqual({ headroomPages: 3072 * M, growthPages: 1024 * M, reservedPages: 0, reserveHeldPages: 0, freePages: 2048 * M });
    model = reserve(model, 'new1', 512 * M);
    expect(modelFreePages(model, P)).toBe(1536 * M);
    model = releaseReservation(model, 'new1');
    expect(modelFreePages(model, P)).toBe(2048 * M);
  });

  it('subtracts outstanding claims and caps growth at max_pages', () => {
    const state = baseState();
    const capped: ObservedState = {
      host: { ...state.host, outstandingPages: 100 * M },
      domains: state.domains.map((d) => (d.domid === 1 ? { ...d, targetKiB: 9000 * MIB_KIB } : d)),
    };
    // web can grow to 4096 MiB at most: growth 2048, not 6952.
    expect(modelBreakdown(createModel(capped), P)).toMatchObject({ headroomPages: 2972 * M, growthPages: 2048 * M, freePages: 924 * M });
  });

  it('guests converging and builds populating leave model free unchanged; reconcile reports no surprise', () => {
    let model = reserve(createModel(baseState()), 'new1', 512 * M);
    model = transferReservation(model, 'new1', 7);
    const freeBefore = modelFreePages(model, P);
    // web grows by 600 MiB, the new domain 7 (building) populates 300 MiB of its reservation.
    const later = baseState();
    const observed: ObservedState = {
      host: { ...later.host, freePages: later.host.freePages - 900 * M },
      domains: [
        ...later.domains.map((d) => (d.domid === 1 ? { ...d, totPages: d.totPages + 600 * M } : d)),
        guest(7, 300, 300, { name: 'new1', building: true, targetKiB: 512 * MIB_KIB, maxPages: 513 * M }),
      ],
    };
    const result = reconcile(model, observed, P);
    expect(result.released).toEqual([]);
    expect(result.after.freePages).toBe(freeBefore);
    expect(result.modelFreeDeltaPages).toBe(0);
    expect(result.after.reservedPages).toBe(212 * M);
  });

  it('frees from ballooning down show up as a positive delta; an unknown allocation as a negative one', () => {
    const model = createModel(baseState());
    const state = baseState();
    const shrunk: ObservedState = {
      host: { ...state.host, freePages: state.host.freePages + 300 * M },
      domains: state.domains.map((d) => (d.domid === 2 ? { ...d, totPages: d.totPages - 300 * M, targetKiB: 1748 * MIB_KIB } : d)),
    };
    expect(reconcile(model, shrunk, P).modelFreeDeltaPages).toBe(300 * M);
    const eaten: ObservedState = { ...state, host: { ...state.host, freePages: state.host.freePages - 50 * M } };
    expect(reconcile(model, eaten, P).modelFreeDeltaPages).toBe(-50 * M);
  });

  it('reconcile releases the reservation of a finished build (and of a vanished one)', () => {
    let model = reserve(reserve(createModel(baseState()), 'a', 512 * M), 'b', 256 * M);
    model = transferReservation(transferReservation(model, 'a', 7), 'b', 8);
    const state = baseState();
    const observed: ObservedState = {
      host: { ...state.host, freePages: state.host.freePages - 512 * M },
      domains: [...state.domains, guest(7, 512, 512, { name: 'a' })],
    };
    const result = reconcile(model, observed, P);
    expect(result.released).toEqual([
      { id: 'a', cause: 'built' },
      { id: 'b', cause: 'gone' },
    ]);
    expect(result.model.reservations).toEqual([]);
    // a's 512 MiB moved from "reserved" to "used": model free is the same as with both reservations minus b's.
    expect(result.after.freePages).toBe(modelFreePages(createModel(baseState()), P) - 512 * M);
  });
});

describe('admission from the model', () => {
  it('admits in arrival order while the model has room, reserving for each', () => {
    const model = createModel(baseState());
    const result = admitFromModel(model, [
      { id: 'a', needPages: 1024 * M },
      { id: 'b', needPages: 1024 * M },
      { id: 'c', needPages: 512 * M },
    ], P);
    expect(result.admitted.map((r) => r.id)).toEqual(['a', 'b']);
    expect(result.waiting.map((r) => r.id)).toEqual(['c']);
    expect(result.model.reservations.map((r) => [r.id, r.pages])).toEqual([
      ['a', 1024 * M],
      ['b', 1024 * M],
    ]);
    expect(modelFreePages(result.model, P)).toBe(0);
    // The balloon plan frees what c needs beyond model free.
    const plan = result.balloon!;
    expect(plan.feasible).toBe(true);
    expect(plan.shortfallPages).toBe(512 * M);
    expect(plan.coveredPages).toBeGreaterThanOrEqual(512 * M);
    expect(plan.donors.every((d) => d.toKiB >= d.floorKiB)).toBe(true);
  });

  it('strict FIFO: a small later request does not take memory the head is waiting for', () => {
    const result = admitFromModel(createModel(baseState()), [
      { id: 'big', needPages: 3000 * M },
      { id: 'small', needPages: 10 * M },
    ]);
    expect(result.admitted).toEqual([]);
    expect(result.waiting.map((r) => r.id)).toEqual(['big', 'small']);
  });

  it('fails the impossible request at once without a plan for it', () => {
    const result = admitFromModel(createModel(baseState()), [{ id: 'huge', needPages: 100_000 * M }]);
    expect(result.impossible.map((r) => r.id)).toEqual(['huge']);
    expect(result.balloon).toBeNull();
  });
});

describe('growth decisions', () => {
  it('lets a running guest grow when the model has room, and says how much is missing when not', () => {
    const model = createModel(baseState()); // model free 2048 MiB
    expect(decideGrowth(model, 2, 3072 * MIB_KIB, P)).toEqual({ allowed: true, increasePages: 1024 * M, shortfallPages: 0 });
    // web already has 1024 MiB of growth committed; asking 3584 adds 512 more.
    expect(decideGrowth(model, 1, 3584 * MIB_KIB, P)).toEqual({ allowed: true, increasePages: 512 * M, shortfallPages: 0 });
    const tight = reserve(model, 'x', 2000 * M);
    expect(decideGrowth(tight, 2, 2048 * MIB_KIB + 100 * MIB_KIB, P)).toEqual({
      allowed: false,
      increasePages: 100 * M,
      shortfallPages: 52 * M,
    });
    // Beyond max_pages Xen refuses the allocations: only up to max_pages is committed.
    expect(decideGrowth(model, 2, 9000 * MIB_KIB).increasePages).toBe(2048 * M);
    expect(() => decideGrowth(model, 99, 1, P)).toThrow(/domid must be a domain in the model/);
  });

  it('the reserve for Xen is not model free, unless donors are already freeing it', () => {
    const model = createModel(baseState());
    expect(modelBreakdown(model)).toMatchObject({ reserveHeldPages: 64 * M, freePages: 1984 * M });
    const freeing = createModel({
      ...baseState(),
      domains: baseState().domains.map((d) => (d.domid === 2 ? { ...d, targetKiB: 2000 * MIB_KIB } : d)),
    });
    expect(modelBreakdown(freeing)).toMatchObject({ reserveHeldPages: 16 * M });
  });

  it('names bad reservations', () => {
    expect(() => reserve(createModel(baseState()), 'a', -1)).toThrow(/reservation\.pages must be an integer/);
    expect(() => reserve(reserve(createModel(baseState()), 'a', 1), 'a', 1)).toThrow(/not reserved yet/);
  });
});

describe('what the model enforces', () => {
  it('holds every running guest with a balloon driver to its target; not builds, not dying, not without a driver', () => {
    const state = host(8192, [
      dom0(1024),
      guest(1, 2048, 512, { name: 'web', maxPages: 4096 * M, maxKiB: 4096 * MIB_KIB }),
      guest(2, 1024, 512, { name: 'new', building: true, maxPages: 2048 * M }),
      guest(3, 1024, 512, { name: 'gone', dying: true, maxPages: 2048 * M }),
      guest(4, 1024, 512, { name: 'hvm', canBalloon: false, maxPages: 2048 * M }),
      guest(5, 1024, 512, { name: 'down', targetKiB: 800 * MIB_KIB, maxPages: 2048 * M }),
    ]);
    const { limits, refused } = modelLimits(createModel(state), new Map(), P);
    expect(limits.map((l) => [l.name, l.limitKiB / MIB_KIB])).toEqual([
      ['Domain-0', 1024],
      ['web', 2048],
      ['down', 800],
    ]);
    expect(refused).toEqual([]);
  });

  it('a target raised above the limit a guest has is growth: admitted while the model has room, first come first served', () => {
    const model = createModel(baseState()); // model free 2048 MiB; web already grows to 3072 (1024 counted)
    const state = model.state;
    const raised: ObservedState = {
      ...state,
      domains: state.domains.map((d) => (d.domid === 2 ? { ...d, targetKiB: 3072 * MIB_KIB } : d)),
    };
    const held = new Map([[1, 3072 * MIB_KIB], [2, 2048 * MIB_KIB]]);
    const fits = modelLimits(createModel(raised), held, P);
    expect(fits.limits.find((l) => l.domid === 2)!.limitKiB).toBe(3072 * MIB_KIB);
    // With 1600 MiB reserved for a build, the 1024 MiB growth has no room: db keeps its limit and waits.
    const busy = reserve(createModel(raised), 'build', 1600 * M);
    const refused = modelLimits(busy, held, P);
    expect(refused.limits.find((l) => l.domid === 2)!.limitKiB).toBe(2048 * MIB_KIB);
    expect(refused.refused).toEqual([{ domid: 2, name: 'db', increasePages: 1024 * M }]);
  });
});
