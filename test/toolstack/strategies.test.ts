/**
 * The three admission strategies on the mock host, in virtual time: the same situations for each, and the
 * invariants checked after every run (no claim left, no max_pages left lowered, no half-built domain, memory adds up).
 */
import { describe, expect, it } from 'vitest';
import { AdmissionError } from '../../src/admission/give-up.js';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { VirtualClock } from '../../src/clock.js';
import { MockBackend } from '../../src/mock/backend.js';
import { checkHostInvariants, snapshotMaxPages } from '../../src/simulate/invariants.js';
import { createGuests } from '../../src/host/create-guests.js';
import { XenHost } from '../../src/host/xen-host.js';
import { ALL, admitAll, makeHost, pvNeedPages, request, violations, type TestHost } from './helpers.js';

async function targetKiB(host: TestHost, name: string): Promise<number> {
  const info = await host.backend.getDomain(host.domids.get(name)!);
  return info.targetKiB!;
}

async function totMiB(host: TestHost, name: string): Promise<number> {
  const info = await host.backend.getDomain(host.domids.get(name)!);
  return info.totPages / 256;
}

function ofType<T extends AdmissionEvent['type']>(events: AdmissionEvent[], type: T): Extract<AdmissionEvent, { type: T }>[] {
  return events.filter((e): e is Extract<AdmissionEvent, { type: T }> => e.type === type);
}

describe.each(ALL)('%s', (strategy) => {
  it('enough memory: every guest starts at once, nobody is ballooned', async () => {
    // 16384 MiB host: Xen keeps 136, dom0 1024, web1 4096 → 11128 MiB free for 3 × 2048.
    const host = makeHost(16384, 1024, [{ name: 'web1', memoryMiB: 4096, minMiB: 1024 }]);
    const run = await admitAll(host, strategy, [request('a', 2048), request('b', 2048), request('c', 2048)]);
    expect(run.results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(run.results.map((r) => r.admittedAtMs)).toEqual([0, 0, 0]);
    // 2048 MiB at the mock's default 1024 MiB/s.
    expect(run.results.map((r) => r.runningAtMs)).toEqual([2000, 2000, 2000]);
    expect(ofType(run.events, 'ballooning')).toEqual([]);
    expect(host.backend.control.calls.ops.setMemoryTarget).toBe(0);
    expect(await targetKiB(host, 'web1')).toBe(4096 * 1024);
    expect(await violations(host)).toEqual([]);
  });

  for (const donors of [1, 2, 10]) {
    it(`ballooning needed: ${donors} donor(s) share the load and keep their lowered targets`, async () => {
      const size = Math.floor(24000 / donors);
      const guests = Array.from({ length: donors }, (_, i) => ({ name: `d${i}`, memoryMiB: size, minMiB: Math.ceil(size / 4), balloonMiBps: 1024 }));
      // 32768 − 264 (Xen) − 1024 (dom0, at its 1 GiB floor) − ~24000 → ~7480 MiB free; the request needs 11264 + 2.
      const host = makeHost(32768, 1024, guests);
      const free = (await host.backend.physinfo()).freePages / 256;
      const run = await admitAll(host, strategy, [request('big', 11264)]);
      expect(run.results[0]!.ok).toBe(true);
      expect(ofType(run.events, 'ballooning').length).toBeGreaterThanOrEqual(1);
      let given = 0;
      for (const guest of guests) {
        const now = await totMiB(host, guest.name);
        expect(now).toBeGreaterThanOrEqual(guest.minMiB);
        expect(now).toBeLessThan(guest.memoryMiB);
        expect(await targetKiB(host, guest.name)).toBeLessThan(guest.memoryMiB * 1024);
        given += guest.memoryMiB - now;
      }
      expect(given).toBeGreaterThanOrEqual(11266 - free);
      // Spread: no donor gave more than twice the mean share.
      for (const guest of guests) expect(guest.memoryMiB - (await totMiB(host, guest.name))).toBeLessThanOrEqual((2 * given) / donors + 1);
      expect(await violations(host)).toEqual([]);
    });
  }

  it('a stuck donor costs less than the stall timeout: its share moves to the others, and it gets its ask and max_pages back', async () => {
    const host = makeHost(32768, 1024, [
      { name: 'stuck', memoryMiB: 8192, minMiB: 2048, cooperative: false },
      { name: 'ok1', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 },
      { name: 'ok2', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 },
    ]);
    // Free ≈ 32768 − 264 − 1024 − 24576 = 6904 MiB; the request needs ~3.4 GiB more than that (the reserve in it).
    const run = await admitAll(host, strategy, [request('big', 10240)]);
    const result = run.results[0]!;
    expect(result.ok).toBe(true);
    // The two working donors alone need under 2 s for it: nobody waited 5 s for the stuck one.
    expect(result.admittedAtMs!).toBeLessThan(5000);
    expect(ofType(run.events, 'donor-uncooperative')).toEqual([]);
    expect(await targetKiB(host, 'stuck')).toBe(8192 * 1024);
    expect(await totMiB(host, 'stuck')).toBe(8192);
    expect((await host.backend.getDomain(host.domids.get('stuck')!)).maxPages).toBe((8192 + 1) * 256);
    expect(await violations(host)).toEqual([]);
  });

  it('a stuck donor the others cannot do without is marked after the stall timeout; its target goes back where it stayed', async () => {
    const host = makeHost(32768, 1024, [
      { name: 'stuck', memoryMiB: 8192, minMiB: 2048, cooperative: false },
      { name: 'ok1', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 256 },
    ]);
    // Free ≈ 32768 − 264 − 1024 − 16384 = 15096 MiB; 2 GiB more from ok1 alone at 256 MiB/s takes over 8 s.
    const run = await admitAll(host, strategy, [request('big', 17152)]);
    const result = run.results[0]!;
    expect(result.ok).toBe(true);
    const stuck = ofType(run.events, 'donor-uncooperative');
    expect(stuck.map((e) => e.name)).toEqual(['stuck']);
    expect(stuck[0]!.atMs).toBeGreaterThanOrEqual(5000); // squeezed's 5 s without progress
    expect(await targetKiB(host, 'stuck')).toBe(8192 * 1024);
    expect(await totMiB(host, 'stuck')).toBe(8192);
    expect(await violations(host)).toEqual([]);
  });

  it('a donor that stalls halfway keeps what it gave; the rest of its ask is given back, so no phantom is left', async () => {
    const host = makeHost(32768, 1024, [
      { name: 'stalls', memoryMiB: 8192, minMiB: 2048, stallAfterMiB: 256, balloonMiBps: 1024 },
      { name: 'ok1', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 },
      { name: 'ok2', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 },
    ]);
    const run = await admitAll(host, strategy, [request('big', 10240)]);
    expect(run.results[0]!.ok).toBe(true);
    expect(await totMiB(host, 'stalls')).toBe(8192 - 256);
    // It keeps what it gave (the guest started) and its target is where it stopped.
    expect(await targetKiB(host, 'stalls')).toBe((8192 - 256) * 1024);
    expect(await violations(host)).toEqual([]);
  });

  it('requests arriving while another is ballooning: both start, nobody goes below a floor', async () => {
    const host = makeHost(32768, 1024, [
      { name: 'd1', memoryMiB: 12288, minMiB: 2048, balloonMiBps: 512 },
      { name: 'd2', memoryMiB: 12288, minMiB: 2048, balloonMiBps: 512 },
    ]);
    // Free ≈ 32768 − 264 − 1024 − 24576 = 6904 MiB. a needs 8192 (balloons); b arrives 1 s later and needs 4096 more.
    const events: AdmissionEvent[] = [];
    host.baseline = await snapshotMaxPages(host.backend);
    const s = new XenHost({ backend: host.backend, clock: host.clock, strategy, floorsKiB: host.floorsKiB });
    s.subscribe((e) => events.push(e));
    const results = await host.clock.run(
      (async () => {
        const a = s.admit(request('a', 8192));
        await host.clock.sleep(1000);
        const b = s.admit(request('b', 4096));
        const all = await Promise.all([a, b]);
        await s.idle();
        return all;
      })(),
    );
    await host.backend.control.settle();
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    const rounds = ofType(events, 'ballooning');
    expect(rounds.length).toBeGreaterThanOrEqual(1);
    if (strategy === 'claim-first') {
      // One brain: b's ballooning (if any) is planned only once a's claim is staked.
      const aClaimed = events.find((e) => e.type === 'admitted' && e.request === 'a')!;
      for (const round of rounds.filter((r) => r.request === 'b')) expect(round.atMs).toBeGreaterThanOrEqual(aClaimed.atMs);
      expect(results[1]!.admittedAtMs!).toBeGreaterThanOrEqual(results[0]!.admittedAtMs!);
    }
    for (const name of ['d1', 'd2']) expect(await totMiB(host, name)).toBeGreaterThanOrEqual(2048);
    expect(await violations(host)).toEqual([]);
  });

  it('50 concurrent requests: all start, with ballooning, and the invariants hold', async () => {
    const guests = [1, 2, 3, 4].map((i) => ({ name: `d${i}`, memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 }));
    const host = makeHost(65536, 1024, guests);
    // Free ≈ 65536 − 520 − 1024 − 32768 = 31224 MiB for 50 × 770 = 38500 MiB.
    const requests = Array.from({ length: 50 }, (_, i) => request(`g${String(i).padStart(2, '0')}`, 768));
    const run = await admitAll(host, strategy, requests);
    expect(run.results.filter((r) => r.ok).length).toBe(50);
    expect(ofType(run.events, 'ballooning').length).toBeGreaterThanOrEqual(1);
    const physinfo = await host.backend.physinfo();
    expect(physinfo.outstandingPages).toBe(0);
    if (strategy === 'claim-first') {
      expect(host.backend.control.accounting().peakOutstandingPages).toBeLessThanOrEqual(31224 * 256);
    }
    for (const guest of guests) expect(await totMiB(host, guest.name)).toBeGreaterThanOrEqual(2048);
    expect(await violations(host)).toEqual([]);
  });

  it('the impossible request fails fast, without ballooning anyone, while the others start', async () => {
    const host = makeHost(16384, 2048, [{ name: 'web1', memoryMiB: 4096, minMiB: 1024 }]);
    const run = await admitAll(host, strategy, [request('huge', 32768), request('small', 1024)]);
    const [huge, small] = run.results;
    expect(small!.ok).toBe(true);
    expect(huge!.ok).toBe(false);
    expect(huge!.failedAtMs).toBe(0);
    expect(huge!.error).toBeInstanceOf(AdmissionError);
    expect((huge!.error as AdmissionError).code).toBe('ENOMEM');
    expect(huge!.report!.donorsAsked).toEqual([]);
    expect(huge!.report!.neededPages).toBe(pvNeedPages(32768));
    expect(huge!.error!.message).toMatch(new RegExp(`needs ${pvNeedPages(32768) / 256} MiB`));
    expect(ofType(run.events, 'ballooning')).toEqual([]);
    expect(host.backend.control.calls.ops.setMemoryTarget).toBe(0);
    expect(await violations(host)).toEqual([]);
  });

  it('gives up when every donor is stuck, says who, and restores their targets', async () => {
    const host = makeHost(32768, 1024, [
      { name: 's1', memoryMiB: 8192, minMiB: 2048, cooperative: false },
      { name: 's2', memoryMiB: 8192, minMiB: 2048, cooperative: false },
    ]);
    const run = await admitAll(host, strategy, [request('big', 18432)]);
    const result = run.results[0]!;
    expect(result.ok).toBe(false);
    expect(result.error).toBeInstanceOf(AdmissionError);
    const report = result.report!;
    expect(report.uncooperative.map((u) => u.name).sort()).toEqual(['s1', 's2']);
    expect(report.donorsAsked.map((d) => d.name).sort()).toEqual(['s1', 's2']);
    expect(report.neededPages).toBe(pvNeedPages(18432));
    expect(result.error!.message).toMatch(/Did not cooperate/);
    expect(result.failedAtMs!).toBeGreaterThanOrEqual(5000);
    expect(await targetKiB(host, 's1')).toBe(8192 * 1024);
    expect(await targetKiB(host, 's2')).toBe(8192 * 1024);
    expect(await violations(host)).toEqual([]);
  });

  it('with an operator\'s wait limit, gives up as soon as the rates say it cannot make it; the slow donor gets its memory back', async () => {
    const host = makeHost(32768, 1024, [{ name: 'slow', memoryMiB: 16384, minMiB: 2048, balloonMiBps: 16 }]);
    // Free ≈ 15096 MiB; 4 GiB more must come from a donor that gives 16 MiB/s: 3 s are not enough.
    const run = await admitAll(host, strategy, [request('big', 19456)], { wait: { maxWaitMs: 3000 } });
    const result = run.results[0]!;
    expect(result.ok).toBe(false);
    expect(result.report!.cause).toBe('too-slow');
    expect(result.report!.freedPages).toBeGreaterThan(0);
    expect(result.error!.message).toMatch(/cannot be freed within the wait limit of 3\.0 s/);
    expect(result.failedAtMs!).toBeLessThan(3000);
    expect(ofType(run.events, 'donors-restored').length).toBe(1);
    expect(await targetKiB(host, 'slow')).toBe(16384 * 1024);
    expect(await totMiB(host, 'slow')).toBe(16384);
    expect(await violations(host)).toEqual([]);
  });

  it('without a limit, a slow donor that keeps moving is waited for until the guest can start', async () => {
    const host = makeHost(32768, 1024, [{ name: 'slow', memoryMiB: 16384, minMiB: 2048, balloonMiBps: 64 }]);
    const run = await admitAll(host, strategy, [request('big', 19456)]);
    const result = run.results[0]!;
    expect(result.ok).toBe(true);
    // ~4.4 GiB at 64 MiB/s: more than the 60 s xenclaim used to give up after.
    expect(result.admittedAtMs!).toBeGreaterThan(60_000);
    expect(await violations(host)).toEqual([]);
  });
});

describe.each(ALL)('%s: a transient error fails at most the request that cannot go on', (strategy) => {
  async function burst(fault: 'physinfo' | 'listDomains', count: number): Promise<{ failed: string[]; host: TestHost }> {
    const guests = [1, 2, 3, 4].map((i) => ({ name: `d${i}`, memoryMiB: 8192, minMiB: 2048, balloonMiBps: 1024 }));
    const host = makeHost(65536, 1024, guests);
    host.baseline = await snapshotMaxPages(host.backend);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy, floorsKiB: host.floorsKiB });
    const requests = Array.from({ length: 50 }, (_, i) => request(`g${String(i).padStart(2, '0')}`, 768));
    const results = await host.clock.run(
      Promise.all([
        ...requests.map((r) => xen.admit(r)),
        // In the middle of the batch, while the fallback balloons.
        host.clock.sleep(1500).then(() => {
          host.backend.control.injectFault(fault, 'EIO', count);
          return null;
        }),
      ]).then(async (all) => {
        await xen.idle();
        return all.filter((r) => r !== null);
      }),
    );
    await host.backend.control.settle();
    return { failed: results.filter((r) => !r!.ok).map((r) => r!.name), host };
  }

  it.each(['physinfo', 'listDomains'] as const)('one EIO from %s: every one of 50 requests still starts (it looks again)', async (fault) => {
    const { failed, host } = await burst(fault, 1);
    expect(failed).toEqual([]);
    expect(await violations(host)).toEqual([]);
  });

  it('an error that outlasts the retries fails one request, not the batch', async () => {
    const { failed, host } = await burst('listDomains', 3);
    expect(failed.length).toBeLessThanOrEqual(1);
    expect(await violations(host)).toEqual([]);
  });
});

describe.each(ALL)('%s: what the strategy assumes, it enforces', (strategy) => {
  it('a running guest that asks to grow while a build populates never takes the build\'s memory', async () => {
    // 16384 MiB: Xen 136, dom0 1024, app 2048 (may grow to 8192) → 13176 MiB free; new needs 12290 at 1024 MiB/s.
    const host = makeHost(16384, 1024, [{ name: 'app', memoryMiB: 2048, maxMiB: 8192, balloonMiBps: 2048 }]);
    host.baseline = await snapshotMaxPages(host.backend);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy, floorsKiB: host.floorsKiB });
    const app = host.domids.get('app')!;
    const [result] = await host.clock.run(
      Promise.all([
        xen.admit(request('new', 12288)),
        // The guest asks for 6 GiB more one second into the 12 s build: only ~800 MiB are not the build's.
        host.clock.sleep(1000).then(() => host.backend.control.requestGrowth(app, 8192 * 1024)),
      ]).then(async (all) => {
        await xen.idle();
        return all;
      }),
    );
    expect(result!.ok, result!.error?.message).toBe(true);
    await host.backend.control.settle();
    expect(await violations(host)).toEqual([]);
  });
});

describe('limit-and-check specifics', () => {
  it('limits every running guest to its size while building and removes the limits at the end', async () => {
    const host = makeHost(16384, 1024, [{ name: 'web1', memoryMiB: 4096, maxMiB: 8192, minMiB: 1024 }]);
    const run = await admitAll(host, 'limit-and-check', [request('a', 2048)]);
    const set = ofType(run.events, 'limits-set');
    const removed = ofType(run.events, 'limits-removed');
    expect(set.length).toBe(1);
    expect(set[0]!.limits.find((l) => l.name === 'web1')).toMatchObject({ fromKiB: (8192 + 1) * 1024, toKiB: 4096 * 1024 });
    expect(removed.length).toBe(1);
    expect(removed[0]!.atMs).toBeGreaterThanOrEqual(run.results[0]!.runningAtMs!);
    const web1 = await host.backend.getDomain(host.domids.get('web1')!);
    expect(web1.maxPages).toBe((8192 + 1) * 256);
    expect(await violations(host)).toEqual([]);
  });
});

describe('limit-and-check on a pre-4.13 host with tmem', () => {
  it('freezes and caps tmem for the batch, then lifts the cap and thaws it', async () => {
    const clock = new VirtualClock();
    const backend = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024, tmem: true }, clock });
    expect(backend.control.tmemPut(256 * 256)).toBe(256 * 256);
    const before = await snapshotMaxPages(backend);
    const results = await clock.run(createGuests(backend, [request('a', 1024)], { strategy: 'limit-and-check', clock }));
    await backend.control.settle();
    expect(results[0]!.ok).toBe(true);
    const ops = backend.control.calls.ops;
    expect([ops.tmemFreeze, ops.tmemSetCap, ops.tmemThaw]).toEqual([1, 2, 1]);
    expect(backend.control.tmemPut(256)).toBe(256); // thawed and uncapped again
    expect(await checkHostInvariants(backend, before)).toEqual([]);
  });

  it('never calls tmem on a host without it (every Xen >= 4.13)', async () => {
    const host = makeHost(8192, 1024, []);
    await admitAll(host, 'limit-and-check', [request('a', 1024)]);
    const ops = host.backend.control.calls.ops;
    expect(ops.tmemFreeze + ops.tmemSetCap + ops.tmemThaw + ops.tmemFreeablePages).toBe(0);
  });
});

describe('claim-first specifics', () => {
  it('claims in the builder: the claim is visible while building and gone after', async () => {
    const host = makeHost(16384, 1024, []);
    const run = await admitAll(host, 'claim-first', [request('a', 4096)]);
    expect(run.results[0]!.ok).toBe(true);
    expect(host.backend.control.accounting().peakOutstandingPages).toBe(4096 * 256);
    expect(host.backend.control.calls.hypercalls.claim).toBe(2); // stake, then cancel on return
    expect(await violations(host)).toEqual([]);
  });

  it('refuses a request whose config names another guest, before any build', async () => {
    const host = makeHost(16384, 1024, []);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy: 'claim-first' });
    await expect(host.clock.run(xen.createGuests([{ name: 'a', config: request('b', 1024).config }]))).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/requests\[0\]\.config\.c_info\.name must be "a" \(the request's name\), got "b"/),
    });
    await expect(xen.admit({ name: 'a', config: request('b', 1024).config })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(host.backend.control.calls.ops.createGuest).toBe(0);
    expect(host.backend.control.calls.ops.needMemoryKiB).toBe(0);
  });
});
