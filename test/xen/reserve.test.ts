/**
 * Real Xen: why xenclaim keeps a reserve for Xen itself (docs/architecture.md#reserve), and that every admission
 * keeps it.
 *
 * Xen's own allocations — a new domain's structures, its shared-info page, page-table pages — belong to no domain,
 * so the allocation gate (docs/claim-rules.md#rule-7) refuses them once claims cover the free memory: with all free
 * memory claimed, not even an empty domain can be created; with a claim that leaves the reserve, it can. And
 * XenHost (claim-first, no donors) refuses a guest that would fit the headroom but eat into the reserve, saying so,
 * and admits one that leaves the reserve.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { SystemClock } from '../../src/clock.js';
import { isXenError } from '../../src/errors.js';
import { createGuests } from '../../src/host/create-guests.js';
import {
  announceSkip, destroyGuestIfPresent, guestConfig, guestSkipReason, openXen, PAGES_PER_MIB, sleep, xenSkipReason,
} from './xen-env.js';

const skipReason = xenSkipReason();
const RESERVE_MIB = 64;
const TIMEOUT_MS = 300_000;


async function headroomPages(xen: XenBackend): Promise<number> {
  const host = await xen.physinfo();
  return host.freePages - host.outstandingPages;
}

describe('real Xen: the reserve kept free for Xen', () => {
  let xen: XenBackend | undefined;
  /** Domains made with createEmptyDomain (destroyed with destroyDomain) and guests built through libxl. */
  const created: number[] = [];
  const guests: number[] = [];

  async function destroyEmpty(domid: number): Promise<void> {
    await xen?.destroyDomain(domid).catch((error: unknown) => {
      if (!isXenError(error, 'ESRCH') && !isXenError(error, 'EINVAL')) throw error;
    });
  }

  beforeAll(async () => {
    if (skipReason === undefined) xen = await openXen();
    announceSkip('test/xen/reserve.test.ts', guestSkipReason(xen));
  });
  afterEach(async () => {
    // Nothing is left behind, whatever failed: a leaked claim or domain would skew every later test.
    for (const domid of created.splice(0)) await destroyEmpty(domid);
    for (const domid of guests.splice(0)) await destroyGuestIfPresent(xen, domid);
  });
  afterAll(async () => {
    await xen?.close();
  });

  describe('Xen itself', () => {
    beforeEach((context) => {
      if (skipReason !== undefined) context.skip(skipReason);
    });

    it('with every free page claimed, even an empty domain cannot be created; a claim leaving 64 MiB lets it', { timeout: TIMEOUT_MS }, async () => {
      const x = xen as XenBackend;
      expect((await x.physinfo()).outstandingPages, 'the host must have no outstanding claims before the test').toBe(0);
      const holder = await x.createEmptyDomain({ type: 'pv' });
      created.push(holder);
      const host = await x.physinfo();
      await x.setMaxMem(holder, host.totalPages * 4);

      // Claim exactly what is free and unclaimed. dom0 allocates and frees a little meanwhile, so retry until the
      // claim covers every free page at the moment the empty domain is created (a claim is replaced only via 0).
      let refused: unknown;
      for (let attempt = 0; attempt < 10 && refused === undefined; attempt++) {
        await x.claimPages(holder, 0);
        const claimed = await x.claimPages(holder, await headroomPages(x)).then(
          () => true,
          (e: unknown) => {
            if (isXenError(e, 'ENOMEM')) return false; // dom0 took a page in between: read again
            throw e;
          },
        );
        if (!claimed || (await headroomPages(x)) !== 0) continue;
        refused = await x.createEmptyDomain({ type: 'pv' }).then(
          (domid) => {
            created.push(domid); // dom0 freed a page in between: destroy it and try again
            return undefined;
          },
          (e: unknown) => e,
        );
        if (refused === undefined) {
          await destroyEmpty(created.pop()!);
          await sleep(200);
        }
      }
      await x.claimPages(holder, 0);
      expect(isXenError(refused, 'ENOMEM'), `creating a domain with all free memory claimed: ${String(refused)}`).toBe(true);

      // The same claim, less the reserve: Xen's own allocations for a new domain come out of what is left.
      await x.claimPages(holder, (await headroomPages(x)) - RESERVE_MIB * PAGES_PER_MIB);
      const domid = await x.createEmptyDomain({ type: 'pv' });
      created.push(domid);
      expect((await x.getDomain(domid)).dying).toBe(false);
      await x.claimPages(holder, 0);
      expect((await x.physinfo()).outstandingPages).toBe(0);
    });
  });

  describe('XenHost (claim-first, no donors)', () => {
    beforeEach((context) => {
      const reason = guestSkipReason(xen);
      if (reason !== undefined) context.skip(reason);
    });

    it('refuses a guest that fits the headroom but not the headroom less the reserve, saying so; admits one that leaves it', { timeout: TIMEOUT_MS }, async () => {
      const x = xen as XenBackend;
      const clock = new SystemClock();
      expect((await x.physinfo()).outstandingPages, 'the host must have no outstanding claims before the test').toBe(0);
      const freeMiB = Math.floor((await headroomPages(x)) / PAGES_PER_MIB);
      const before = (await x.listDomains()).map((d) => d.domid);
      // No floors and no dom0 ballooning: nothing can be freed, so only the headroom less the reserve counts.
      const options = { strategy: 'claim-first' as const, clock, policy: { dom0Ballooning: false } };

      // Its need (memory plus libxl's few MiB) is ~36 MiB under the headroom: it fits Xen, but not with the reserve.
      const tight = `xenclaim-reserve-tight-${process.pid}`;
      const [refused] = await createGuests(x, [{ name: tight, config: guestConfig(tight, freeMiB - 40) }], options);
      if (refused!.domid !== null) guests.push(refused!.domid);
      expect(refused!.domid).toBeNull();
      expect(refused!.error?.message).toMatch(new RegExp(`plus the ${RESERVE_MIB} MiB kept free for Xen`));
      expect((await x.physinfo()).outstandingPages).toBe(0);
      expect((await x.listDomains()).filter((d) => !before.includes(d.domid))).toEqual([]);

      // 24 MiB more than the reserve left: admitted and built (it need not boot; it is destroyed at once).
      const fits = `xenclaim-reserve-fits-${process.pid}`;
      const [admitted] = await createGuests(x, [{ name: fits, config: guestConfig(fits, freeMiB - RESERVE_MIB - 28) }], options);
      if (admitted!.domid !== null) guests.push(admitted!.domid);
      expect(admitted!.error?.message ?? null).toBeNull();
      const host = await x.physinfo();
      expect(host.outstandingPages).toBe(0);
      // What the build left free is (about) the reserve and the slack: Xen kept what it needed for the domain.
      expect(host.freePages / PAGES_PER_MIB).toBeGreaterThan(RESERVE_MIB - 16);
    });
  });
});
