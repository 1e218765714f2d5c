/** planRecovery: (journal's open entries, Xen's domains now) → repairs. Pure; each rule at its edges. */
import { describe, expect, it } from 'vitest';
import { planRecovery, TMEM_NO_CAP, type JournalEntry, type RecordedIntent } from '../../src/recovery/plan.js';
import { domainInfo } from '../helpers/domain-info.js';

let seq = 0;
function entry(intent: RecordedIntent, outcome: JournalEntry['outcome'] = 'ok', expect?: { from: number; to: number }): JournalEntry {
  return { seq: ++seq, intent, outcome, ...(expect ? { expectTargetKiB: expect } : {}) };
}

const dom0 = domainInfo(0, { name: 'Domain-0', totPages: 256 * 768, maxPages: 256 * 1024, targetKiB: 768 * 1024 });
const web = domainInfo(1, { name: 'web', totPages: 256 * 512, maxPages: 256 * 1025, targetKiB: 512 * 1024 });

describe('planRecovery', () => {
  it('nothing open: nothing to repair', () => {
    expect(planRecovery({ entries: [], domains: [dom0, web] })).toEqual([]);
  });

  it('a build cut off: its half-built guest is destroyed and its donors get back exactly what was asked', () => {
    const half = domainInfo(7, { name: 'g', totPages: 1000, outstandingPages: 5000, paused: true });
    const repairs = planRecovery({
      entries: [
        entry({ kind: 'lower-target', domid: 0, name: 'Domain-0', request: 'g', fromKiB: 1024 * 1024, toKiB: 768 * 1024 }),
        entry({ kind: 'lower-target', domid: 1, name: 'web', request: 'g', fromKiB: 1024 * 1024, toKiB: 512 * 1024 }),
        entry({ kind: 'build-guest', name: 'g', claim: true, paused: false } as RecordedIntent, 'pending'),
      ],
      domains: [dom0, web, half],
    });
    expect(repairs.map((r) => [r.kind, 'domid' in r ? r.domid : null, 'byKiB' in r ? r.byKiB : null])).toEqual([
      ['destroy-guest', 7, null],
      ['raise-target', 0, 256 * 1024],
      ['raise-target', 1, 512 * 1024],
    ]);
  });

  it('a build that finished but whose outcome was not written (the guest runs, unpaused) started: nothing undone', () => {
    const running = domainInfo(7, { name: 'g', totPages: 256 * 512, paused: false });
    expect(planRecovery({
      entries: [
        entry({ kind: 'lower-target', domid: 1, name: 'web', request: 'g', fromKiB: 1024 * 1024, toKiB: 512 * 1024 }),
        entry({ kind: 'build-guest', name: 'g', claim: true, paused: false } as RecordedIntent, 'pending'),
      ],
      domains: [dom0, web, running],
    })).toEqual([]);
  });

  it('an unseen lowering counts only if the donor is at its new target; an unseen raise only if at the expected one', () => {
    const lowered = [entry({ kind: 'lower-target', domid: 1, name: 'web', request: 'g', fromKiB: 1024 * 1024, toKiB: 512 * 1024 }, 'pending')];
    expect(planRecovery({ entries: lowered, domains: [dom0, web] })).toMatchObject([{ kind: 'raise-target', domid: 1, byKiB: 512 * 1024 }]);
    const notYet = domainInfo(1, { ...web, targetKiB: 1024 * 1024 });
    expect(planRecovery({ entries: lowered, domains: [dom0, notYet] })).toEqual([]);
    const raised = [
      entry({ kind: 'lower-target', domid: 1, name: 'web', request: 'g', fromKiB: 1024 * 1024, toKiB: 512 * 1024 }),
      entry({ kind: 'raise-target', domid: 1, name: 'web', request: 'g', byKiB: 512 * 1024 }, 'pending', { from: 512 * 1024, to: 1024 * 1024 }),
    ];
    expect(planRecovery({ entries: raised, domains: [dom0, notYet] })).toEqual([]);
    expect(planRecovery({ entries: raised, domains: [dom0, web] })).toMatchObject([{ kind: 'raise-target', byKiB: 512 * 1024 }]);
  });

  it('a failed build: libxl cleaned up; the donors still get their memory back; a failed lowering counts for nothing', () => {
    expect(planRecovery({
      entries: [
        entry({ kind: 'lower-target', domid: 0, name: 'Domain-0', request: 'g', fromKiB: 1024 * 1024, toKiB: 768 * 1024 }),
        entry({ kind: 'lower-target', domid: 1, name: 'web', request: 'g', fromKiB: 1024 * 1024, toKiB: 512 * 1024 }, 'failed'),
        entry({ kind: 'build-guest', name: 'g', claim: true, paused: false } as RecordedIntent, 'failed'),
      ],
      domains: [dom0, web],
    })).toMatchObject([{ kind: 'raise-target', domid: 0, byKiB: 256 * 1024 }]);
  });

  it('a claim on a guest the daemon was building is cancelled; another toolstack\'s claim is left alone', () => {
    const ours = domainInfo(7, { name: 'g', outstandingPages: 100, paused: false, totPages: 10 });
    const theirs = domainInfo(8, { name: 'xl-guest', outstandingPages: 100, paused: true });
    expect(planRecovery({
      entries: [entry({ kind: 'build-guest', name: 'g', claim: true, paused: false } as RecordedIntent, 'ok')],
      domains: [dom0, ours, theirs],
    })).toEqual([{ kind: 'cancel-claim', domid: 7, name: 'g', why: expect.stringMatching(/100 pages/) }]);
  });

  it('limits never lifted are lifted back to what each guest had; an unseen limit that did not happen is left', () => {
    const limited = domainInfo(1, { ...web, maxPages: 256 * 512 });
    const limit = entry({ kind: 'limit-max-pages', domid: 1, name: 'web', fromKiB: 1025 * 1024, toKiB: 512 * 1024 });
    expect(planRecovery({ entries: [limit], domains: [dom0, limited] })).toMatchObject([
      { kind: 'restore-max-pages', domid: 1, fromKiB: 512 * 1024, toKiB: 1025 * 1024 },
    ]);
    const unseen = { ...limit, outcome: 'pending' as const };
    expect(planRecovery({ entries: [unseen], domains: [dom0, web] })).toEqual([]);
    const lifted = entry({ kind: 'restore-max-pages', domid: 1, name: 'web', fromKiB: 512 * 1024, toKiB: 1025 * 1024 }, 'pending');
    expect(planRecovery({ entries: [limit, lifted], domains: [dom0, web] })).toEqual([]);
  });

  it('a donor clamped to its lowered target for a request that never started: max_pages back to the original, then its target', () => {
    // web: 1025 MiB max_pages originally; r1 and r2 clamped it, r2's partial lift left r1's 700 MiB in place.
    const clamped = domainInfo(1, { ...web, maxPages: 256 * 700, targetKiB: 600 * 1024 });
    const limit = (holder: string, fromMiB: number, toMiB: number): RecordedIntent => ({
      kind: 'limit-max-pages', domid: 1, name: 'web', fromKiB: fromMiB * 1024, toKiB: toMiB * 1024, originalKiB: 1025 * 1024, reason: 'donor', holder,
    });
    const repairs = planRecovery({
      entries: [
        entry({ kind: 'lower-target', domid: 1, name: 'web', request: 'r1', fromKiB: 1024 * 1024, toKiB: 600 * 1024 }),
        entry(limit('r1', 1025, 700)),
        entry(limit('r2', 700, 600)),
        entry({ kind: 'restore-max-pages', domid: 1, name: 'web', fromKiB: 600 * 1024, toKiB: 700 * 1024, originalKiB: 1025 * 1024, reason: 'donor', holder: 'r2' }),
      ],
      domains: [dom0, clamped],
    });
    expect(repairs).toMatchObject([
      { kind: 'restore-max-pages', domid: 1, fromKiB: 700 * 1024, toKiB: 1025 * 1024, reason: 'donor' },
      { kind: 'raise-target', domid: 1, request: 'r1', byKiB: 424 * 1024 },
    ]);
  });

  it('the original is the last one recorded (an operator\'s mem-max moved it); a max_pages already above it is left', () => {
    const limited = domainInfo(1, { ...web, maxPages: 256 * 512 });
    const first = entry({ kind: 'limit-max-pages', domid: 1, name: 'web', fromKiB: 1025 * 1024, toKiB: 600 * 1024, originalKiB: 1025 * 1024, reason: 'donor', holder: 'r1' });
    const again = entry({ kind: 'limit-max-pages', domid: 1, name: 'web', fromKiB: 2049 * 1024, toKiB: 512 * 1024, originalKiB: 2049 * 1024, reason: 'donor', holder: 'r1' });
    expect(planRecovery({ entries: [first, again], domains: [dom0, limited] })).toMatchObject([{ kind: 'restore-max-pages', toKiB: 2049 * 1024 }]);
    const raised = domainInfo(1, { ...web, maxPages: 256 * 4096 });
    expect(planRecovery({ entries: [first, again], domains: [dom0, raised] })).toEqual([]);
  });

  it('a batch\'s lowerings (request null) are given back; tmem frozen or capped is thawed and uncapped', () => {
    const repairs = planRecovery({
      entries: [
        entry({ kind: 'freeze-tmem' }),
        entry({ kind: 'cap-tmem', pages: 100 }),
        entry({ kind: 'lower-target', domid: 1, name: 'web', request: null, fromKiB: 1024 * 1024, toKiB: 512 * 1024 }),
      ],
      domains: [dom0, web],
    });
    expect(repairs).toMatchObject([
      { kind: 'raise-target', domid: 1, request: null, byKiB: 512 * 1024 },
      { kind: 'cap-tmem', pages: TMEM_NO_CAP },
      { kind: 'thaw-tmem' },
    ]);
  });

  it('an operator\'s destroy cut off is finished; a donor that is gone needs nothing', () => {
    const victim = domainInfo(9, { name: 'old' });
    expect(planRecovery({
      entries: [
        entry({ kind: 'destroy-guest', domid: 9, name: 'old', reason: 'operator' } as RecordedIntent, 'pending'),
        entry({ kind: 'lower-target', domid: 5, name: 'gone', request: 'g', fromKiB: 2048, toKiB: 1024 }),
      ],
      domains: [dom0, victim],
    })).toMatchObject([{ kind: 'destroy-guest', domid: 9 }]);
  });

  describe("claim-first's line (keep-for-line)", () => {
    const web2 = domainInfo(2, { name: 'web2', totPages: 256 * 512, maxPages: 256 * 1025, targetKiB: 512 * 1024 });
    const pool = (keeper: string, keepKiB: number): JournalEntry[] => [
      // The line's plan asked web for 300 MiB and web2 for 100 MiB; 'b' claimed on it (needing 200 MiB).
      entry({ kind: 'lower-target', domid: 1, name: 'web', request: null, line: true, fromKiB: 812 * 1024, toKiB: 512 * 1024 }),
      entry({ kind: 'lower-target', domid: 2, name: 'web2', request: null, line: true, fromKiB: 612 * 1024, toKiB: 512 * 1024 }),
      entry({ kind: 'keep-for-line', request: null, line: true, keeper, keepKiB }),
    ];
    const raises = (repairs: ReturnType<typeof planRecovery>): unknown[] => repairs.map((r) => [r.kind, 'domid' in r ? r.domid : null, 'byKiB' in r ? r.byKiB : null]);

    it('the guest that claimed on the line runs: what was asked beyond its need goes back, in proportion to what each donor gave', () => {
      const b = domainInfo(9, { name: 'b', totPages: 256 * 200, paused: false });
      expect(raises(planRecovery({ entries: pool('b', 200 * 1024), domains: [dom0, web, web2, b] }))).toEqual([
        ['raise-target', 1, 150 * 1024],
        ['raise-target', 2, 50 * 1024],
      ]);
    });

    it('its guest does not run (its build failed after the claim): everything the line asked goes back', () => {
      expect(raises(planRecovery({ entries: pool('b', 200 * 1024), domains: [dom0, web, web2] }))).toEqual([
        ['raise-target', 1, 300 * 1024],
        ['raise-target', 2, 100 * 1024],
      ]);
    });

    it('the started guests kept all of it: nothing to give back', () => {
      const b = domainInfo(9, { name: 'b', totPages: 256 * 400, paused: false });
      expect(planRecovery({ entries: pool('b', 400 * 1024), domains: [dom0, web, web2, b] })).toEqual([]);
    });

    it('a share is rounded up to whole pages and never exceeds what the donor gave', () => {
      const b = domainInfo(9, { name: 'b', totPages: 256 * 200, paused: false });
      const repairs = planRecovery({ entries: pool('b', 200 * 1024 + 3), domains: [dom0, web, web2, b] });
      for (const r of repairs) if ('byKiB' in r) expect(r.byKiB % 4).toBe(0);
      expect(raises(repairs)).toEqual([['raise-target', 1, 150 * 1024], ['raise-target', 2, 50 * 1024]]);
    });
  });
});
