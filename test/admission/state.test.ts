import { describe, expect, it } from 'vitest';
import type { Physinfo } from '../../src/backend.js';
import { checkObservedState, headroomPages, observeState } from '../../src/admission/state.js';
import { domainInfo } from '../helpers/domain-info.js';
import { dom0, guest, host } from './helpers.js';

const physinfo: Physinfo = {
  totalPages: 1_000_000,
  freePages: 300_000,
  scrubPages: 0,
  outstandingPages: 50_000,
  nrCpus: 2,
  nrNodes: 1,
  cpuKhz: 1,
};

describe('observed state', () => {
  it('headroom is free − outstanding (xl info free_memory), never negative', () => {
    expect(headroomPages(physinfo)).toBe(250_000);
    expect(headroomPages({ totalPages: 10, freePages: 3, outstandingPages: 5 })).toBe(0);
  });

  it('observeState combines physinfo, domain info and the toolstack\'s facts, with safe defaults', () => {
    const sized = { totPages: 1000, maxPages: 2000 };
    const state = observeState(
      physinfo,
      [
        domainInfo(0, { ...sized, name: 'Domain-0', targetKiB: 4000 }),
        domainInfo(5, { ...sized, paused: true }),
        domainInfo(7, { ...sized, targetKiB: 8000, dying: true }),
      ],
      new Map([[5, { name: 'web', minKiB: 1024, maxKiB: 9000, building: true }]]),
    );
    expect(state.host).toEqual({ totalPages: 1_000_000, freePages: 300_000, outstandingPages: 50_000 });
    expect(state.domains[0]).toMatchObject({ domid: 0, name: 'Domain-0', isDom0: true, targetKiB: 4000, minKiB: 4000 });
    // A domain without facts: target = its size, floor = its size (never ballooned), ceiling = max_pages.
    expect(state.domains[1]).toMatchObject({
      domid: 5,
      name: 'web',
      targetKiB: 4000,
      minKiB: 1024,
      maxKiB: 9000,
      building: true,
      uncooperative: false,
      paused: true,
      isDom0: false,
    });
    expect(state.domains[2]).toMatchObject({ name: 'domain-7', targetKiB: 8000, minKiB: 4000, maxKiB: 8000, dying: true });
    expect(() => checkObservedState('t', state)).not.toThrow();
  });

  it('checkObservedState names the bad field', () => {
    const good = host(4096, [dom0(1024), guest(1, 512, 128)]);
    const cases: [unknown, RegExp][] = [
      [{ ...good, host: { ...good.host, freePages: -1 } }, /state\.host\.freePages must be an integer/],
      [{ ...good, host: { ...good.host, freePages: good.host.totalPages + 1 } }, /state\.host\.freePages must be at most totalPages/],
      [{ ...good, domains: 'x' }, /state\.domains must be an array/],
      [{ ...good, domains: [good.domains[0], { ...good.domains[1], domid: 0 }] }, /state\.domains\[1\]\.domid must be unique/],
      [{ ...good, domains: [{ ...good.domains[0], targetKiB: Number.NaN }] }, /state\.domains\[0\]\.targetKiB must be a finite number >= 0, got NaN/],
      [{ ...good, domains: [{ ...good.domains[0], minKiB: 10, maxKiB: 5 }] }, /state\.domains\[0\]\.minKiB must be at most maxKiB \(5\)/],
      [{ ...good, domains: [{ ...good.domains[0], building: 'no' }] }, /state\.domains\[0\]\.building must be true or false/],
    ];
    for (const [state, message] of cases) expect(() => checkObservedState('op', state as never)).toThrow(message);
  });
});
