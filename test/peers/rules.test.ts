/**
 * The peer models' pure decisions (src/admission/xl-freemem.ts, squeeze.ts, qmemman-balloon.ts), each against the
 * behaviour of the source it follows (docs/peers.md).
 */
import { describe, expect, it } from 'vitest';
import {
  memActualKiB, qmemmanBalloon, qmemmanFreeKiB, qmemmanStep, startQmemmanRequest, QMEMMAN_CHECK_POLLS, type QmemmanDomain,
} from '../../src/admission/qmemman-balloon.js';
import {
  maximumFreeKiB, proportionalTargets, squeezeIteration, updateStuckness, SQUEEZED_SLUSH_KIB, type SqueezeDomain,
} from '../../src/admission/squeeze.js';
import { startXlTargetWait, xlFreememStep, xlTargetWaitStep } from '../../src/admission/xl-freemem.js';

const MiB = 1024;

describe("xl's freemem (xl_vmcontrol.c, libxl_mem.c at 4.17)", () => {
  const base = { needKiB: 4096 * MiB, dom0TargetKiB: 8192 * MiB, dom0FloorKiB: 1024 * MiB, creditMs: 30_000 };
  it('is done when free covers the need; otherwise lowers dom0 by exactly the shortfall', () => {
    expect(xlFreememStep({ ...base, freeKiB: 4096 * MiB })).toEqual({ kind: 'enough' });
    expect(xlFreememStep({ ...base, freeKiB: 1024 * MiB })).toEqual({ kind: 'balloon-dom0', targetKiB: 5120 * MiB });
  });
  it('fails below the floor (libxl refuses the target), and once its 30 s credit is spent', () => {
    expect(xlFreememStep({ ...base, freeKiB: 0, dom0TargetKiB: 2048 * MiB })).toEqual({ kind: 'below-dom0-floor', targetKiB: 0 });
    expect(xlFreememStep({ ...base, freeKiB: 0, creditMs: 0 })).toEqual({ kind: 'credit-spent' });
  });
  it('waits for dom0 as long as it makes progress; no change spends 2 of its 10 s; a rise fails it', () => {
    let wait = startXlTargetWait();
    let step = xlTargetWaitStep(wait, 9000, 5000);
    expect(step.kind).toBe('wait');
    for (let kib = 8999; kib > 8990; kib--) {
      step = xlTargetWaitStep(wait, kib, 5000);
      expect(step.kind).toBe('wait'); // progress: the budget is not spent
      if (step.kind === 'wait') wait = step.state;
    }
    expect(wait.leftMs).toBe(10_000);
    for (let i = 0; i < 4; i++) {
      step = xlTargetWaitStep(wait, wait.previousKiB!, 5000);
      if (step.kind === 'wait') wait = step.state;
    }
    expect(wait.leftMs).toBe(2000);
    expect(xlTargetWaitStep(wait, wait.previousKiB!, 5000).kind).toBe('timed-out');
    expect(xlTargetWaitStep(wait, wait.previousKiB! + 4, 5000).kind).toBe('rose');
    expect(xlTargetWaitStep(wait, 5000, 5000).kind).toBe('reached');
  });
});

describe("squeezed's balancer (squeeze.ml)", () => {
  const domain = (domid: number, actualMiB: number, minMiB: number, maxMiB: number, targetMiB = actualMiB): SqueezeDomain => ({
    domid, name: `d${domid}`, canBalloon: true, dynamicMinKiB: minMiB * MiB, dynamicMaxKiB: maxMiB * MiB, targetKiB: targetMiB * MiB, actualKiB: actualMiB * MiB,
  });
  it('puts every active domain at the same position γ of its [dynamic-min, dynamic-max] range', () => {
    // Free 1 GiB, want 3 GiB free: 2 GiB must come from ranges of 4 and 2 GiB (total 6): γ = 4/6 of each range kept.
    const targets = proportionalTargets(1024 * MiB, 3072 * MiB, [domain(1, 8192, 4096, 8192), domain(2, 4096, 2048, 4096)]);
    expect(targets.get(1)! / MiB).toBeCloseTo(4096 + (2 / 3) * 4096, 0);
    expect(targets.get(2)! / MiB).toBeCloseTo(2048 + (2 / 3) * 2048, 0);
  });
  it('sets freeing targets first (two phases), and calls a domain stuck after more than 5 s without progress', () => {
    const low = domain(1, 2048, 2048, 8192); // below its position: would be asked to grow
    const high = domain(2, 8192, 2048, 8192);
    const action = squeezeIteration(0, 4096 * MiB, [low, high], new Map(), () => false);
    expect(action.kind).toBe('adjust');
    if (action.kind === 'adjust') expect(action.targets.map((t) => t.domid)).toEqual([2]);
    const asked = { ...high, targetKiB: 4096 * MiB };
    let stuck = updateStuckness(new Map(), [asked], 0);
    stuck = updateStuckness(stuck, [asked], 5000);
    expect(stuck.get(2)!.stuck).toBe(false);
    stuck = updateStuckness(stuck, [asked], 5001);
    expect(stuck.get(2)!.stuck).toBe(true);
    // Once every active domain is at its target and it is still short: failed, the stuck one blamed.
    const failed = squeezeIteration(0, 4096 * MiB, [{ ...domain(3, 2048, 2048, 2048) }, asked], stuck, () => false);
    expect(failed).toEqual({ kind: 'failed', blamed: [2] });
  });
  it("xapi's check: what squeezing everyone to dynamic-min could free, less the 72 MiB slush", () => {
    expect(maximumFreeKiB(1024 * MiB, [domain(1, 4096, 1024, 4096), { ...domain(2, 4096, 0, 4096), canBalloon: false }]))
      .toBe(1024 * MiB + 3072 * MiB - 8 - SQUEEZED_SLUSH_KIB);
  });
});

describe("qmemman's do_balloon (systemstate.py, algo.py)", () => {
  const dom = (domid: number, currentMiB: number, prefMiB: number, lastTargetMiB = currentMiB): QmemmanDomain => ({
    domid, name: `d${domid}`, currentKiB: currentMiB * MiB, lastTargetKiB: lastTargetMiB * MiB, prefKiB: prefMiB * MiB, noProgress: false,
  });
  it('counts free memory 0.78 % low, less what was assigned but is not used yet', () => {
    expect(qmemmanFreeKiB(200_000, [dom(1, 100, 100, 150)])).toBe(Math.floor(200_000 * (1 / 1.00781)) - 50 * MiB);
    expect(Math.floor(200_000 * (1 / 1.00781))).toBe(198_450);
    expect(memActualKiB(dom(1, 100, 50, 150))).toBe(150 * MiB);
  });
  it('asks each donor its excess × the missing share × 1.05, never below its floor, and nothing when they cannot cover', () => {
    const asks = qmemmanBalloon(1000 * MiB, [dom(1, 3000, 1000), dom(2, 2000, 1000)]); // excess 2000 + 1000, scale 1/3
    expect(asks.map((a) => Math.round(a.toKiB / MiB))).toEqual([Math.round(3000 - 2000 / 3 * 1.05), Math.round(2000 - 1000 / 3 * 1.05)]);
    expect(qmemmanBalloon(2900 * MiB, [dom(1, 3000, 1000), dom(2, 2000, 1000)]).map((a) => a.toKiB / MiB)).toEqual([1000, 1000]);
    expect(qmemmanBalloon(4000 * MiB, [dom(1, 3000, 1000), dom(2, 2000, 1000)])).toEqual([]);
  });
  it('drops a donor that did not move since its last target, and fails when 3 s gained less than 300 MiB', () => {
    const request = startQmemmanRequest(2000 * MiB);
    const donors = [dom(1, 3000, 1000), dom(2, 3000, 1000)];
    const first = qmemmanStep(request, 0, donors);
    expect(first.step.kind).toBe('set-targets');
    request.asked = new Map(donors.map((d) => [d.domid, memActualKiB(d)]));
    request.polls++;
    // 0.1 s later d1 moved, d2 did not.
    const second = qmemmanStep(request, 50 * MiB, [dom(1, 2950, 1000), { ...donors[1]! }]);
    expect(second.stalled).toEqual([2]);
    // Thirty polls later, free memory grew by less than 300 MiB over the last 30: FAIL.
    for (let i = request.polls; i < QMEMMAN_CHECK_POLLS + 1; i++) {
      request.asked = new Map();
      qmemmanStep(request, 60 * MiB, [dom(1, 2950, 1000)]);
      request.polls++;
    }
    expect(qmemmanStep(request, 70 * MiB, [dom(1, 2950, 1000)]).step.kind).toBe('too-slow');
    expect(qmemmanStep(startQmemmanRequest(10 * MiB), 40 * MiB, []).step.kind).toBe('ok');
  });
});
