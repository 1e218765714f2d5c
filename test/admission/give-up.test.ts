import { describe, expect, it } from 'vitest';
import { planBalloon } from '../../src/admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport, giveUpMessage } from '../../src/admission/give-up.js';
import { observeProgress, startWaiting } from '../../src/admission/progress.js';
import { headroomPages } from '../../src/admission/state.js';
import { kibToPagesCeil } from '../../src/units.js';
import { isXenError } from '../../src/errors.js';
import { dom0, guest, host, MIB_PAGES } from './helpers.js';

describe('give-up report', () => {
  it('after a stuck donor and the operator\'s wait limit: needed, found, asked, uncooperative', () => {
    const state = host(8192, [dom0(1024), { ...guest(1, 2048, 512), name: 'web1' }, { ...guest(2, 2048, 512), name: 'db' }]);
    const need = headroomPages(state.host) + 1000 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: need, policy: { dom0Ballooning: false } });
    const started = startWaiting({
      needPages: need,
      plan,
      nowMs: 1000,
      headroomPages: headroomPages(state.host),
      config: { maxWaitMs: 8000 },
    });
    const t2 = kibToPagesCeil(plan.donors[1]!.toKiB);
    const gave = 100 * MIB_PAGES;
    const mark = observeProgress(started.state, {
      nowMs: 6000,
      headroomPages: headroomPages(state.host) + gave,
      donors: [
        { domid: 1, totPages: 2048 * MIB_PAGES },
        { domid: 2, totPages: 2048 * MIB_PAGES - gave },
      ],
    });
    expect(mark.decision.kind).toBe('mark-uncooperative');
    const end = observeProgress(mark.state, {
      nowMs: 9000,
      headroomPages: headroomPages(state.host) + gave + 10,
      donors: [{ domid: 2, totPages: 2048 * MIB_PAGES - gave - 10 }],
    });
    expect(end.decision).toEqual({ kind: 'give-up', cause: 'max-wait' });

    const report = buildGiveUpReport({ request: 'new1', cause: 'max-wait', wait: end.state, nowMs: 9000, lastPlan: plan });
    expect(report).toMatchObject({
      request: 'new1',
      cause: 'max-wait',
      neededPages: need,
      reservePages: 64 * MIB_PAGES,
      foundPages: headroomPages(state.host) + gave + 10,
      freedPages: gave + 10,
      reclaimablePages: plan.reclaimablePages,
      elapsedMs: 8000,
      maxWaitMs: 8000,
      stallTimeoutMs: 5000,
    });
    expect(report.donorsAsked).toEqual([
      { domid: 1, name: 'web1', originalKiB: 2048 * 1024, askedKiB: plan.donors[0]!.toKiB, gavePages: 0 },
      { domid: 2, name: 'db', originalKiB: 2048 * 1024, askedKiB: t2 * 4, gavePages: gave + 10 },
    ]);
    expect(report.uncooperative).toEqual([
      { domid: 1, name: 'web1', totPages: 2048 * MIB_PAGES, targetPages: kibToPagesCeil(plan.donors[0]!.toKiB), markedAfterMs: 5000 },
    ]);

    const message = giveUpMessage(report);
    expect(message).toContain('Cannot admit guest "new1"');
    expect(message).toContain(`needs ${need / MIB_PAGES} MiB (${need} pages) plus the 64 MiB kept free for Xen`);
    expect(message).toContain(`only ${((headroomPages(state.host) + gave + 10) / MIB_PAGES).toFixed(1)} MiB of free memory`);
    expect(message).toContain('after 8.0 s of ballooning');
    expect(message).toContain('Asked 2 donor(s): web1 (domid 1');
    expect(message).toContain('db (domid 2');
    expect(message).toContain('Did not cooperate (no progress for 5.0 s): web1 (domid 1: stopped at 2048 MiB');
    expect(message).toContain('The wait limit of 8.0 s ran out.');
    // Not a word about donors having nothing left: they had.
    expect(message).not.toContain('nothing left');
    expect(message.split('\n')).toHaveLength(1);

    const error = new AdmissionError(report);
    expect(isXenError(error, 'ENOMEM')).toBe(true);
    expect(error.op).toBe('admit');
    expect(error.message).toBe(message);
    expect(error.report).toBe(report);
  });

  it('the impossible request: nobody asked, and the message says how much ballooning could ever free', () => {
    const state = host(4096, [dom0(1024), guest(1, 2048, 512)]);
    const need = 8192 * MIB_PAGES;
    const plan = planBalloon(state, { needPages: need });
    const step = startWaiting({ needPages: need, plan, nowMs: 0, headroomPages: headroomPages(state.host) });
    expect(step.decision).toEqual({ kind: 'give-up', cause: 'cannot-free-enough' });
    const report = buildGiveUpReport({ request: 'huge', cause: 'cannot-free-enough', wait: step.state, nowMs: 0, lastPlan: plan });
    expect(report.donorsAsked).toEqual([]);
    expect(report.uncooperative).toEqual([]);
    expect(report.elapsedMs).toBe(0);
    const message = giveUpMessage(report);
    expect(message).toContain('needs 8192 MiB');
    expect(message).toContain(`would free at most ${plan.reclaimablePages / MIB_PAGES} MiB, less than the`);
    expect(message).toContain('no guest was asked to balloon');
    expect(message).not.toContain('Did not cooperate');
  });
});

describe('give-up reports tell the truth', () => {
  const state = host(8192, [dom0(1024), { ...guest(1, 2048, 512), name: 'web1' }, { ...guest(2, 2048, 512), name: 'db' }]);
  const need = headroomPages(state.host) + 1000 * MIB_PAGES;
  const plan = planBalloon(state, { needPages: need, policy: { dom0Ballooning: false } });
  const wait = startWaiting({ needPages: need, plan, nowMs: 0, headroomPages: headroomPages(state.host) }).state;

  it('"no eligible donor has anything left" only when nothing is left', () => {
    const empty = { ...plan, feasible: false, reclaimablePages: 0 };
    const nothing = giveUpMessage(buildGiveUpReport({ request: 'r', cause: 'cannot-free-enough', wait, nowMs: 6000, lastPlan: empty }));
    expect(nothing).toContain('No eligible donor has anything left above its floor.');
    const some = { ...plan, feasible: false, reclaimablePages: 300 * MIB_PAGES };
    const left = giveUpMessage(buildGiveUpReport({ request: 'r', cause: 'cannot-free-enough', wait, nowMs: 6000, lastPlan: some }));
    expect(left).not.toContain('anything left');
    expect(left).toContain('The eligible donors have only 300 MiB left above their floors, less than the 1064 MiB still missing.');
  });

  it('too slow: says the observed rate and the limit', () => {
    const report = buildGiveUpReport({ request: 'r', cause: 'too-slow', wait: { ...wait, config: { ...wait.config, maxWaitMs: 60_000 } }, nowMs: 2000, lastPlan: plan });
    expect(giveUpMessage(report)).toContain('cannot be freed within the wait limit of 60.0 s');
  });
});
