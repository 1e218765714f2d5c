/** Simulated guests on virtual time: builds honouring claims, balloon drivers, boots, stuck and stalled guests, demands. */
import { describe, expect, it } from 'vitest';
import { XenError } from '../../src/errors.js';
import { hvm, identityHolds, MiB, mockHost, pv } from './helpers.js';

describe('createGuest (libxl with claim_mode)', () => {
  it('builds at the guest’s rate in virtual time, claiming the whole allocation and cancelling it on return', async () => {
    const { backend, clock, control } = mockHost();
    control.setGuestProfile('web', { buildMiBps: 512 });
    const before = await backend.physinfo();
    const creating = backend.createGuest(pv('web', 1024));
    // After 1 s of a 2 s build: half populated, the rest still claimed.
    await clock.advance(1000);
    const domid = (await backend.listDomains()).find((d) => d.name === 'web')!.domid;
    const mid = await backend.getDomain(domid);
    expect(mid.totPages).toBe(512 * MiB);
    expect(mid.outstandingPages).toBe(512 * MiB);
    expect(mid.maxPages).toBe(1024 * MiB + 256); // target + LIBXL_MAXMEM_CONSTANT
    expect((await backend.physinfo()).outstandingPages).toBe(512 * MiB);
    expect(await clock.run(creating)).toBe(domid);
    expect(clock.now()).toBe(2000);
    const built = await backend.getDomain(domid);
    expect(built).toMatchObject({ totPages: 1024 * MiB, outstandingPages: 0, paused: false, name: 'web', targetKiB: 1024 * 1024 });
    expect((await backend.physinfo()).freePages).toBe(before.freePages - 1024 * MiB);
    expect(control.calls.hypercalls).toMatchObject({ createDomain: 1, setMaxMem: 1, claim: 2, populate: 20, unpause: 1 });
    expect(await identityHolds(backend)).toBe(true);
  });

  it('a claimed build keeps memory from a running guest that wants to grow (the gate, from the other side)', async () => {
    const { backend, clock, control } = mockHost({ memoryMiB: 4096, dom0MiB: 512 });
    const runner = control.addRunningGuest({ name: 'runner', memoryMiB: 512, maxMiB: 2048, balloonMiBps: 4096 });
    const free = (await backend.physinfo()).freePages;
    control.setGuestProfile('big', { buildMiBps: 256 });
    const creating = backend.createGuest(pv('big', Math.floor(free / MiB) - 256));
    await clock.advance(100);
    control.requestGrowth(runner, 1536 * 1024);
    await clock.advance(2000);
    // 256 MiB were unclaimed: the runner got those, and no more.
    expect((await backend.getDomain(runner)).totPages).toBe(768 * MiB);
    expect(control.guestState(runner)?.blocked).toBe('memory');
    await clock.run(creating);
    // Build done, claim cancelled... and the memory is the new guest's: the runner stays where it is.
    await control.settle();
    expect((await backend.getDomain(runner)).totPages).toBe(768 * MiB);
    expect(control.quiescent).toBe(true);
  });

  it('without claims two racing builds run out of memory mid-way and both fail; with claims the second fails at once and the first completes', async () => {
    for (const claim of [false, true]) {
      const { backend, clock, control } = mockHost({ memoryMiB: 4096, dom0MiB: 512 });
      const freeMiB = Math.floor((await backend.physinfo()).freePages / MiB);
      const size = Math.floor((freeMiB * 2) / 3);
      const a = backend.createGuest(pv('a', size), { claim });
      const b = backend.createGuest(pv('b', size), { claim });
      const results = await clock.run(Promise.allSettled([a, b]));
      const failed = results.filter((r) => r.status === 'rejected');
      // Without claims both builds populate side by side until memory runs out, and both fail (the loser's pages
      // come back too late for the other); with claims the second claim is refused at once and the first completes.
      expect(failed).toHaveLength(claim ? 1 : 2);
      if (claim) expect(results[0]!.status).toBe('fulfilled');
      const error = (failed[0] as PromiseRejectedResult).reason as XenError;
      expect(error).toBeInstanceOf(XenError);
      expect(error.code).toBe('ERROR_FAIL');
      expect(error.errno).toBe(12);
      expect(error.xenLog.join('\n')).toMatch(claim ? /claim of \d+ pages .* failed/ : /allocation gate|populate/);
      // No half-built domain left behind once its pages are back, no claim leaked.
      await control.settle();
      const names = (await backend.listDomains()).map((d) => d.name);
      expect(names.filter((n) => n === 'a' || n === 'b')).toHaveLength(claim ? 1 : 0);
      expect((await backend.physinfo()).outstandingPages).toBe(0);
      // With claims the loser never populated anything: every populate call was the winner's.
      if (claim) expect(control.calls.hypercalls.populate).toBe(Math.ceil((size * 10) / 1024));
      expect(await identityHolds(backend)).toBe(true);
    }
  });

  it('a name already in use: ERROR_INVAL, nothing created', async () => {
    const { backend, clock } = mockHost();
    await clock.run(backend.createGuest(pv('dup', 128)));
    await expect(clock.run(backend.createGuest(pv('dup', 128)))).rejects.toMatchObject({ code: 'ERROR_INVAL' });
    expect((await backend.listDomains()).filter((d) => d.name === 'dup')).toHaveLength(1);
  });

  it('paused: true leaves it paused and unbooted; unpausing boots it after its boot delay', async () => {
    const { backend, clock, control } = mockHost();
    control.setGuestProfile('p', { bootDelayS: 3 });
    const domid = await clock.run(backend.createGuest(pv('p', 256), { paused: true }));
    expect((await backend.getDomain(domid)).paused).toBe(true);
    await clock.advance(10_000);
    expect(control.guestState(domid)?.booted).toBe(false);
    await backend.unpauseDomain(domid);
    await clock.advance(2900);
    expect(control.guestState(domid)?.booted).toBe(false);
    await clock.advance(100);
    expect(control.guestState(domid)?.booted).toBe(true);
  });

  it('HVM: paging pool from shadow_memkb (Xen’s pages), video RAM and VGA hole left out, need = target + shadow + 2 MiB', async () => {
    const { backend, clock, control } = mockHost();
    const config = hvm('win', 1024, { shadow_memkb: 9 * 1024 });
    expect(await backend.needMemoryKiB(config)).toBe(1024 * 1024 + 9 * 1024 + 2048 + 1024); // rounded up to 2 MiB
    const domid = await clock.run(backend.createGuest(config));
    const info = await backend.getDomain(domid);
    expect(info.hvm).toBe(true);
    // The builder's pages (target - video RAM - VGA hole), then the video RAM qemu populates into the guest.
    expect(info.totPages).toBe((1024 * 1024 - 8 * 1024) / 4 - 32 + (8 * 1024) / 4);
    expect(info.targetKiB).toBe(1024 * 1024 - 8 * 1024);
    expect(control.accounting().pagingPoolPages).toBe(9 * MiB);
    expect(await identityHolds(backend)).toBe(true);
    await backend.destroyGuest(domid);
    await control.settle();
    expect(control.accounting().pagingPoolPages).toBe(0);
    expect(await identityHolds(backend)).toBe(true);
  });
});

describe('balloon drivers', () => {
  it('follow setMemoryTarget at their rate, down then up, once booted; enforce moves max_pages', async () => {
    const { backend, clock, control } = mockHost();
    control.setGuestProfile('g', { balloonMiBps: 256, bootDelayS: 1 });
    const domid = await clock.run(backend.createGuest(pv('g', 1024)));
    await clock.advance(1000); // booted
    const t0 = clock.now();
    await backend.setMemoryTarget(domid, 512 * 1024);
    expect((await backend.getDomain(domid)).maxPages).toBe(512 * MiB + 256);
    await clock.advance(1000);
    expect((await backend.getDomain(domid)).totPages).toBe(768 * MiB);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(512 * MiB);
    expect(clock.now() - t0).toBe(2000);
    await backend.setMemoryTarget(domid, 256 * 1024, { relative: true });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(768 * MiB);
    expect((await backend.getDomain(domid)).targetKiB).toBe(768 * 1024);
    expect(control.calls.guestHypercalls.decreaseReservation).toBe(20);
    expect(control.quiescent).toBe(true);
  });

  it('ignore targets until the kernel has booted (then catch up)', async () => {
    const { backend, clock, control } = mockHost();
    control.setGuestProfile('late', { bootDelayS: 30, balloonMiBps: 1024 });
    const domid = await clock.run(backend.createGuest(pv('late', 1024)));
    await backend.setMemoryTarget(domid, 256 * 1024);
    await clock.advance(29_000);
    expect((await backend.getDomain(domid)).totPages).toBe(1024 * MiB);
    expect(control.guestState(domid)?.booted).toBe(false);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(256 * MiB);
  });

  it('an uncooperative guest ignores targets and holds no timer (the host is quiescent)', async () => {
    const { backend, clock, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'stuck', memoryMiB: 2048, cooperative: false });
    await backend.setMemoryTarget(domid, 512 * 1024);
    expect(control.quiescent).toBe(true);
    await clock.advance(60_000);
    expect((await backend.getDomain(domid)).totPages).toBe(2048 * MiB);
    // Becoming cooperative later: it follows.
    control.setDomainProfile(domid, { cooperative: true });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(512 * MiB);
  });

  it('a guest that stalls after N MiB stops there for good', async () => {
    const { backend, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'stall', memoryMiB: 2048, stallAfterMiB: 300, balloonMiBps: 1000 });
    await backend.setMemoryTarget(domid, 512 * 1024);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe((2048 - 300) * MiB);
    expect(control.guestState(domid)).toMatchObject({ stalled: true, active: false });
  });

  it('a slow guest takes proportionally longer', async () => {
    const { backend, clock, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'slow', memoryMiB: 1024, balloonMiBps: 16 });
    await backend.setMemoryTarget(domid, 768 * 1024);
    const t0 = clock.now();
    await control.settle();
    expect(clock.now() - t0).toBe(16_000);
  });

  it('growth demands go through the gate and max_pages, wait, and retry when memory is freed', async () => {
    const { backend, clock, control } = mockHost({ memoryMiB: 4096, dom0MiB: 512, balloonRetryS: 2 });
    const grower = control.addRunningGuest({ name: 'grower', memoryMiB: 512, maxMiB: 1024, balloonMiBps: 1024 });
    // Someone else claims all but 128 MiB of the free memory.
    const hog = await backend.createEmptyDomain({ type: 'pv' });
    const p = await backend.physinfo();
    const stake = p.freePages - p.outstandingPages - 128 * MiB;
    await backend.setMaxMem(hog, stake * 4);
    await backend.claimPages(hog, stake);
    control.requestGrowth(grower, 1024 * 1024);
    await control.settle();
    expect((await backend.getDomain(grower)).totPages).toBe(640 * MiB);
    expect(control.guestState(grower)).toMatchObject({ blocked: 'memory', demandSatisfied: false, active: false });
    // The claim goes: the driver retries after balloonRetryS and finishes (bounded by max_pages = 1024 MiB + 1 MiB).
    await backend.claimPages(hog, 0);
    const t0 = clock.now();
    await control.settle();
    expect(clock.now() - t0).toBeGreaterThanOrEqual(2000);
    expect((await backend.getDomain(grower)).totPages).toBe(1024 * MiB);
    expect(control.guestState(grower)?.demandSatisfied).toBe(true);
  });

  it('a target above max_pages with enforce=false: the driver stops at max_pages until setmaxmem raises it', async () => {
    const { backend, control } = mockHost();
    const domid = await control.settle().then(() => control.addRunningGuest({ name: 'm', memoryMiB: 512, maxMiB: 2048 }));
    await backend.setMaxMem(domid, 768 * 1024);
    await backend.setMemoryTarget(domid, 1024 * 1024, { enforce: false });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(768 * MiB);
    expect(control.guestState(domid)?.blocked).toBe('maxPages');
    await backend.setMaxMem(domid, 2048 * 1024);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(1024 * MiB);
  });

  it('above memory/static-max is ERROR_INVAL even with enforce=false; dom0 has a balloon driver and a 128 MiB floor', async () => {
    const { backend, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'x', memoryMiB: 512, maxMiB: 1024 });
    await expect(backend.setMemoryTarget(domid, 1025 * 1024, { enforce: false })).rejects.toMatchObject({ code: 'ERROR_INVAL' });
    await expect(backend.setMemoryTarget(0, 127 * 1024)).rejects.toMatchObject({ code: 'ERROR_INVAL' });
    await backend.setMemoryTarget(0, 512 * 1024);
    await control.settle();
    expect((await backend.getDomain(0)).totPages).toBe(512 * MiB);
    await expect(backend.setMemoryTarget(0, 2048 * 1024)).rejects.toMatchObject({ code: 'ERROR_INVAL' });
  });

  it('pausing stops a balloon driver; unpausing resumes it', async () => {
    const { backend, clock, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'pz', memoryMiB: 1024, balloonMiBps: 256 });
    await backend.setMemoryTarget(domid, 512 * 1024);
    await clock.advance(500);
    await backend.pauseDomain(domid);
    const at = (await backend.getDomain(domid)).totPages;
    await clock.advance(5000);
    expect((await backend.getDomain(domid)).totPages).toBe(at);
    expect(control.quiescent).toBe(true);
    await backend.unpauseDomain(domid);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(512 * MiB);
  });

  it('a demand is a target the toolstack sees: memory/target is raised, and a later toolstack target replaces it', async () => {
    const { backend, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'd', memoryMiB: 512, maxMiB: 1024, balloonMiBps: 1024 });
    control.requestGrowth(domid, 768 * 1024);
    expect((await backend.getDomain(domid)).targetKiB).toBe(768 * 1024);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(768 * MiB);
    await backend.setMemoryTarget(domid, 600 * 1024, { enforce: false });
    expect(control.guestState(domid)?.demandPages).toBeUndefined();
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(600 * MiB);
  });
});

describe('the kinds of balloon driver squeezed tests its balancer with (squeeze_test.ml)', () => {
  it('inaccurate: stops that far short of its target, both ways', async () => {
    const { backend, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'i', memoryMiB: 1024, maxMiB: 2048, balloonMiBps: 1024, inaccuracyMiB: 4 });
    await backend.setMemoryTarget(domid, 512 * 1024, { enforce: false });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(516 * MiB);
    await backend.setMemoryTarget(domid, 1024 * 1024, { enforce: false });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(1020 * MiB);
    expect(control.quiescent).toBe(true);
  });

  it('hidden floor and ceiling: the driver never takes the guest past them, whatever its target', async () => {
    const { backend, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'h', memoryMiB: 1024, maxMiB: 2048, balloonMiBps: 1024, hiddenMinMiB: 800, hiddenMaxMiB: 1200 });
    await backend.setMemoryTarget(domid, 512 * 1024, { enforce: false });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(800 * MiB);
    await backend.setMemoryTarget(domid, 2000 * 1024, { enforce: false });
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(1200 * MiB);
    expect(control.quiescent).toBe(true);
  });

  it('intermittent: moves for movingS, stops for stuckS, by turns, from time 0', async () => {
    const { backend, clock, control } = mockHost();
    const domid = control.addRunningGuest({ name: 'x', memoryMiB: 1024, balloonMiBps: 100, intermittent: { movingS: 1, stuckS: 2 } });
    await backend.setMemoryTarget(domid, 512 * 1024, { enforce: false });
    const seen: number[] = [];
    for (let t = 1; t <= 6; t++) {
      await clock.advanceTo(t * 1000);
      seen.push(Math.round((1024 * MiB - (await backend.getDomain(domid)).totPages) / MiB));
    }
    // Moving in [0, 1) and [3, 4): 10 MiB per 100 ms tick, the first tick of each moving phase at its start (so 90 by
    // 1 s, the tenth at 3 s); nothing moves while it is stuck.
    expect(seen).toEqual([90, 90, 100, 190, 190, 200]);
    await control.settle();
    expect((await backend.getDomain(domid)).totPages).toBe(512 * MiB);
  });

  it('refuses bad driver kinds, naming the field', () => {
    const { control } = mockHost();
    expect(() => control.addRunningGuest({ name: 'a', memoryMiB: 64, intermittent: { movingS: 0, stuckS: 1 } })).toThrow(/guest\.intermittent\.movingS/);
    expect(() => control.addRunningGuest({ name: 'b', memoryMiB: 64, intermittent: { movingS: 1 } as never })).toThrow(/guest\.intermittent\.stuckS/);
    expect(() => control.addRunningGuest({ name: 'c', memoryMiB: 64, inaccuracyMiB: -1 })).toThrow(/guest\.inaccuracyMiB/);
    expect(() => control.setGuestProfile('d', { hiddenMinMiB: Number.NaN })).toThrow(/profile\.hiddenMinMiB/);
  });
});
