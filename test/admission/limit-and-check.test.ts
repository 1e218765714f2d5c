import { describe, expect, it } from 'vitest';
import {
  addLimits,
  applyRound,
  buildFinished,
  checkRound,
  enqueue,
  giveUpWaiting,
  limitsFor,
  nextAction,
  poolAfterLimits,
  startSession,
  type PoolRequest,
} from '../../src/admission/limit-and-check.js';
import { dom0, guest, host, MIB_KIB, MIB_PAGES } from './helpers.js';

const req = (id: string, mib: number): PoolRequest => ({ id, needPages: mib * MIB_PAGES });
const exact = { dom0Ballooning: false, marginFraction: 0, marginMinPages: 0, reserveKiB: 0, tolerancePages: 0 };

describe('limits', () => {
  it('limits every running domain above its size to its size; not builds, not dying, not without a balloon driver', () => {
    const state = host(16384, [
      dom0(1024, { maxPages: 2 ** 40 }),
      guest(1, 2048, 512, { maxPages: 4096 * MIB_PAGES }),
      guest(2, 1024, 512),
      guest(3, 512, 0, { building: true, maxPages: 1024 * MIB_PAGES }),
      guest(4, 512, 0, { dying: true, maxPages: 1024 * MIB_PAGES }),
      guest(5, 512, 0, { canBalloon: false, maxPages: 1024 * MIB_PAGES }),
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

  it('the pool is free − outstanding claims − the reserve for Xen', () => {
    const state = host(4096, [dom0(1024)], { outstandingPages: 1000 });
    expect(poolAfterLimits(state)).toBe(3072 * MIB_PAGES - 1000 - 64 * MIB_PAGES);
    expect(poolAfterLimits(state, { reserveKiB: 0 })).toBe(3072 * MIB_PAGES - 1000);
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

  it('plans ballooning for what waits with the one planner every strategy uses, the admitted builds promised', () => {
    // pool 1024; a (1024) admitted; b needs 200 MiB that is not there.
    const round = checkRound(state, [req('a', 1024), req('b', 200)], { policy: exact });
    const plan = round.balloon!;
    expect(plan.method).toBe('proportional');
    expect(plan.feasible).toBe(true);
    expect(plan.promisedPages).toBe(1024 * MIB_PAGES);
    expect(plan.shortfallPages).toBe(200 * MIB_PAGES);
    expect(round.balloonForPages).toBe(200 * MIB_PAGES);
    // Three equal donors: the same share each.
    expect(new Set(plan.donors.map((d) => d.askedPages)).size).toBe(1);
    expect(plan.coveredPages).toBeGreaterThanOrEqual(200 * MIB_PAGES);
    for (const d of plan.donors) expect(d.toKiB).toBe(d.fromKiB - d.askedPages * 4);
  });

  it('with observed rates the split follows them (work-conserving)', () => {
    const rates = new Map([[1, 300 * MIB_PAGES], [2, 100 * MIB_PAGES], [3, 0]]);
    const round = checkRound(state, [req('a', 1024), req('b', 400)], { policy: exact, rates });
    const plan = round.balloon!;
    expect(plan.method).toBe('by-rate');
    expect(plan.donors.map((d) => d.domid)).toEqual([1, 2]);
    expect(plan.donors[0]!.askedPages / plan.donors[1]!.askedPages).toBeCloseTo(3, 2);
  });

  it('balloons only for the longest run of waiting requests that can be covered', () => {
    // Reclaimable: 3 × 1536 MiB = 4608 MiB. Pool after a: 0. b (3000) fits, b + c (3000) does not.
    const round = checkRound(state, [req('a', 1024), req('b', 3000), req('c', 3000)], { policy: exact });
    expect(round.waiting.map((r) => r.id)).toEqual(['b', 'c']);
    expect(round.balloon!.shortfallPages).toBe(3000 * MIB_PAGES);
    expect(round.balloon!.feasible).toBe(true);
  });

  it('the pool keeps the reserve for Xen unless donors are already freeing it', () => {
    const reserved = checkRound(state, [req('a', 1000)], { policy: { dom0Ballooning: false } });
    expect(reserved.poolPages).toBe(1024 * MIB_PAGES - 64 * MIB_PAGES);
    expect(reserved.waiting.map((r) => r.id)).toEqual(['a']);
    const onItsWay = host(8192, [dom0(1024), guest(1, 2048, 512, { targetKiB: 1984 * MIB_KIB }), guest(2, 2048, 512), guest(3, 2048, 512)]);
    expect(checkRound(onItsWay, [req('a', 1000)], { policy: { dom0Ballooning: false } }).admitted.map((r) => r.id)).toEqual(['a']);
  });

  it('names bad options', () => {
    expect(() => checkRound(state, [{ id: 'x', needPages: -1 }])).toThrow(/pending\[0\]\.needPages/);
    expect(() => checkRound(state, [], { order: 'lifo' as never })).toThrow(/options\.order/);
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

  it('a wait that gives up fails only the requests it names: the others keep waiting', () => {
    const session = giveUpWaiting(startSession([req('head', 900), req('next', 100)]), ['head']);
    expect(session.pending.map((r) => r.id)).toEqual(['next']);
    expect(session.failed).toEqual([{ id: 'head', reason: 'gave-up' }]);
  });
});
