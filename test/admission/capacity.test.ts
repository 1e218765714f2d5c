/** The one "can this ever fit" rule (admission/capacity.ts), at its edges, and that every admission module uses it. */
import { describe, expect, it } from 'vitest';
import { canEverFit, hostCapacity, returningPages } from '../../src/admission/capacity.js';
import { checkRound } from '../../src/admission/limit-and-check.js';
import { admitFromModel, createModel, reserve } from '../../src/admission/model.js';
import { headroomPages } from '../../src/admission/state.js';
import { isXenError } from '../../src/errors.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

const noDom0 = { dom0Ballooning: false };

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
