/** The simulated host as a whole: spec checks, destruction over time, faults, call counts, determinism, scale. */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { XenError } from '../../src/errors.js';
import { MockBackend } from '../../src/mock/backend.js';
import { identityHolds, MiB, mockHost, pv } from './helpers.js';

describe('MockHostSpec', () => {
  it('defaults: 16 GiB, 1 GiB dom0, Xen 4.17, no tmem; dom0 is Domain-0 with its target', async () => {
    const backend = new MockBackend();
    expect(backend.hostSpec).toMatchObject({ memoryMiB: 16384, dom0MiB: 1024, xenVersion: '4.17', tmem: false });
    expect(await backend.xenVersion()).toEqual({ major: 4, minor: 17, extra: '.7' });
    expect(backend.features).toEqual({ claims: true, tmem: false, libxl: true });
    const [dom0] = await backend.listDomains();
    expect(dom0).toMatchObject({ domid: 0, name: 'Domain-0', totPages: 1024 * MiB, targetKiB: 1024 * 1024, paused: false });
    // Xen's own memory: 1/128 of the host (frame table) + 8 MiB.
    expect(backend.control.accounting().xenOverheadPages).toBe((16384 / 128 + 8) * MiB);
    expect(await identityHolds(backend)).toBe(true);
  });

  it('refuses bad specs with the field and its range', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ memoryMiB: -1 }, /host\.memoryMiB must be an integer from 256 to/],
      [{ memoryMiB: 1.5 }, /host\.memoryMiB/],
      [{ memoryMiB: NaN }, /host\.memoryMiB.*NaN/],
      [{ memoryMiB: 1024, dom0MiB: 2048 }, /host\.dom0MiB must be an integer from 128 to/],
      [{ memoryMiB: 1024, dom0MiB: 64 }, /host\.dom0MiB/],
      [{ memoryMiB: 1024, xenVersion: '4.18' }, /host\.xenVersion must be one of '4\.17', '4\.20', '4\.21', '4\.22'/],
      [{ memoryMiB: 1024, tmem: 'yes' }, /host\.tmem must be true or false/],
      [{ memoryMiB: 1024, colour: 'blue' }, /unknown field host\.colour/],
      [{ memoryMiB: 1024, guestDefaults: { buildMiBps: 0 } }, /host\.guestDefaults\.buildMiBps/],
      [{ memoryMiB: 1024, guestDefaults: { speed: 1 } }, /unknown field host\.guestDefaults\.speed/],
      [{ memoryMiB: 1024, destroyReturnDelayS: -1 }, /host\.destroyReturnDelayS/],
      ['16G', /host must be an object/],
    ];
    for (const [host, message] of cases) {
      let error: unknown;
      try {
        new MockBackend({ host: host as never });
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(host)).toBeInstanceOf(XenError);
      expect((error as XenError).code).toBe('EINVAL');
      expect((error as XenError).message).toMatch(message);
    }
    expect(() => new MockBackend({ clock: {} as never })).toThrow(/clock must be a Clock/);
  });

  it('a 1 TiB host is as cheap as 1 GiB: a 900 GiB claim and populate are immediate and exact', async () => {
    const backend = new MockBackend({ host: { memoryMiB: 1024 * 1024 } });
    const domid = await backend.createEmptyDomain({ type: 'pvh' });
    const pages = 900 * 1024 * MiB;
    await backend.setMaxMem(domid, pages * 4);
    await backend.claimPages(domid, pages);
    await backend.populatePhysmap(domid, pages);
    expect(await backend.getDomain(domid)).toMatchObject({ totPages: pages, outstandingPages: 0 });
    expect(await identityHolds(backend)).toBe(true);
  });
});

describe('destruction', () => {
  it('cancels the claim at once; pages come back after the delay at the return rate; then the domain is gone', async () => {
    const { backend, clock, control } = mockHost({ destroyReturnDelayS: 2, destroyReturnMiBps: 1024 });
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    await backend.setMaxMem(domid, 4096 * 1024);
    await backend.claimPages(domid, 3072 * MiB);
    await backend.populatePhysmap(domid, 2048 * MiB);
    const before = await backend.physinfo();
    await backend.destroyDomain(domid);
    expect((await backend.physinfo()).outstandingPages).toBe(0);
    expect(await backend.getDomain(domid)).toMatchObject({ dying: true, outstandingPages: 0, totPages: 2048 * MiB });
    expect(control.accounting().pendingReturnPages).toBe(2048 * MiB);
    await clock.advance(1999);
    expect((await backend.physinfo()).freePages).toBe(before.freePages);
    await clock.advance(901); // the first return comes at the end of the 2 s delay: 10 ticks of 1 GiB/s by 2.9 s
    expect(control.accounting().pendingReturnPages).toBe(1024 * MiB);
    expect(await identityHolds(backend)).toBe(true);
    await control.settle();
    expect(clock.now()).toBe(3900);
    await expect(backend.getDomain(domid)).rejects.toMatchObject({ code: 'ESRCH' });
    expect((await backend.physinfo()).freePages).toBe(before.freePages + 2048 * MiB);
    // Destroying a dying domain is fine; dom0 cannot be destroyed.
    await expect(backend.destroyDomain(0)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(backend.destroyGuest(0)).rejects.toMatchObject({ code: 'ERROR_INVAL' });
  });

  it('destroying a guest during its build fails the build and leaves nothing behind', async () => {
    const { backend, clock, control } = mockHost();
    const creating = backend.createGuest(pv('victim', 2048));
    await clock.advance(500);
    const domid = (await backend.listDomains()).find((d) => d.name === 'victim')!.domid;
    await backend.destroyGuest(domid);
    await expect(clock.run(creating)).rejects.toMatchObject({ code: 'ERROR_FAIL' });
    await control.settle();
    expect((await backend.listDomains()).map((d) => d.domid)).toEqual([0]);
    expect((await backend.physinfo()).outstandingPages).toBe(0);
  });
});

describe('fault injection and call counts', () => {
  it('the next N calls of a method fail with the code; later calls work', async () => {
    const { backend, control } = mockHost();
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    await backend.setMaxMem(domid, 64 * 1024);
    control.injectFault('claimPages', 'ENOMEM', 2);
    for (let i = 0; i < 2; i++) {
      await expect(backend.claimPages(domid, MiB)).rejects.toMatchObject({ code: 'ENOMEM', errno: 12, op: 'claimPages' });
    }
    await backend.claimPages(domid, MiB);
    control.injectFault('physinfo', 'EACCES');
    await expect(backend.physinfo()).rejects.toMatchObject({ code: 'EACCES', errno: 13 });
    await backend.physinfo();
    expect(control.calls.ops).toMatchObject({ claimPages: 3, physinfo: 2, setMaxMem: 1, createEmptyDomain: 1 });
    expect(control.calls.hypercalls.claim).toBe(1); // faulted calls never reached the hypervisor
    control.resetCalls();
    expect(control.calls.ops.claimPages).toBe(0);
  });

  it('a fault inside a build (one populate chunk) fails createGuest, cancels the claim, destroys the domain', async () => {
    const { backend, clock, control } = mockHost();
    const free = (await backend.physinfo()).freePages;
    const creating = backend.createGuest(pv('faulty', 1024));
    await clock.advance(250);
    control.injectFault('build:populate', 'ENOMEM');
    const error = await clock.run(creating).then(() => undefined, (e: unknown) => e as XenError);
    expect(error).toBeInstanceOf(XenError);
    expect(error).toMatchObject({ code: 'ERROR_FAIL', errno: 12, op: 'createGuest' });
    expect(error!.xenLog.some((line) => line.includes('cannot (re-)build domain'))).toBe(true);
    expect((await backend.physinfo()).outstandingPages).toBe(0);
    await control.settle();
    expect((await backend.listDomains()).some((d) => d.name === 'faulty')).toBe(false);
    expect((await backend.physinfo()).freePages).toBe(free);
  });

  it('faults on a balloon driver’s own hypercalls: it retries later', async () => {
    const { backend, clock, control } = mockHost({ balloonRetryS: 5 });
    const domid = control.addRunningGuest({ name: 'b', memoryMiB: 1024, balloonMiBps: 10_240 });
    control.injectFault('balloon:decrease', 'EBUSY');
    await backend.setMemoryTarget(domid, 512 * 1024);
    const t0 = clock.now();
    await control.settle();
    // Tick at 100 ms faults; retry 5 s later; the next tick (10 GiB/s) finishes the 512 MiB.
    expect(clock.now() - t0).toBe(100 + 5000 + 100);
    expect((await backend.getDomain(domid)).totPages).toBe(512 * MiB);
  });

  it('refuses unknown fault points and codes', () => {
    const { control } = mockHost();
    expect(() => control.injectFault('fly' as never, 'ENOMEM')).toThrow(/op must be a backend method/);
    expect(() => control.injectFault('claimPages', 'nope')).toThrow(/code must be an errno name/);
    expect(() => control.injectFault('claimPages', 'ENOMEM', 0)).toThrow(/count must be an integer/);
  });

  it('control input is checked like backend input', () => {
    const { control } = mockHost();
    expect(() => control.addRunningGuest({ name: 'x', memoryMiB: -5 })).toThrow(/guest\.memoryMiB/);
    expect(() => control.addRunningGuest({ name: 'x', memoryMiB: 512, maxMiB: 256 })).toThrow(/guest\.maxMiB must be an integer from 512/);
    expect(() => control.addRunningGuest({ name: 'x', memoryMiB: 512, speed: 3 } as never)).toThrow(/unknown field guest\.speed/);
    expect(() => control.addRunningGuest({ name: 'x', memoryMiB: 512, balloonMiBps: -1 })).toThrow(/guest\.balloonMiBps/);
    expect(() => control.addRunningGuest({ name: 'big', memoryMiB: 1024 * 1024 })).toThrow(/ENOMEM/);
    expect(() => control.setGuestProfile('x', { cooperative: 'no' as never })).toThrow(/profile\.cooperative/);
    expect(() => control.requestGrowth(0, -1)).toThrow(/targetKiB/);
    expect(() => control.requestGrowth(77, 1024)).toThrow(/ESRCH/);
  });
});

describe('time and determinism', () => {
  async function scenario(): Promise<string[]> {
    const { backend, clock, control } = mockHost({ memoryMiB: 16384, dom0MiB: 2048 });
    const web = control.addRunningGuest({ name: 'web', memoryMiB: 6144, maxMiB: 8192, balloonMiBps: 700 });
    control.addRunningGuest({ name: 'db', memoryMiB: 4096, cooperative: false });
    control.setGuestProfile('new', { buildMiBps: 900, bootDelayS: 1.5 });
    const timeline: string[] = [];
    const creating = backend.createGuest(pv('new', 3000)).catch((e: unknown) => e);
    const balloon = backend.setMemoryTarget(web, 2048 * 1024);
    control.requestGrowth(0, 1024 * 1024);
    for (let t = 0; t < 120; t++) {
      await clock.advance(250);
      const domains = await backend.listDomains();
      const p = await backend.physinfo();
      timeline.push(`${clock.now()} ${p.freePages} ${p.outstandingPages} ${domains.map((d) => `${d.domid}:${d.totPages}`).join(',')}`);
      if (!(await identityHolds(backend))) throw new Error(`books unbalanced at ${clock.now()}`);
    }
    await balloon;
    expect(typeof (await creating)).toBe('number');
    return timeline;
  }

  it('same inputs, same timeline (and the books balance at every step)', async () => {
    const a = await scenario();
    const b = await scenario();
    expect(a).toEqual(b);
    expect(new Set(a.map((line) => line.split(' ').slice(1).join(' '))).size).toBeGreaterThan(10);
  });

  it('guests hold no idle timers: VirtualClock.run detects a wait that nothing will end', async () => {
    const { backend, clock, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'idle', memoryMiB: 512 });
    await control.settle();
    expect(control.pendingTimers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    const never = new Promise<void>(() => undefined);
    await expect(clock.run(never)).rejects.toThrow(/deadlock/);
    expect((await backend.getDomain(domid)).totPages).toBe(512 * MiB);
  });

  it('an hour of slow ballooning simulates in well under a second of wall time', async () => {
    const { backend, clock, control } = mockHost({ memoryMiB: 65536 });
    const domid = control.addRunningGuest({ name: 'slow', memoryMiB: 40_000, balloonMiBps: 10 });
    await backend.setMemoryTarget(domid, 4000 * 1024);
    await control.settle();
    expect(clock.now()).toBe(3_600_000);
    expect((await backend.getDomain(domid)).totPages).toBe(4000 * MiB);
  });

  it('runs on any Clock it is given and stops its timers on close', async () => {
    const clock = new VirtualClock(5000);
    const backend = new MockBackend({ host: { memoryMiB: 4096 }, clock });
    expect(backend.clock).toBe(clock);
    const domid = backend.control.addRunningGuest({ name: 'c', memoryMiB: 1024 });
    await backend.setMemoryTarget(domid, 256 * 1024);
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await backend.close();
    expect(backend.control.pendingTimers).toBe(0);
    await expect(backend.physinfo()).rejects.toMatchObject({ code: 'EBADF' });
  });
});

describe('close', () => {
  it('fails a build in progress instead of leaving it hanging, and leaves no timer behind', async () => {
    const { backend, clock, control } = mockHost();
    const creating = backend.createGuest(pv('half', 4096)).then(() => 'built', (e: XenError) => e.code);
    await clock.advance(1000);
    await backend.close();
    expect(await creating).toBe('ERROR_FAIL');
    expect(control.pendingTimers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a 256th nested pause is EOVERFLOW', async () => {
    const { backend } = mockHost();
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    for (let i = 1; i < 255; i++) await backend.pauseDomain(domid);
    await expect(backend.pauseDomain(domid)).rejects.toMatchObject({ code: 'EOVERFLOW', errno: 75 });
  });
});
