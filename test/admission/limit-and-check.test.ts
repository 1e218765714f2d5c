import { describe, expect, it } from 'vitest';
import { resolveBalloonPolicy } from '../../src/admission/balloon-plan.js';
import {
  addLimits,
  applyRound,
  buildFinished,
  checkRound,
  enqueue,
  giveUpWaiting,
  limitsFor,
  nextAction,
  planRoundRobin,
  poolAfterLimits,
  startSession,
  type PoolRequest,
} from '../../src/admission/limit-and-check.js';
import { headroomPages, type DomainState, type ObservedState } from '../../src/admission/state.js';
import { kibToPagesCeil } from '../../src/units.js';
import { prng, randomInt } from '../helpers/random.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

const req = (id: string, mib: number): PoolRequest => ({ id, needPages: mib * MIB_PAGES });
const exact = { dom0Ballooning: false, marginFraction: 0, marginMinPages: 0 };

describe('limits', () => {
  it('limits every running domain above its size to its size; not builds, not dying; originals kept', () => {
    const state = host(16384, [
      dom0(1024, { maxPages: 2 ** 40 }),
      guest(1, 2048, 512, { maxPages: 4096 * MIB_PAGES }),
      guest(2, 1024, 512),
      guest(3, 512, 0, { building: true, maxPages: 1024 * MIB_PAGES }),
      guest(4, 512, 0, { dying: true, maxPages: 1024 * MIB_PAGES }),
    ]);
    expect(limitsFor(state)).toEqual([
      { domid: 0, name: 'Domain-0', fromKiB: 2 ** 42, toKiB: 1024 * MIB_KIB },
      { domid: 1, name: 'guest1', fromKiB: 4096 * MIB_KIB, toKiB: 2048 * MIB_KIB },
    ]);
    expect(limitsFor(state, { includeDom0: false }).map((l) => l.domid)).toEqual([1]);
    const first = limitsFor(state);
    expect(limitsFor(state, {}, first)).toEqual([]);
    // A second limit pass never replaces the original value to restore.
    let session = addLimits(startSession([]), first);
    session = addLimits(session, [{ domid: 1, name: 'guest1', fromKiB: 2048 * MIB_KIB, toKiB: 2048 * MIB_KIB }]);
    expect(session.limits.find((l) => l.domid === 1)?.fromKiB).toBe(4096 * MIB_KIB);
  });

  it('the pool is free − outstanding claims', () => {
    const state = host(4096, [dom0(1024)], { outstandingPages: 1000 });
    expect(poolAfterLimits(state)).toBe(3072 * MIB_PAGES - 1000);
  });
});

describe('checkRound: admission from the pool', () => {
  const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 512), guest(3, 2048, 512)]);
  // pool = 1024 MiB

  it('admits everything, in arrival order, when the pool is enough', () => {
    const round = checkRound(state, [req('a', 300), req('b', 300), req('c', 424)], { policy: exact });
    expect(round.poolPages).toBe(1024 * MIB_PAGES);
    expect(round.admitted.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(round.remainingPoolPages).toBe(0);
    expect(round.waiting).toEqual([]);
    expect(round.balloon).toBeNull();
  });

  it('FIFO stops at the first request that does not fit; first-fit lets smaller ones past', () => {
    const pending = [req('a', 500), req('b', 1000), req('c', 300)];
    const fifo = checkRound(state, pending, { policy: exact });
    expect(fifo.admitted.map((r) => r.id)).toEqual(['a']);
    expect(fifo.waiting.map((r) => r.id)).toEqual(['b', 'c']);
    const firstFit = checkRound(state, pending, { order: 'first-fit', policy: exact });
    expect(firstFit.admitted.map((r) => r.id)).toEqual(['a', 'c']);
    expect(firstFit.waiting.map((r) => r.id)).toEqual(['b']);
  });

  it('an impossible request fails at once, blocks nobody, and is not ballooned for', () => {
    const round = checkRound(state, [req('huge', 9000), req('a', 500)], { policy: exact });
    expect(round.impossible.map((r) => r.id)).toEqual(['huge']);
    expect(round.admitted.map((r) => r.id)).toEqual(['a']);
    expect(round.balloon).toBeNull();
  });

  it('plans round-robin ballooning for what waits: one quantum per donor per turn', () => {
    // pool 1024; a (1024) admitted; b needs 200 MiB more than what is left (0).
    const round = checkRound(state, [req('a', 1024), req('b', 200)], { policy: exact });
    const plan = round.balloon!;
    expect(plan.method).toBe('round-robin');
    expect(plan.feasible).toBe(true);
    expect(plan.shortfallPages).toBe(200 * MIB_PAGES);
    // 3 full turns of 64 MiB = 192 MiB, then donor 1 gives the last 8 MiB.
    expect(plan.donors.map((d) => [d.domid, d.askedPages / MIB_PAGES])).toEqual([
      [1, 72],
      [2, 64],
      [3, 64],
    ]);
    expect(plan.coveredPages).toBe(200 * MIB_PAGES);
    for (const d of plan.donors) expect(d.toKiB).toBe(d.fromKiB - d.askedPages * 4);
  });

  it('rotates the turns across checks', () => {
    const round = checkRound(state, [req('a', 1024), req('b', 200)], { policy: exact, rotateAfterDomid: 1 });
    expect(round.balloon!.donors.map((d) => [d.domid, d.askedPages / MIB_PAGES])).toEqual([
      [2, 72],
      [3, 64],
      [1, 64],
    ]);
  });

  it('balloons only for the longest run of waiting requests that can be covered', () => {
    // Reclaimable: 3 × 1536 MiB = 4608 MiB. Pool after a: 0. b (3000) fits, b + c (3000) does not.
    const round = checkRound(state, [req('a', 1024), req('b', 3000), req('c', 3000)], { policy: exact });
    expect(round.waiting.map((r) => r.id)).toEqual(['b', 'c']);
    expect(round.balloon!.shortfallPages).toBe(3000 * MIB_PAGES);
    expect(round.balloon!.feasible).toBe(true);
  });

  it('a donor near its floor is exhausted and the others keep turning', () => {
    const tight = host(8192, [dom0(1024), guest(1, 2048, 2040), guest(2, 2048, 512)]);
    const round = checkRound(tight, [req('a', 3072 + 200)], { policy: exact });
    expect(round.balloon!.donors.map((d) => [d.domid, d.askedPages / MIB_PAGES])).toEqual([
      [1, 8],
      [2, 192],
    ]);
    expect(round.balloon!.donors[0]!.toKiB).toBe(2040 * MIB_KIB);
  });

  it('names bad options', () => {
    expect(() => checkRound(state, [req('a', 1)], { quantumPages: 0 })).toThrow(/options\.quantumPages must be an integer >= 1/);
    expect(() => checkRound(state, [{ id: 'x', needPages: -1 }])).toThrow(/pending\[0\]\.needPages/);
    expect(() => checkRound(state, [], { order: 'lifo' as never })).toThrow(/options\.order/);
  });
});

describe('round-robin: property checks over random states (seeded)', () => {
  it('never below a floor, covers the shortfall when feasible, and turns stay within one quantum of each other', () => {
    const random = prng(42);
    let feasible = 0;
    for (let round = 0; round < 400; round++) {
      const domains: DomainState[] = [dom0(1024)];
      for (let i = 1; i <= randomInt(random, 1, 8); i++) {
        const mib = randomInt(random, 128, 4096);
        domains.push(guest(i, mib, randomInt(random, 0, mib)));
      }
      const state = host(40_000, domains);
      const policy = resolveBalloonPolicy('test', { dom0Ballooning: false, marginMinPages: randomInt(random, 0, 300) });
      const quantum = randomInt(random, 1, 40_000);
      const shortfall = randomInt(random, 0, 8192 * MIB_PAGES);
      const plan = planRoundRobin(state, shortfall, headroomPages(state.host), policy, quantum);
      const ranges = new Map(domains.map((d) => [d.domid, d.totPages - kibToPagesCeil(d.minKiB)]));
      const reclaimable = domains.filter((d) => !d.isDom0).reduce((s, d) => s + ranges.get(d.domid)!, 0);
      expect(plan.feasible).toBe(shortfall <= reclaimable);
      if (!plan.feasible) {
        expect(plan.donors).toEqual([]);
        continue;
      }
      feasible++;
      expect(plan.coveredPages).toBeGreaterThanOrEqual(shortfall);
      for (const d of plan.donors) expect(d.toKiB).toBeGreaterThanOrEqual(d.floorKiB);
      // Fairness: a donor that gave less than another by more than one quantum must be at its floor.
      const most = Math.max(0, ...plan.donors.map((d) => d.askedPages));
      for (const d of plan.donors) {
        if (most - d.askedPages > quantum) expect(d.askedPages).toBe(ranges.get(d.domid));
      }
    }
    expect(feasible).toBeGreaterThan(100);
  });
});

describe('the limit-and-check session', () => {
  it('checks, waits for every build before re-checking, then releases the original limits', () => {
    const state = host(8192, [dom0(1024), guest(1, 2048, 512, { maxPages: 3000 * MIB_PAGES })]);
    let session = startSession([req('a', 800), req('b', 3000), req('huge', 99_999)]);
    expect(nextAction(session)).toEqual({ kind: 'check' });
    session = addLimits(session, limitsFor(state));

    const round = checkRound(state, session.pending, { policy: exact });
    // pool = 5120 MiB: a and b fit; huge is impossible.
    session = applyRound(session, round);
    expect(session.failed).toEqual([{ id: 'huge', reason: 'impossible' }]);
    expect(nextAction(session)).toEqual({ kind: 'wait-for-builds', building: ['a', 'b'] });

    session = enqueue(session, req('late', 100));
    expect(() => applyRound(session, round)).toThrow(/re-check only after the builds finish/);
    expect(() => enqueue(session, req('a', 1))).toThrow(/unique in the batch/);
    session = buildFinished(session, 'a', true);
    expect(nextAction(session).kind).toBe('wait-for-builds');
    session = buildFinished(session, 'b', false);
    expect(nextAction(session)).toEqual({ kind: 'check' });
    expect(session.pending.map((r) => r.id)).toEqual(['late']);
    session = giveUpWaiting(session);
    expect(session.failed.map((f) => f.reason)).toEqual(['impossible', 'build-failed', 'gave-up']);
    expect(session.started).toEqual(['a']);
    expect(nextAction(session)).toEqual({
      kind: 'release-limits',
      // dom0 was already at its max_pages, so only guest 1 was limited.
      limits: [{ domid: 1, name: 'guest1', fromKiB: 3000 * MIB_KIB, toKiB: 2048 * MIB_KIB }],
    });
  });

  it('refuses duplicate ids', () => {
    expect(() => startSession([req('a', 1), req('a', 2)])).toThrow(/requests\[1\]\.id must be unique/);
  });
});
