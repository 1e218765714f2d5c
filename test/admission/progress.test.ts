import { describe, expect, it } from 'vitest';
import { planBalloon, type BalloonPlan } from '../../src/admission/balloon-plan.js';
import {
  afterRefusedRetry,
  applyPlan,
  freedPages,
  observeProgress,
  projectedAdmissionMs,
  resolveWaitConfig,
  startWaiting,
  uncooperativeDomids,
  type WaitState,
  type WaitStep,
} from '../../src/admission/progress.js';
import { headroomPages, type ObservedState } from '../../src/admission/state.js';
import { kibToPagesCeil } from '../../src/units.js';
import { prng, randomInt } from '../helpers/random.js';
import { dom0, guest, host, MIB_PAGES } from './helpers.js';

/** No dom0 and no reserve: the wait's own rules alone (the reserve has its own tests below). */
const noDom0 = { dom0Ballooning: false, reserveKiB: 0 };

/** Host with two 2 GiB donors (floors 512 MiB) and a need 1000 MiB above the headroom. */
function twoDonorSetup(): { state: ObservedState; need: number; plan: BalloonPlan } {
  const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 512)]);
  const need = headroomPages(state.host) + 1000 * MIB_PAGES;
  return { state, need, plan: planBalloon(state, { needPages: need, policy: noDom0 }) };
}

function start(config = {}): { step: WaitStep; state: ObservedState; need: number; plan: BalloonPlan } {
  const { state, need, plan } = twoDonorSetup();
  const step = startWaiting({ needPages: need, plan, nowMs: 0, headroomPages: headroomPages(state.host), config });
  return { step, state, need, plan };
}

function target(plan: BalloonPlan, domid: number): number {
  return kibToPagesCeil(plan.donors.find((d) => d.domid === domid)!.toKiB);
}

const START_TOT = 2048 * MIB_PAGES;

describe('startWaiting / applyPlan', () => {
  it('an infeasible plan gives up at once and has asked nobody', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 100_000 * MIB_PAGES });
    const step = startWaiting({ needPages: 100_000 * MIB_PAGES, plan, nowMs: 0, headroomPages: 0 });
    expect(step.decision).toEqual({ kind: 'give-up', cause: 'cannot-free-enough' });
    expect(step.state.asked).toEqual([]);
  });

  it('a plan with nothing to free says retry the claim', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const plan = planBalloon(state, { needPages: 10 });
    expect(startWaiting({ needPages: 10, plan, nowMs: 0, headroomPages: 999 }).decision).toEqual({
      kind: 'retry-claim',
    });
  });

  it('a feasible plan waits until the first stall deadline', () => {
    const { step, plan } = start();
    expect(step.decision).toEqual({ kind: 'wait', untilMs: 5000 });
    expect(step.state.donors.map((d) => [d.domid, d.targetPages])).toEqual([
      [1, target(plan, 1)],
      [2, target(plan, 2)],
    ]);
    expect(step.state.asked.map((a) => a.originalKiB)).toEqual([2048 * 1024, 2048 * 1024]);
  });
});

describe('observeProgress', () => {
  it('keeps waiting while donors make progress, past the stall timeout', () => {
    const { step, state } = start();
    let wait: WaitState = step.state;
    for (let second = 1; second <= 20; second++) {
      const { state: next, decision } = observeProgress(wait, {
        nowMs: second * 1000,
        headroomPages: headroomPages(state.host) + second * 10,
        donors: [
          { domid: 1, totPages: START_TOT - second * 5 },
          { domid: 2, totPages: START_TOT - second * 5 },
        ],
      });
      expect(decision).toEqual({ kind: 'wait', untilMs: second * 1000 + 5000 });
      wait = next;
    }
    expect(wait.uncooperative).toEqual([]);
    expect(freedPages(wait)).toBe(2 * 20 * 5);
  });

  it('marks a donor uncooperative after exactly stallTimeoutMs without progress', () => {
    for (const stallTimeoutMs of [5000, 2000, 12_345]) {
      const { step, state } = start({ stallTimeoutMs });
      const obs = (nowMs: number) => ({
        nowMs,
        headroomPages: headroomPages(state.host),
        donors: [
          { domid: 1, totPages: START_TOT },
          { domid: 2, totPages: START_TOT - Math.floor(nowMs / 100) },
        ],
      });
      const before = observeProgress(step.state, obs(stallTimeoutMs - 1));
      expect(before.decision.kind).toBe('wait');
      const at = observeProgress(before.state, obs(stallTimeoutMs));
      expect(at.decision).toEqual({ kind: 'mark-uncooperative', domids: [1] });
      expect(uncooperativeDomids(at.state)).toEqual([1]);
      expect(at.state.uncooperative[0]).toMatchObject({ domid: 1, markedAtMs: stallTimeoutMs, totPages: START_TOT });
      expect(at.state.donors.map((d) => d.domid)).toEqual([2]);
    }
  });

  it('a donor that oscillates only progresses when it reaches a new low', () => {
    const { step, state } = start();
    const h = headroomPages(state.host);
    const seq = [START_TOT - 100, START_TOT, START_TOT - 100, START_TOT - 50, START_TOT - 100];
    let wait = step.state;
    let last: WaitStep | undefined;
    seq.forEach((tot, i) => {
      last = observeProgress(wait, {
        nowMs: 1000 * (i + 1) + 500,
        headroomPages: h,
        donors: [
          { domid: 1, totPages: tot },
          { domid: 2, totPages: START_TOT - 1000 * (i + 1) },
        ],
      });
      wait = last.state;
    });
    // Its only new low was at 1.5 s, so it stalls at 6.5 s.
    const stalled = observeProgress(wait, {
      nowMs: 6500,
      headroomPages: h,
      donors: [
        { domid: 1, totPages: START_TOT - 100 },
        { domid: 2, totPages: START_TOT - 7000 },
      ],
    });
    expect(last!.decision.kind).toBe('wait');
    expect(stalled.decision).toEqual({ kind: 'mark-uncooperative', domids: [1] });
  });

  it('never gives up while donors make steady progress, however long it takes (no wall-time limit by default)', () => {
    const { step, state } = start();
    expect(step.state.config.maxWaitMs).toBeNull();
    let wait = step.state;
    for (let t = 10_000; t <= 3_600_000; t += 10_000) {
      const { state: next, decision } = observeProgress(wait, {
        nowMs: t,
        headroomPages: headroomPages(state.host),
        donors: [
          { domid: 1, totPages: START_TOT - t / 10_000 },
          { domid: 2, totPages: START_TOT - t / 10_000 },
        ],
      });
      expect(decision.kind).toBe('wait');
      wait = next;
    }
    expect(wait.uncooperative).toEqual([]);
  });

  it('with an operator\'s wall-time limit: gives up when it is spent, even while donors still progress', () => {
    const { step, state } = start({ maxWaitMs: 10_000 });
    const at = (t: number) =>
      observeProgress(step.state, {
        nowMs: t,
        headroomPages: headroomPages(state.host) + 100,
        donors: [
          { domid: 1, totPages: START_TOT - 50 },
          { domid: 2, totPages: START_TOT - 50 },
        ],
      }).decision;
    expect(at(10_000)).toEqual({ kind: 'give-up', cause: 'max-wait' });
  });

  it('with a limit: gives up at once when the observed rates cannot reach the need before it (too slow)', () => {
    const { step, state, need } = start({ maxWaitMs: 60_000 });
    // Both move 10 pages/s: 1000 MiB would take hours.
    const slow = observeProgress(step.state, {
      nowMs: 2000,
      headroomPages: headroomPages(state.host) + 40,
      donors: [
        { domid: 1, totPages: START_TOT - 20 },
        { domid: 2, totPages: START_TOT - 20 },
      ],
    });
    expect(slow.decision).toEqual({ kind: 'give-up', cause: 'too-slow' });
    // Fast enough: 100 MiB/s each frees the 1000 MiB in 5 s.
    const fast = observeProgress(step.state, {
      nowMs: 2000,
      headroomPages: headroomPages(state.host) + 400 * MIB_PAGES,
      donors: [
        { domid: 1, totPages: START_TOT - 200 * MIB_PAGES },
        { domid: 2, totPages: START_TOT - 200 * MIB_PAGES },
      ],
    });
    expect(fast.decision.kind).toBe('wait');
    expect(need).toBeGreaterThan(0);
  });

  it('a last-moment headroom that covers the need wins over the limit', () => {
    const { step, need } = start({ maxWaitMs: 10_000 });
    const at = observeProgress(step.state, { nowMs: 10_000, headroomPages: need, donors: [] });
    expect(at.decision).toEqual({ kind: 'retry-claim' });
  });

  it('says retry the claim as soon as the headroom covers the need', () => {
    const { step, need, plan } = start();
    const at = observeProgress(step.state, {
      nowMs: 800,
      headroomPages: need,
      donors: [
        { domid: 1, totPages: target(plan, 1) + 5000 },
        { domid: 2, totPages: target(plan, 2) },
      ],
    });
    expect(at.decision).toEqual({ kind: 'retry-claim' });
  });

  it('replans the remainder as soon as ONE donor reaches its target while the need is still short (work-conserving)', () => {
    const { step, need, plan } = start();
    const at = observeProgress(step.state, {
      nowMs: 2000,
      headroomPages: need - 5000,
      donors: [
        { domid: 1, totPages: target(plan, 1) },
        { domid: 2, totPages: target(plan, 2) + 5000 },
      ],
    });
    expect(at.decision).toEqual({ kind: 'replan' });
    // Its rate is known from that one look: what it gave over the time it took.
    const rate = (START_TOT - target(plan, 1)) / 2;
    expect(at.state.asked.find((a) => a.domid === 1)!.ratePagesPerS).toBeCloseTo(rate, 6);
    // Seen there again, it is no news: no second replan.
    const again = observeProgress(at.state, {
      nowMs: 2250,
      headroomPages: need - 4000,
      donors: [
        { domid: 1, totPages: target(plan, 1) },
        { domid: 2, totPages: target(plan, 2) + 4000 },
      ],
    });
    expect(again.decision.kind).toBe('wait');
  });

  it('measures each donor\'s rate once it has been watched for the rate window, and wakes when the need is due', () => {
    const { step, state, need } = start();
    const h = headroomPages(state.host);
    // Each gives 100 MiB/s: 1000 MiB above the headroom in 5 s from the start.
    const at = observeProgress(step.state, {
      nowMs: 1000,
      headroomPages: h + 200 * MIB_PAGES,
      donors: [
        { domid: 1, totPages: START_TOT - 100 * MIB_PAGES },
        { domid: 2, totPages: START_TOT - 100 * MIB_PAGES },
      ],
    });
    expect(at.state.asked.map((a) => a.ratePagesPerS)).toEqual([100 * MIB_PAGES, 100 * MIB_PAGES]);
    expect(projectedAdmissionMs(at.state)).toBeCloseTo(4000, 0);
    expect(at.decision).toEqual({ kind: 'wait', untilMs: 5000 });
    expect(need - h).toBe(1000 * MIB_PAGES);
  });

  it('asks for a replan when every donor reached its target and the headroom is still short', () => {
    const { step, need, plan } = start();
    const at = observeProgress(step.state, {
      nowMs: 3000,
      headroomPages: need - 1,
      donors: [
        { domid: 1, totPages: target(plan, 1) + 256 },
        { domid: 2, totPages: target(plan, 2) },
      ],
    });
    expect(at.decision).toEqual({ kind: 'replan' });
  });

  it('forgets a donor that disappeared and replans when none is left', () => {
    const { step, state } = start();
    const at = observeProgress(step.state, { nowMs: 1000, headroomPages: headroomPages(state.host), donors: [] });
    expect(at.state.gone).toEqual([1, 2]);
    expect(at.state.donors).toEqual([]);
    expect(at.decision).toEqual({ kind: 'replan' });
  });
});

describe('the replan cycle', () => {
  it('stuck donor → marked → replanned without it → the other covers → retry; originals kept for restore', () => {
    const { step, state: initial, need, plan } = start();
    const t2 = target(plan, 2);
    // Donor 2 reaches its first target, donor 1 never moves.
    const stalled = observeProgress(step.state, {
      nowMs: 5000,
      headroomPages: headroomPages(initial.host) + (START_TOT - t2),
      donors: [
        { domid: 1, totPages: START_TOT },
        { domid: 2, totPages: t2 },
      ],
    });
    expect(stalled.decision).toEqual({ kind: 'mark-uncooperative', domids: [1] });

    const observed: ObservedState = {
      host: { ...initial.host, freePages: initial.host.freePages + (START_TOT - t2) },
      domains: initial.domains.map((d) =>
        d.domid === 1
          ? { ...d, targetKiB: target(plan, 1) * 4 }
          : d.domid === 2
            ? { ...d, totPages: t2, targetKiB: t2 * 4 }
            : d,
      ),
    };
    const replan = planBalloon(observed, {
      needPages: need,
      policy: { ...noDom0, excludedDomids: uncooperativeDomids(stalled.state) },
    });
    expect(replan.feasible).toBe(true);
    const replanned = applyPlan(stalled.state, replan, 5000);
    // Its next stall deadline, or sooner: when it should reach its new target at the rate it showed.
    expect(replanned.decision.kind).toBe('wait');
    expect((replanned.decision as { untilMs: number }).untilMs).toBeLessThanOrEqual(10_000);
    expect(replanned.state.plans).toBe(2);
    const newTarget = target(replan, 2);
    expect(newTarget).toBeLessThan(t2);
    // Donor 2 was first asked from 2048 MiB: that is what a failure restores, not its intermediate target.
    expect(replanned.state.asked.find((a) => a.domid === 2)).toMatchObject({
      originalKiB: 2048 * 1024,
      lastTargetKiB: newTarget * 4,
    });
    expect(replanned.state.asked.find((a) => a.domid === 1)?.originalKiB).toBe(2048 * 1024);

    const done = observeProgress(replanned.state, {
      nowMs: 7000,
      headroomPages: need + 10,
      donors: [{ domid: 2, totPages: newTarget }],
    });
    expect(done.decision).toEqual({ kind: 'retry-claim' });
    expect(freedPages(done.state)).toBe(START_TOT - newTarget);
  });

  it('refuses a replan that asks a donor already marked uncooperative', () => {
    const { step, state, plan } = start();
    const marked = observeProgress(step.state, {
      nowMs: 5000,
      headroomPages: headroomPages(state.host),
      donors: [
        { domid: 1, totPages: START_TOT },
        { domid: 2, totPages: target(plan, 2) },
      ],
    });
    expect(marked.decision).toEqual({ kind: 'mark-uncooperative', domids: [1] });
    expect(() => applyPlan(marked.state, plan, 5000)).toThrow(/plan\.donors\[0\]\.domid must be not a donor marked uncooperative/);
  });

  it('a replan that finds nothing left gives up', () => {
    const { step } = start();
    const empty = host(4096, [dom0(1024)]);
    const plan = planBalloon(empty, { needPages: 10_000 * MIB_PAGES });
    expect(applyPlan(step.state, plan, 100).decision).toEqual({ kind: 'give-up', cause: 'cannot-free-enough' });
  });
});

describe('the reserve for Xen', () => {
  it('may be taken only when it is free or on its way from the watched donors', () => {
    const state = host(8192, [dom0(1024), guest(1, 2048, 512), guest(2, 2048, 512)]);
    const need = headroomPages(state.host) + 1000 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: need, policy: { dom0Ballooning: false } });
    expect(plan.reservePages).toBe(64 * MIB_PAGES);
    const step = startWaiting({ needPages: need, plan, nowMs: 0, headroomPages: headroomPages(state.host) });
    const t1 = target(plan, 1);
    const t2 = target(plan, 2);
    // The need is free and the donors are still more than the reserve away from their targets: retry.
    const onItsWay = observeProgress(step.state, {
      nowMs: 3000,
      headroomPages: need,
      donors: [
        { domid: 1, totPages: t1 + 40 * MIB_PAGES },
        { domid: 2, totPages: t2 + 40 * MIB_PAGES },
      ],
    });
    expect(onItsWay.decision).toEqual({ kind: 'retry-claim' });
    // The need is free but only 20 MiB more is coming: the reserve is not there.
    const short = observeProgress(step.state, {
      nowMs: 3000,
      headroomPages: need,
      donors: [
        { domid: 1, totPages: t1 + 10 * MIB_PAGES },
        { domid: 2, totPages: t2 + 10 * MIB_PAGES },
      ],
    });
    expect(short.decision.kind).not.toBe('retry-claim');
    // Free with the reserve: retry whatever is coming.
    const free = observeProgress(step.state, { nowMs: 3000, headroomPages: need + 64 * MIB_PAGES, donors: [] });
    expect(free.decision).toEqual({ kind: 'retry-claim' });
  });
});

describe('bad input', () => {
  it('names the bad setting or time', () => {
    expect(() => resolveWaitConfig({ stallTimeoutMs: -1 })).toThrow(/config\.stallTimeoutMs must be a finite number >= 0/);
    expect(() => resolveWaitConfig({ stallTimeoutMs: 0 })).toThrow(/config\.stallTimeoutMs must be a number > 0/);
    expect(() => resolveWaitConfig({ retries: 3 } as never)).toThrow(/config\.retries must be a known setting/);
    expect(() => resolveWaitConfig({ maxWaitMs: -1 })).toThrow(/config\.maxWaitMs must be null or a finite number >= 0/);
    expect(resolveWaitConfig({ maxWaitMs: null }).maxWaitMs).toBeNull();
    const { step } = start();
    expect(() => observeProgress(step.state, { nowMs: -5, headroomPages: 0, donors: [] })).toThrow(/nowMs must be/);
  });
});

describe('observeProgress: property checks over random donor traces (seeded)', () => {
  it('marks exactly the donors idle for stallTimeoutMs, retries iff the headroom covers the need, respects the budget', () => {
    const random = prng(7);
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 300; round++) {
      const stallTimeoutMs = randomInt(random, 500, 6000);
      const maxWaitMs = randomInt(random, 5000, 60_000);
      const count = randomInt(random, 1, 6);
      const domains = Array.from({ length: count }, (_, i) => guest(i + 1, 2048, 256));
      const state = host(4096 + 2048 * count, [dom0(1024), ...domains]);
      const base = headroomPages(state.host);
      const need = base + randomInt(random, 1, 1500 * count) * MIB_PAGES;
      const plan = planBalloon(state, { needPages: need, policy: noDom0 });
      expect(plan.feasible).toBe(true);
      // Each donor frees at a rate (pages per ms, 0 = stuck) and may stop for good at some time.
      const traces = plan.donors.map((d) => ({
        domid: d.domid,
        target: kibToPagesCeil(d.toKiB),
        rate: random() < 0.25 ? 0 : random() * 200,
        stopAt: random() < 0.4 ? randomInt(random, 0, 20_000) : Number.POSITIVE_INFINITY,
      }));
      const totAt = (t: (typeof traces)[number], ms: number) =>
        Math.max(t.target, START_TOT - Math.floor(t.rate * Math.min(ms, t.stopAt)));
      let step = startWaiting({ needPages: need, plan, nowMs: 0, headroomPages: base, config: { stallTimeoutMs, maxWaitMs } });
      const lastLow = new Map(traces.map((t) => [t.domid, { tot: START_TOT, at: 0 }]));
      const marked = new Set<number>();
      let now = 0;
      while (step.decision.kind === 'wait' || step.decision.kind === 'mark-uncooperative') {
        now += randomInt(random, 50, 1500);
        const donors = traces.map((t) => ({ domid: t.domid, totPages: totAt(t, now) }));
        const headroom = base + donors.reduce((s, d) => s + (START_TOT - d.totPages), 0);
        step = observeProgress(step.state, { nowMs: now, headroomPages: headroom, donors });
        const expectedMarks: number[] = [];
        for (const d of donors) {
          const low = lastLow.get(d.domid)!;
          if (d.totPages < low.tot) lastLow.set(d.domid, { tot: d.totPages, at: now });
          const trace = traces.find((t) => t.domid === d.domid)!;
          const idle = now - lastLow.get(d.domid)!.at;
          if (!marked.has(d.domid) && d.totPages > trace.target + 256 && idle >= stallTimeoutMs) expectedMarks.push(d.domid);
        }
        if (headroom >= need) {
          expect(step.decision).toEqual({ kind: 'retry-claim' });
        } else if (now >= maxWaitMs) {
          expect(step.decision).toEqual({ kind: 'give-up', cause: 'max-wait' });
        } else if (step.decision.kind === 'give-up' && step.decision.cause === 'too-slow') {
          // The rates' projection may give up before the limit, only when it says the need comes too late.
          expect(now + projectedAdmissionMs(step.state)!).toBeGreaterThan(maxWaitMs);
        } else if (expectedMarks.length > 0) {
          expect(step.decision).toEqual({ kind: 'mark-uncooperative', domids: expectedMarks });
        } else if (step.decision.kind === 'give-up') {
          // Bounded by lack of progress: every watched donor is where it was asked and nothing moved for the stall timeout.
          expect(step.decision.cause).toBe('cannot-free-enough');
          expect(step.state.donors.every((d) => d.reached)).toBe(true);
          expect(now - step.state.lastAnyProgressMs).toBeGreaterThanOrEqual(stallTimeoutMs);
        } else {
          expect(['wait', 'replan']).toContain(step.decision.kind);
        }
        for (const domid of expectedMarks) marked.add(domid);
        expect(uncooperativeDomids(step.state).sort()).toEqual([...marked].sort());
      }
      outcomes.set(step.decision.kind, (outcomes.get(step.decision.kind) ?? 0) + 1);
    }
    // Every outcome is exercised, or the property says little.
    expect(outcomes.get('retry-claim')).toBeGreaterThan(20);
    expect(outcomes.get('replan')).toBeGreaterThan(20);
    expect(outcomes.get('give-up')).toBeGreaterThan(5);
  });
});

describe('afterRefusedRetry', () => {
  it('within the limit: replan, the wait unchanged; from the limit on: give up; without a limit: always replan', () => {
    const { step } = start({ maxWaitMs: 10_000 });
    expect(afterRefusedRetry(step.state, 9_999)).toEqual({ state: step.state, decision: { kind: 'replan' } });
    expect(afterRefusedRetry(step.state, 10_000)).toEqual({ state: step.state, decision: { kind: 'give-up', cause: 'max-wait' } });
    expect(afterRefusedRetry(start().step.state, 1e9).decision).toEqual({ kind: 'replan' });
  });

  it('refuses a time before the last observation', () => {
    const { step } = start();
    const later = observeProgress(step.state, { nowMs: 500, headroomPages: 0, donors: [] });
    expect(() => afterRefusedRetry(later.state, 499)).toThrow(/nowMs must be a finite time >= the last observation \(500\)/);
  });
});
