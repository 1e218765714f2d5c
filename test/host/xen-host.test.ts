/**
 * XenHost, the one long-lived object per Xen host: its event stream, its floors set at runtime, what it remembers
 * across admissions (uncooperative donors, guests it built), its one lock shared by every caller, and the operator's
 * changes passing its mutation port.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock, SystemClock } from '../../src/clock.js';
import { isXenError } from '../../src/errors.js';
import { XenHost } from '../../src/host/xen-host.js';
import { MockBackend } from '../../src/mock/backend.js';
import { snapshotMaxPages } from '../../src/simulate/invariants.js';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import type { MutationIntent } from '../../src/toolstack/mutations.js';
import { ALL, makeHost, request, violations, type TestHost } from '../toolstack/helpers.js';

function ofType<T extends AdmissionEvent['type']>(events: AdmissionEvent[], type: T): Extract<AdmissionEvent, { type: T }>[] {
  return events.filter((e): e is Extract<AdmissionEvent, { type: T }> => e.type === type);
}

async function totMiB(host: TestHost, name: string): Promise<number> {
  const domains = await host.backend.listDomains();
  return domains.find((d) => d.name === name)!.totPages / 256;
}

describe('XenHost', () => {
  it('publishes every event to every listener; an unsubscribed or throwing listener does not stop the others', async () => {
    const host = makeHost(8192, 1024, []);
    const xen = new XenHost({ backend: host.backend, clock: host.clock });
    const first: AdmissionEvent[] = [];
    const second: AdmissionEvent[] = [];
    const gone: AdmissionEvent[] = [];
    xen.subscribe(() => {
      throw new Error('tty gone');
    });
    xen.subscribe((e) => first.push(e));
    const stop = xen.subscribe((e) => gone.push(e));
    xen.subscribe((e) => second.push(e));
    stop();
    stop();
    const [result] = await xen.run(xen.createGuests([request('a', 1024)]));
    expect(result!.ok).toBe(true);
    expect(first.map((e) => e.type)).toEqual(['requested', 'building', 'running']);
    expect(second).toEqual(first);
    expect(gone).toEqual([]);
    expect(first.every((e) => e.strategy === 'claim-first')).toBe(true);
  });

  it('takes its clock from the backend (the mock host\'s virtual time), else the system clock', () => {
    const clock = new VirtualClock();
    const backend = new MockBackend({ clock });
    expect(new XenHost({ backend }).clock).toBe(clock);
    const native = Object.create(backend, { clock: { value: undefined } }) as MockBackend;
    expect(new XenHost({ backend: native }).clock).toBeInstanceOf(SystemClock);
  });

  it('refuses a bad floor, naming it (EINVAL)', () => {
    const host = makeHost(8192, 1024, []);
    const xen = new XenHost({ backend: host.backend, clock: host.clock });
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1g' as never]) {
      try {
        xen.setFloor('web', bad);
        expect.unreachable();
      } catch (error) {
        expect(isXenError(error, 'EINVAL')).toBe(true);
        expect((error as Error).message).toMatch(/floor of web must be a finite number of KiB >= 0/);
      }
    }
    expect(() => xen.setFloor('', 1)).toThrow(/setFloor: name must be a name of 1 to 64 characters/);
    expect(() => new XenHost({ backend: host.backend, floorsKiB: new Map([['web', -5]]) })).toThrow(/floorsKiB\.web must be a finite number of KiB >= 0, got -5/);
    expect(() => new XenHost({ backend: host.backend, floorsKiB: { web: Number.NaN } })).toThrow(/floorsKiB\.web must be .* got NaN/);
    expect(() => new XenHost({ backend: host.backend, withoutBalloonDriver: 'web' as never })).toThrow(/withoutBalloonDriver must be an array of guest names/);
    expect(() => new XenHost({ backend: host.backend, withoutBalloonDriver: ['ok', ''] })).toThrow(/withoutBalloonDriver\[1\] must be a name/);
  });

  it.each(ALL)('%s: floors set at runtime decide who may be ballooned, from the next admission on', async (strategy) => {
    // 8192 MiB: Xen 72, dom0 1024 (not a donor here), web 4096 → ~3000 MiB free; b needs 4096.
    const host = makeHost(8192, 1024, [{ name: 'web', memoryMiB: 4096, balloonMiBps: 1024 }]);
    host.baseline = await snapshotMaxPages(host.backend);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy, policy: { dom0Ballooning: false } });
    const [refused] = await host.clock.run(xen.createGuests([request('b', 4096)]));
    expect(refused!.ok).toBe(false);
    expect(refused!.report!.donorsAsked).toEqual([]);
    xen.setFloor('web', 1024 * 1024);
    expect(xen.floorsKiB()).toEqual(new Map([['web', 1024 * 1024]]));
    const [admitted] = await host.clock.run(xen.createGuests([request('b', 4096)]));
    expect(admitted!.ok).toBe(true);
    expect(await totMiB(host, 'web')).toBeLessThan(4096);
    xen.setFloor('web', null);
    expect(xen.floorsKiB().size).toBe(0);
    await host.backend.control.settle();
    expect(await violations(host)).toEqual([]);
  });

  it.each(ALL)('%s: a donor found uncooperative is remembered: the next admission does not wait for it again', async (strategy) => {
    const host = makeHost(32768, 1024, [
      { name: 'stuck', memoryMiB: 8192, minMiB: 2048, cooperative: false },
      { name: 'ok', memoryMiB: 12288, minMiB: 2048, balloonMiBps: 256 },
    ]);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy, floorsKiB: host.floorsKiB });
    const events: AdmissionEvent[] = [];
    xen.subscribe((e) => events.push(e));
    // Free ≈ 32768 − 264 − 1024 − 20480 = 11000 MiB; 'ok' alone needs over 9 s for the rest: 'stuck' is judged.
    const [first] = await host.clock.run(xen.createGuests([request('one', 13312)]));
    expect(first!.ok).toBe(true);
    expect(ofType(events, 'donor-uncooperative').map((e) => e.name)).toEqual(['stuck']);
    const stuckDomid = host.domids.get('stuck')!;
    expect(xen.uncooperativeDonors()).toEqual([stuckDomid]);
    const before = events.length;
    const startedAt = host.clock.now();
    const [second] = await host.clock.run(xen.createGuests([request('two', 512)]));
    expect(second!.ok).toBe(true);
    const later = events.slice(before);
    expect(ofType(later, 'ballooning').length).toBeGreaterThan(0);
    for (const round of ofType(later, 'ballooning')) expect(round.donors.map((d) => d.name)).not.toContain('stuck');
    expect(ofType(later, 'donor-uncooperative')).toEqual([]);
    // No second stall timeout spent on it.
    expect(second!.runningAtMs! - startedAt).toBeLessThan(5000);
  });

  it('a guest the host built stays out of ballooning while its batch runs, then is an ordinary donor per its floor', async () => {
    const host = makeHost(8192, 1024, []);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, policy: { dom0Ballooning: false } });
    xen.setFloor('first', 512 * 1024);
    // ~7100 MiB free: first (4096) fits, second (4096) would need first to give — but first is still in its batch.
    const building: string[][] = [];
    xen.subscribe((e) => {
      if (e.type === 'running') building.push(xen.guestsBuilding());
    });
    const batch = await host.clock.run(xen.createGuests([request('first', 4096), request('second', 4096)]));
    expect(batch.map((r) => r.ok)).toEqual([true, false]);
    expect(batch[1]!.report!.donorsAsked).toEqual([]);
    expect(building[0]).toContain('first');
    expect(xen.guestsBuilding()).toEqual([]);
    // Its batch settled: now it is a donor like any guest with a floor.
    const [later] = await host.clock.run(xen.createGuests([request('second', 4096)]));
    expect(later!.ok).toBe(true);
    expect(await totMiB(host, 'first')).toBeLessThan(4096);
    expect(await totMiB(host, 'first')).toBeGreaterThanOrEqual(512);
  });

  it.each([
    [undefined, false],
    [5000, true],
  ] as const)('donorGraceMs %s: under a constant stream a guest built earlier becomes a donor after its grace (%s)', async (graceMs, donor) => {
    // 8192 MiB: Xen 72, dom0 1024 (not a donor) → ~7096 free. 'slow' builds for ~64 s, so an admission is always in
    // flight; 'first' (2048) runs after ~2 s; at 10 s 'second' (1024) fits only if 'first' gives some of its memory.
    const host = makeHost(8192, 1024, []);
    host.backend.control.setGuestProfile('slow', { buildMiBps: 64 });
    const xen = new XenHost({ backend: host.backend, clock: host.clock, policy: { dom0Ballooning: false }, ...(graceMs === undefined ? {} : { donorGraceMs: graceMs }) });
    xen.setFloor('first', 512 * 1024);
    const [slow, first, second] = await host.clock.run(Promise.all([
      xen.admit(request('slow', 4096)),
      xen.admit(request('first', 2048)),
      host.clock.sleep(10_000).then(() => xen.admit(request('second', 1024))),
    ]));
    expect([slow!.ok, first!.ok]).toEqual([true, true]);
    expect(second!.ok).toBe(donor);
    if (donor) expect(await totMiB(host, 'first')).toBeLessThan(2048);
    else expect(second!.report!.donorsAsked).toEqual([]);
    await xen.close();
  });

  it('a paused guest is never a donor, even after its grace', async () => {
    const host = makeHost(8192, 1024, []);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, policy: { dom0Ballooning: false }, donorGraceMs: 1000 });
    xen.setFloor('held', 512 * 1024);
    const [held] = await host.clock.run(xen.createGuests([{ ...request('held', 6144), paused: true }]));
    expect(held!.ok).toBe(true);
    await host.clock.advance(5000);
    const [other] = await host.clock.run(xen.createGuests([request('other', 2048)]));
    expect(other!.ok).toBe(false);
    expect(other!.report!.donorsAsked).toEqual([]);
    await xen.close();
  });

  it('one lock for every caller: a second batch balloons only once the first one\'s claim is staked', async () => {
    const host = makeHost(32768, 1024, [
      { name: 'd1', memoryMiB: 12288, minMiB: 2048, balloonMiBps: 512 },
      { name: 'd2', memoryMiB: 12288, minMiB: 2048, balloonMiBps: 512 },
    ]);
    host.baseline = await snapshotMaxPages(host.backend);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, floorsKiB: host.floorsKiB });
    const events: AdmissionEvent[] = [];
    xen.subscribe((e) => events.push(e));
    let lockedWhileBallooning = false;
    xen.subscribe((e) => {
      if (e.type === 'ballooning') lockedWhileBallooning ||= xen.lock.locked;
    });
    const [a, b] = await host.clock.run(
      Promise.all([
        xen.createGuests([request('a', 8192)]),
        host.clock.sleep(1000).then(() => xen.createGuests([request('b', 4096)])),
      ]),
    );
    await host.backend.control.settle();
    expect([a![0]!.ok, b![0]!.ok]).toEqual([true, true]);
    expect(lockedWhileBallooning).toBe(true);
    const aClaimed = events.find((e) => e.type === 'admitted' && e.request === 'a')!;
    for (const round of ofType(events, 'ballooning').filter((r) => r.request === 'b')) expect(round.atMs).toBeGreaterThanOrEqual(aClaimed.atMs);
    // Rounds are counted host-wide, across both batches.
    expect(ofType(events, 'ballooning').map((r) => r.round)).toEqual(ofType(events, 'ballooning').map((_, i) => i + 1));
    expect(await violations(host)).toEqual([]);
  });

  it('the operator\'s changes (target, max_pages, destroy) pass the mutation port', async () => {
    const host = makeHost(8192, 1024, [{ name: 'web', memoryMiB: 1024, maxMiB: 2048 }]);
    const intents: MutationIntent[] = [];
    const xen = new XenHost({ backend: host.backend, clock: host.clock, recorder: { before: (i) => void intents.push(i), after: () => undefined } });
    const domid = host.domids.get('web')!;
    await xen.setMemoryTarget(domid, 512 * 1024);
    await xen.setMaxMem(domid, 1536 * 1024);
    expect((await host.backend.getDomain(domid)).targetKiB).toBe(512 * 1024);
    await xen.destroyGuest(domid, 'web');
    expect(intents).toEqual([
      { kind: 'set-target', domid, targetKiB: 512 * 1024 },
      { kind: 'set-max-mem', domid, maxKiB: 1536 * 1024 },
      { kind: 'destroy-guest', domid, name: 'web', reason: 'operator' },
    ]);
    // Bad arguments are rejected promises, before the port records anything.
    await expect(xen.setMemoryTarget(-1, 1)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/domid must be an integer/) });
    await expect(xen.setMaxMem(domid, Number.NaN)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/maxKiB must be an integer/) });
    await expect(xen.destroyGuest(1.5)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(intents.length).toBe(3);
  });

  it('growth is an admission too: a raised target may take what is free, never the reserve', async () => {
    // 6144 MiB: Xen 56, dom0 1024, web 1024 (may grow to 6144) → 4040 MiB free.
    const host = makeHost(6144, 1024, [{ name: 'web', memoryMiB: 1024, maxMiB: 6144 }]);
    const xen = new XenHost({ backend: host.backend, clock: host.clock });
    const web = host.domids.get('web')!;
    await xen.setMemoryTarget(web, 3072 * 1024);
    expect((await host.backend.getDomain(web)).targetKiB).toBe(3072 * 1024);
    // 4040 free, 2048 of it agreed to web already, 64 kept for Xen: 1928 MiB more at most.
    await expect(xen.setMemoryTarget(web, 5120 * 1024)).rejects.toThrow(/needs 2048 MiB more, but only 1928 MiB is free and not promised/);
    await expect(xen.setMemoryTarget(web, 5120 * 1024)).rejects.toMatchObject({ code: 'ENOMEM' });
    expect((await host.backend.getDomain(web)).targetKiB).toBe(3072 * 1024);
    await xen.setMemoryTarget(web, (3072 + 1928) * 1024);
    expect((await host.backend.getDomain(web)).targetKiB).toBe(5000 * 1024);
    // Lowering is never refused.
    await xen.setMemoryTarget(web, 2048 * 1024);
    expect((await host.backend.getDomain(web)).targetKiB).toBe(2048 * 1024);
    await expect(xen.setMemoryTarget(99, 1024)).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it.each(ALL)('%s: a raised target never takes memory a pending request waits for', async (strategy) => {
    // 16384 MiB: Xen 136, dom0 1024, donor 8192 (floor 2048, slow), web 1024 → ~6008 MiB free; big needs 9216.
    const host = makeHost(16384, 1024, [
      { name: 'donor', memoryMiB: 8192, minMiB: 2048, balloonMiBps: 256 },
      { name: 'web', memoryMiB: 1024, maxMiB: 4096 },
    ]);
    const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy, floorsKiB: host.floorsKiB });
    const web = host.domids.get('web')!;
    const refused: unknown[] = [];
    const [big] = await host.clock.run(
      Promise.all([
        xen.admit(request('big', 9216)),
        host.clock.sleep(2000).then(async () => {
          // big is waiting for the donor: the free memory now is big's, not web's.
          await xen.setMemoryTarget(web, 3072 * 1024).catch((error: unknown) => refused.push(error));
        }),
      ]).then(async ([result]) => {
        await xen.idle();
        return [result];
      }),
    );
    expect(big!.ok).toBe(true);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ code: 'ENOMEM' });
    expect((await host.backend.getDomain(web)).targetKiB).toBe(1024 * 1024);
  });
});
