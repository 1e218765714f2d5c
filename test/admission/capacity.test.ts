/**
 * The one capacity rule (admission/capacity.ts) — can this ever fit, may it take memory now, may a guest grow — at
 * its edges, with the reserve for Xen, and that every admission module uses it.
 */
import { describe, expect, it } from 'vitest';
import { admissiblePages, admitGrowth, arrivingPages, canEverFit, hostCapacity, returningPages } from '../../src/admission/capacity.js';
import { checkRound } from '../../src/admission/limit-and-check.js';
import { admitFromModel, createModel, reserve } from '../../src/admission/model.js';
import { headroomPages } from '../../src/admission/state.js';
import { isXenError } from '../../src/errors.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

/** No dom0 and no reserve: the rule's other terms alone (the reserve has its own tests). */
const noDom0 = { dom0Ballooning: false, reserveKiB: 0 };

describe('hostCapacity and canEverFit', () => {
  // 8192 MiB: dom0 1024 (not a donor here), a donor of 2048 with floor 512, one of 1024 at its floor.
  const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 1024, 1024)], { outstandingPages: 100 * MIB_PAGES });

  it('is headroom + every eligible donor range above its floor, nothing more', () => {
    const capacity = hostCapacity(state, noDom0);
    expect(capacity.headroomPages).toBe(headroomPages(state.host));
    expect(capacity.reclaimablePages).toBe(1536 * MIB_PAGES);
    expect(capacity.returningPages).toBe(0);
    expect(capacity.totalPages).toBe(headroomPages(state.host) + 1536 * MIB_PAGES);
    expect(canEverFit(capacity.totalPages, capacity)).toBe(true);
    expect(canEverFit(capacity.totalPages + 1, capacity)).toBe(false);
    expect(canEverFit(0, capacity)).toBe(true);
  });

  it('counts dom0 above its minimum when the policy lets it give', () => {
    const withDom0 = hostCapacity(state, { dom0MinKiB: 512 * MIB_KIB });
    expect(withDom0.reclaimablePages - hostCapacity(state, noDom0).reclaimablePages).toBe(512 * MIB_PAGES);
  });

  it('counts the pages of dying domains: the hypervisor is still handing them back', () => {
    const dying = { ...state, domains: [...state.domains, guest(3, 700, 0, { dying: true })] };
    const withDying = host(8192, [...dying.domains], { outstandingPages: 100 * MIB_PAGES });
    expect(returningPages(withDying)).toBe(700 * MIB_PAGES);
    const capacity = hostCapacity(withDying, noDom0);
    expect(capacity.returningPages).toBe(700 * MIB_PAGES);
    // A dying domain is no donor: its range is not counted twice.
    expect(capacity.reclaimablePages).toBe(1536 * MIB_PAGES);
    expect(capacity.totalPages).toBe(headroomPages(withDying.host) + 1536 * MIB_PAGES + 700 * MIB_PAGES);
  });

  it('leaves out donors that are excluded, building, paused or uncooperative', () => {
    for (const flag of [{ building: true }, { paused: true }, { uncooperative: true }]) {
      const s = host(8192, [dom0(1024), guest(1, 2048, 512, flag)]);
      expect(hostCapacity(s, noDom0).reclaimablePages).toBe(0);
    }
    const s = host(8192, [dom0(1024), guest(1, 2048, 512)]);
    expect(hostCapacity(s, { ...noDom0, excludedDomids: [1] }).reclaimablePages).toBe(0);
  });

  it('credits memory already in flight toward a lower target', () => {
    const s = host(8192, [dom0(1024), guest(1, 2048, 2048, { targetKiB: 1024 * MIB_KIB })]);
    expect(hostCapacity(s, noDom0).reclaimablePages).toBe(1024 * MIB_PAGES);
  });

  it('subtracts what is promised from the headroom, never below 0', () => {
    const headroom = headroomPages(state.host);
    const some = hostCapacity(state, noDom0, 1000);
    expect(some.totalPages).toBe(headroom - 1000 + 1536 * MIB_PAGES);
    const overPromised = hostCapacity(state, noDom0, headroom + 5000);
    expect(overPromised.totalPages).toBe(1536 * MIB_PAGES);
  });

  it('keeps the reserve for Xen out of what any request can ever get (64 MiB by default)', () => {
    const withReserve = hostCapacity(state, { dom0Ballooning: false });
    expect(withReserve.reservePages).toBe(64 * MIB_PAGES);
    expect(withReserve.totalPages).toBe(hostCapacity(state, noDom0).totalPages - 64 * MIB_PAGES);
    const bigger = hostCapacity(state, { dom0Ballooning: false, reserveKiB: 512 * MIB_KIB });
    expect(bigger.totalPages).toBe(hostCapacity(state, noDom0).totalPages - 512 * MIB_PAGES);
    // Never below 0, however big the reserve.
    expect(hostCapacity(state, { dom0Ballooning: false, reserveKiB: 1e9 }).totalPages).toBe(0);
  });

  it('refuses a bad promise or policy, naming it', () => {
    expect(() => hostCapacity(state, noDom0, -1)).toThrow(/hostCapacity: promisedPages must be an integer/);
    try {
      hostCapacity(state, { marginFraction: 2 });
      expect.unreachable();
    } catch (error) {
      expect(isXenError(error, 'EINVAL')).toBe(true);
      expect((error as Error).message).toMatch(/policy\.marginFraction/);
    }
  });
});

describe('every admission module decides impossibility with it', () => {
  const dying = guest(3, 1000, 0, { dying: true });
  const state = host(8192, [dom0(1024), guest(1, 2048, 512), dying]);
  const capacity = hostCapacity(state, noDom0);

  it('limit-and-check: a request at capacity waits, one page more is impossible; the round reports the capacity', () => {
    const round = checkRound(state, [
      { id: 'at', needPages: capacity.totalPages },
      { id: 'over', needPages: capacity.totalPages + 1 },
    ], { policy: noDom0 });
    expect(round.impossible.map((r) => r.id)).toEqual(['over']);
    expect(round.waiting.map((r) => r.id)).toEqual(['at']);
    expect(round.capacityPages).toBe(capacity.totalPages);
  });

  it('model: the same edge, less what the model has promised to builds in flight', () => {
    const model = createModel(state);
    const fresh = admitFromModel(model, [
      { id: 'at', needPages: capacity.totalPages },
      { id: 'over', needPages: capacity.totalPages + 1 },
    ], noDom0);
    expect(fresh.impossible.map((r) => r.id)).toEqual(['over']);
    const promised = reserve(model, 'building', 300 * MIB_PAGES);
    const later = admitFromModel(promised, [{ id: 'at', needPages: capacity.totalPages }], noDom0);
    expect(later.impossible.map((r) => r.id)).toEqual(['at']);
    const fits = admitFromModel(promised, [{ id: 'less', needPages: capacity.totalPages - 300 * MIB_PAGES }], noDom0);
    expect(fits.impossible).toEqual([]);
  });
});

describe('what may be taken now: the reserve free, or on its way', () => {
  it('headroom − promised − (reserve − arriving), never below 0', () => {
    expect(admissiblePages(1000, 64)).toBe(936);
    expect(admissiblePages(1000, 64, 40)).toBe(976);
    expect(admissiblePages(1000, 64, 500)).toBe(1000);
    expect(admissiblePages(1000, 64, 0, 900)).toBe(36);
    expect(admissiblePages(10, 64)).toBe(0);
  });

  it('arriving is what eligible donors are already freeing toward lower targets', () => {
    const s = host(8192, [dom0(1024), guest(1, 2048, 512, { targetKiB: 1500 * MIB_KIB }), guest(2, 2048, 512, { targetKiB: 1000 * MIB_KIB, uncooperative: true })]);
    expect(arrivingPages(s, noDom0)).toBe(548 * MIB_PAGES);
  });
});

describe('growth is an admission too', () => {
  const state = host(8192, [
    dom0(1024),
    guest(1, 2048, 512, { maxPages: 4096 * MIB_PAGES, maxKiB: 4096 * MIB_KIB }),
    guest(2, 1024, 512, { targetKiB: 1536 * MIB_KIB, maxPages: 2048 * MIB_PAGES, maxKiB: 2048 * MIB_KIB }),
  ]);
  // free: 8192 − 4096 = 4096 MiB; guest 2 will still grow 512 MiB.

  it('a raised target may take what is free, less other guests\' growth, the promises and the reserve', () => {
    const fits = admitGrowth(state, 1, 3000 * MIB_PAGES, { dom0Ballooning: false });
    expect(fits.increasePages).toBe(952 * MIB_PAGES);
    expect(fits.admissiblePages).toBe((4096 - 512 - 64) * MIB_PAGES);
    expect(fits.allowed).toBe(true);
    // Promised to a request that waits: the growth may not take it.
    const promised = admitGrowth(state, 1, 3000 * MIB_PAGES, { dom0Ballooning: false }, 3000 * MIB_PAGES);
    expect(promised.allowed).toBe(false);
    expect(promised.admissiblePages).toBe((4096 - 512 - 64 - 3000) * MIB_PAGES);
  });

  it('only what the raise adds counts: a target still under the guest\'s size or its growth so far needs nothing', () => {
    expect(admitGrowth(state, 1, 1800 * MIB_PAGES).increasePages).toBe(0);
    expect(admitGrowth(state, 2, 1536 * MIB_PAGES).increasePages).toBe(0);
    expect(admitGrowth(state, 2, 1600 * MIB_PAGES).increasePages).toBe(64 * MIB_PAGES);
    expect(() => admitGrowth(state, 9, 1)).toThrow(/admitGrowth: domid must be a domain of the observed state/);
  });
});
