/** createGuests and the XenHost it opens: the entry points the CLI calls, and the event stream it displays. */
import { describe, expect, it } from 'vitest';
import { createGuests } from '../../src/host/create-guests.js';
import { XenHost } from '../../src/host/xen-host.js';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { resultJson } from '../../src/toolstack/types.js';
import { makeHost, pvNeedPages, request, violations } from '../toolstack/helpers.js';
import { snapshotMaxPages } from '../../src/simulate/invariants.js';

describe('createGuests', () => {
  it('creates guests concurrently with claim-first by default and returns outcomes in request order', async () => {
    const host = makeHost(8192, 1024, [{ name: 'web1', memoryMiB: 2048, minMiB: 512 }]);
    host.baseline = await snapshotMaxPages(host.backend);
    const events: AdmissionEvent[] = [];
    const results = await host.clock.run(
      createGuests(host.backend, [request('z', 1024), request('a', 9000), request('m', 512)], {
        clock: host.clock,
        floorsKiB: host.floorsKiB,
        onEvent: (e) => events.push(e),
      }),
    );
    await host.backend.control.settle();
    expect(results.map((r) => [r.name, r.ok])).toEqual([['z', true], ['a', false], ['m', true]]);
    expect(results[1]!.error).toMatchObject({ code: 'ENOMEM', name: 'AdmissionError' });
    const json = JSON.parse(JSON.stringify(results.map(resultJson)));
    expect(json[1].error).toMatchObject({ code: 'ENOMEM', errno: 12 });
    expect(json[1].error.message).toMatch(/Cannot admit guest "a"/);
    expect(json[1].report.neededPages).toBe(pvNeedPages(9000));
    expect(json[0]).toMatchObject({ name: 'z', ok: true, error: null, report: null });
    expect(new Set(events.map((e) => e.strategy))).toEqual(new Set(['claim-first']));
    expect(host.backend.control.calls.hypercalls.claim).toBeGreaterThan(0);
    expect(await violations(host)).toEqual([]);
  });

  it('events are plain JSON objects with type, atMs, strategy and request', async () => {
    const host = makeHost(8192, 1024, [{ name: 'web1', memoryMiB: 4096, minMiB: 512, balloonMiBps: 1024 }]);
    const events: AdmissionEvent[] = [];
    await host.clock.run(
      createGuests(host.backend, [request('a', 3072)], {
        strategy: 'claim-first',
        clock: host.clock,
        floorsKiB: host.floorsKiB,
        onEvent: (e) => events.push(e),
      }),
    );
    // The look before the claim found too little (the reserve counted): straight to the fallback, no refused claim.
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['requested', 'building', 'ballooning', 'donor-progress', 'admitted', 'running']));
    expect(events.map((e) => e.type)).not.toContain('claim-refused');
    for (const e of events) {
      expect(JSON.parse(JSON.stringify(e))).toEqual(e);
      expect(typeof e.atMs).toBe('number');
      expect(e).toHaveProperty('request');
    }
    const progress = events.filter((e): e is Extract<AdmissionEvent, { type: 'donor-progress' }> => e.type === 'donor-progress');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) expect(p.fraction).toBeGreaterThanOrEqual(0);
    expect(progress.at(-1)!.fraction).toBeGreaterThan(0.5);
    const ballooning = events.find((e): e is Extract<AdmissionEvent, { type: 'ballooning' }> => e.type === 'ballooning')!;
    expect(ballooning.donors[0]).toMatchObject({ name: 'web1', fromKiB: 4096 * 1024 });
    expect(ballooning.donors[0]!.toKiB).toBeGreaterThanOrEqual(512 * 1024);
  });

  it('a display that throws does not break an admission', async () => {
    const host = makeHost(8192, 1024, []);
    const [result] = await host.clock.run(
      createGuests(host.backend, [request('a', 1024)], { clock: host.clock, onEvent: () => { throw new Error('tty gone'); } }),
    );
    expect(result!.ok).toBe(true);
  });

  it('refuses an unknown strategy and a bad poll interval, naming them', () => {
    const host = makeHost(8192, 1024, []);
    expect(() => new XenHost({ backend: host.backend, clock: host.clock, strategy: 'fastest' as never })).toThrow(/strategy must be one of 'claim-first', 'limit-and-check', 'model'/);
    expect(() => new XenHost({ backend: host.backend, clock: host.clock, strategy: 'model', pollMs: 0 })).toThrow(/pollMs must be a finite number > 0/);
  });

  it('a duplicate name in one batch fails the second request only', async () => {
    for (const strategy of ['claim-first', 'limit-and-check', 'model'] as const) {
      const host = makeHost(8192, 1024, []);
      const results = await host.clock.run(
        createGuests(host.backend, [request('a', 1024), request('a', 1024)], { strategy, clock: host.clock }),
      );
      expect(results.map((r) => r.ok)).toEqual([true, false]);
      expect(results[1]!.error!.message).toMatch(/already in this batch/);
    }
  });
});
