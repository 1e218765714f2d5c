/**
 * Real Xen (the nested harness): fill the host with two small guests, then create a third that only fits after
 * ballooning them — claim-first succeeds through its fallback, and outstanding_claims is back to 0.
 * Off Xen this skips visibly with its reason. In the harness run it with
 *   XENCLAIM_TEST_PATHS="test/toolstack/real-xen.test.ts" npm run test:xen
 * The guests are the harness's busybox PV guest; they are ballooned only once their console says they are up.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { SystemClock } from '../../src/clock.js';
import { createGuests } from '../../src/host/create-guests.js';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import {
  announceSkip, destroyGuestIfPresent, guestConfig, guestConsoleLog, guestSkipReason, openXen, PAGES_PER_MIB, waitFor,
  xenSkipReason,
} from '../xen/xen-env.js';

const skipReason = xenSkipReason();
const THIRD_MIB = 256;
const FLOOR_MIB = 128;


describe('real Xen: claim-first with its ballooning fallback', () => {
  let xen: XenBackend | undefined;
  const domids: number[] = [];

  beforeAll(async () => {
    if (skipReason === undefined) xen = await openXen();
    announceSkip('test/toolstack/real-xen.test.ts', guestSkipReason(xen));
  });
  beforeEach((context) => {
    const reason = guestSkipReason(xen);
    if (reason !== undefined) context.skip(reason);
  });
  afterAll(async () => {
    for (const domid of domids) await destroyGuestIfPresent(xen, domid);
    await xen?.close();
  });

  it('fills the host with two guests, then a third only fits after ballooning them: it starts, no claim is left', { timeout: 900_000 }, async () => {
    const x = xen as XenBackend;
    const clock = new SystemClock();
    const tag = process.pid;
    const start = await x.physinfo();
    expect(start.outstandingPages, 'the host must have no outstanding claims before the test').toBe(0);
    const freeMiB = Math.floor((start.freePages - start.outstandingPages) / PAGES_PER_MIB);
    // Two guests take all but the reserve xenclaim keeps for Xen (64 MiB) and a few MiB: sized by libxl's own need
    // (target, 1 MiB, the PV paging pool of 4 KiB per MiB and per vCPU's 256, rounded up to 2 MiB).
    let eachMiB = Math.floor((freeMiB - 64) / 2);
    while (2 * (await x.needMemoryKiB(guestConfig('sizing', eachMiB))) > (freeMiB - 64 - 4) * 1024) eachMiB -= 2;
    expect(eachMiB, `the host has ${freeMiB} MiB free: too little for two guests above their ${FLOOR_MIB} MiB floor`).toBeGreaterThan(FLOOR_MIB + THIRD_MIB / 2);
    const fillers = [`xenclaim-fill1-${tag}`, `xenclaim-fill2-${tag}`];
    const filled = await createGuests(x, fillers.map((name) => ({ name, config: guestConfig(name, eachMiB) })), { clock });
    for (const r of filled) {
      expect(r.error?.message ?? null, r.name).toBeNull();
      domids.push(r.domid!);
    }
    for (const name of fillers) {
      await waitFor(`${name} to say it is up`, async () => guestConsoleLog(name), (log) => log.includes('xenclaim-guest: up'), 300_000, 1000);
    }
    const full = await x.physinfo();
    expect((full.freePages - full.outstandingPages) / PAGES_PER_MIB).toBeLessThan(THIRD_MIB);

    const third = `xenclaim-third-${tag}`;
    const events: AdmissionEvent[] = [];
    const [result] = await createGuests(x, [{ name: third, config: guestConfig(third, THIRD_MIB) }], {
      strategy: 'claim-first',
      clock,
      floorsKiB: new Map(fillers.map((name) => [name, FLOOR_MIB * 1024])),
      policy: { dom0Ballooning: false },
      wait: { stallTimeoutMs: 30_000, maxWaitMs: 600_000 },
      pollMs: 1000,
      onEvent: (event) => events.push(event),
    });
    if (result!.domid !== null) domids.push(result!.domid);
    expect(result!.error?.message ?? null).toBeNull();
    // Too little free: the look before the claim (or the claim itself) sent it to the fallback.
    expect(events.filter((e) => e.type === 'building').length).toBeGreaterThanOrEqual(1);
    const ballooning = events.filter((e) => e.type === 'ballooning');
    expect(ballooning.length).toBeGreaterThanOrEqual(1);
    expect((await x.physinfo()).outstandingPages).toBe(0);
    // The donors keep their lowered targets (the creation succeeded), never below their floor.
    for (const domid of domids.slice(0, 2)) {
      const filler = await x.getDomain(domid);
      expect(filler.totPages).toBeGreaterThanOrEqual(FLOOR_MIB * PAGES_PER_MIB);
      if (filler.targetKiB !== undefined) expect(filler.targetKiB).toBeLessThan(eachMiB * 1024);
    }
    const started = await x.getDomain(result!.domid!);
    expect(started.totPages).toBeGreaterThanOrEqual((THIRD_MIB - 4) * PAGES_PER_MIB);
    expect(started.outstandingPages).toBe(0);
    for (const name of fillers) expect(guestConsoleLog(name)).not.toMatch(/Kernel panic|System is deadlocked/);
  });
});
