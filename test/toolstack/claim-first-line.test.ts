/**
 * claim-first's line (src/toolstack/fallback-line.ts) and its look before a claim, on the mock host in virtual time:
 * the fallback plans for every request queued behind it, each request goes as soon as its own need is there, a line
 * that ends with a failure leaves no donor asked for memory nobody needs, and a host with room decides each claim
 * from physinfo alone.
 */
import { describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { XenHost } from '../../src/host/xen-host.js';
import { snapshotMaxPages } from '../../src/simulate/invariants.js';
import { admitAll, makeHost, pvNeedPages, request, violations, type TestHost } from './helpers.js';

function ballooning(events: AdmissionEvent[]): Extract<AdmissionEvent, { type: 'ballooning' }>[] {
  return events.filter((e): e is Extract<AdmissionEvent, { type: 'ballooning' }> => e.type === 'ballooning');
}

const DONORS = ['d0', 'd1', 'd2'];

/** A host whose free memory is about 1 GiB, with three 8 GiB donors (floor 2 GiB) at `balloonMiBps` each. */
function fullHost(balloonMiBps: number): TestHost {
  // 32768 − 264 (Xen) − 1024 (dom0, at its floor) − 3 × 8192 → about 6.9 GiB free; a filler takes all but ~1 GiB.
  return makeHost(32768, 1024, [
    ...DONORS.map((name) => ({ name, memoryMiB: 8192, minMiB: 2048, balloonMiBps })),
    { name: 'filler', memoryMiB: 5888 },
  ]);
}

async function totMiB(host: TestHost, name: string): Promise<number> {
  return (await host.backend.getDomain(host.domids.get(name)!)).totPages / 256;
}

describe('claim-first: the line', () => {
  it('plans for every request queued behind it: the first round asks for all of them, and each starts in turn', async () => {
    const host = fullHost(1024);
    const run = await admitAll(host, 'claim-first', [request('a', 2048), request('b', 2048), request('c', 2048)]);
    expect(run.results.map((r) => r.ok)).toEqual([true, true, true]);
    const first = ballooning(run.events)[0]!;
    expect(first.request).toBe('a');
    // The shortfall of the first round covers the three needs (less the ~1 GiB free), not a's alone.
    expect(first.shortfallKiB / 1024).toBeGreaterThan((3 * pvNeedPages(2048)) / 256 - 1100);
    // 6 GiB at 3 GiB/s: every request is admitted within about 2 s, none waits for a round of its own after another.
    for (const r of run.results) expect(r.admittedAtMs!).toBeLessThan(2600);
    expect(await violations(host)).toEqual([]);
  });

  it('once the last request of the line is claimed, what was asked for the line and is still on its way is withdrawn', async () => {
    // Two fast donors and a slow one (64 MiB/s), no reserve: the first round (for a and b) asks all three alike; the
    // replans for b, by rate, leave the slow one out; when b's claim is staked it is still far from its target.
    const host = makeHost(32768, 1024, [
      { name: 'd0', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 },
      { name: 'd1', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 },
      { name: 'slow', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 64 },
      { name: 'filler', memoryMiB: 5888 },
    ]);
    const run = await admitAll(host, 'claim-first', [request('a', 2048), request('b', 2048)], { policy: { reserveKiB: 0 } });
    expect(run.results.map((r) => r.ok)).toEqual([true, true]);
    const asked = ballooning(run.events)[0]!.donors.find((d) => d.name === 'slow')!;
    expect(asked.toKiB).toBeLessThan(8192 * 1024 - 512 * 1024); // a's round asked it for the line
    const restored = run.events.filter((e): e is Extract<AdmissionEvent, { type: 'donors-restored' }> => e.type === 'donors-restored');
    expect(restored.map((e) => [e.request, e.donors.map((d) => d.name)])).toEqual([['b', ['slow']]]);
    // It kept what it gave by then (about 2 s at 64 MiB/s) and stopped: not the ~1 GiB a's round had asked of it.
    const slow = await totMiB(host, 'slow');
    expect(slow).toBeGreaterThan(8192 - 256);
    expect((await host.backend.getDomain(host.domids.get('slow')!)).targetKiB).toBe(Math.round(slow * 1024));
    expect(await violations(host)).toEqual([]);
  });

  it('a line that ends with a failure gives back what was asked for it and is still on its way', async () => {
    const host = fullHost(256);
    const control = host.backend.control;
    host.baseline = await snapshotMaxPages(host.backend);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy: 'claim-first', floorsKiB: host.floorsKiB });
    const events: AdmissionEvent[] = [];
    xen.subscribe((e) => {
      events.push(e);
      // a's claim is staked: b (queued behind, planned for by a's rounds) can no longer look at the host, and fails.
      if (e.type === 'admitted' && e.request === 'a') control.injectFault('listDomains', 'EIO', 3);
    });
    const results = await host.clock.run(
      (async () => {
        const all = await Promise.all([xen.admit(request('a', 2048)), xen.admit(request('b', 2048))]);
        await xen.idle();
        return all;
      })(),
    );
    await control.settle();
    expect(results.map((r) => r.ok)).toEqual([true, false]);
    const restored = events.filter((e): e is Extract<AdmissionEvent, { type: 'donors-restored' }> => e.type === 'donors-restored');
    expect(restored.flatMap((e) => e.donors.map((d) => d.name)).sort()).toEqual(expect.arrayContaining(DONORS));
    // The donors stopped where they were when b failed: together they gave about a's need, not a's and b's.
    let given = 0;
    for (const name of DONORS) given += 8192 - (await totMiB(host, name));
    expect(given).toBeLessThan((pvNeedPages(2048) * 2) / 256 - 1024 - 256);
    for (const name of DONORS) {
      const info = await host.backend.getDomain(host.domids.get(name)!);
      expect(info.totPages * 4 - info.targetKiB!, name).toBeLessThanOrEqual(1024);
    }
    expect(await violations(host)).toEqual([]);
  });
});

describe('claim-first: the look before a claim', () => {
  it('on a host with room, each claim is decided from physinfo alone: the domains are never listed', async () => {
    const host = makeHost(32768, 1024, [{ name: 'web1', memoryMiB: 4096, minMiB: 1024 }]);
    host.backend.control.resetCalls();
    const run = await admitAll(host, 'claim-first', ['a', 'b', 'c', 'd'].map((n) => request(n, 2048)));
    expect(run.results.map((r) => r.ok)).toEqual([true, true, true, true]);
    expect(host.backend.control.calls.ops.listDomains).toBe(1); // the test's own snapshot of every max_pages
    expect(host.backend.control.calls.ops.physinfo).toBe(4);
    expect(await violations(host)).toEqual([]);
  });

  it('when the builds in flight could take what is left, it looks at the domains before claiming', async () => {
    // About 6.9 GiB free: the second 3 GiB guest could not be sure of its claim and the reserve from physinfo alone.
    const host = makeHost(32768, 1024, DONORS.map((name) => ({ name, memoryMiB: 8192, minMiB: 2048 })));
    host.backend.control.resetCalls();
    const run = await admitAll(host, 'claim-first', [request('a', 3072), request('b', 3072)]);
    expect(run.results.map((r) => r.ok)).toEqual([true, true]);
    expect(host.backend.control.calls.ops.listDomains).toBeGreaterThan(0);
    expect(await violations(host)).toEqual([]);
  });
});
