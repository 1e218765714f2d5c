/**
 * Real Xen: a real PV guest and a real PVH guest through libxl (createGuest/setMemoryTarget/destroyGuest),
 * cross-checked with `xl list`. PVH is an HVM container: under QEMU it needs nested paging (HAP), which the harness
 * gives its virtual CPU (+npt).
 * The guest is the Debian kernel with a busybox initramfs (scripts/nested-xen/image/guest-init) that prints
 * "xenclaim-guest: up" on its console once booted, then its MemTotal whenever it changes; xenconsoled logs that
 * console to XENCLAIM_GUEST_CONSOLE_DIR/guest-NAME.log. The guest is only ballooned after it is up: ballooning a
 * kernel that is still booting can deadlock it (docs/claim-rules.md#lesson-9).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { isXenError } from '../../src/errors.js';
import {
  announceSkip, destroyGuestIfPresent, guestConfig, guestConsoleLog, guestSkipReason, PAGES_PER_MIB, openXen, waitFor,
  xenSkipReason, xlList, type GuestType,
} from './xen-env.js';

const skipReason = xenSkipReason();
const GUEST_MIB = 256;
const SMALL_MIB = 128;
/** The balloon driver stops a little short of its target; 4 MiB is well under what any step moves. */
const SLACK_PAGES = 4 * PAGES_PER_MIB;

/** The guest's own view: the last "MemTotal N kB" its init printed (its balloon driver changes MemTotal). */
function guestMemTotalKiB(name: string): number | undefined {
  const seen = [...guestConsoleLog(name).matchAll(/xenclaim-guest: MemTotal (\d+) kB/g)];
  const last = seen.at(-1);
  return last === undefined ? undefined : Number(last[1]);
}

describe.each<GuestType>(['pv', 'pvh'])('real Xen: a %s guest through libxl', (type) => {
  let xen: XenBackend | undefined;
  const guests: number[] = [];

  beforeAll(async () => {
    if (skipReason === undefined) xen = await openXen();
    announceSkip('test/xen/guest.test.ts', guestSkipReason(xen));
  });
  beforeEach((context) => {
    const reason = guestSkipReason(xen);
    if (reason !== undefined) context.skip(reason);
  });
  afterEach(async () => {
    for (const domid of guests.splice(0)) await destroyGuestIfPresent(xen, domid);
  });
  afterAll(async () => {
    await xen?.close();
  });

  it('creates the guest with a claim, balloons it down and up, destroys it and gets the memory back', { timeout: 600_000 }, async () => {
    const x = xen as XenBackend;
    const name = `xenclaim-e2e-${type}-${process.pid}`;
    const config = guestConfig(name, GUEST_MIB, type);
    const needKiB = await x.needMemoryKiB(config);
    expect(needKiB).toBeGreaterThanOrEqual(GUEST_MIB * 1024);
    expect(needKiB).toBeLessThan((GUEST_MIB + 64) * 1024);

    const before = await x.physinfo();
    const domid = await x.createGuest(config, { claim: true });
    guests.push(domid);

    // The builder's claim lives only while it populates: none is left once createGuest returns.
    expect((await x.physinfo()).outstandingPages).toBe(0);
    const built = await x.getDomain(domid);
    expect(built.outstandingPages).toBe(0);
    expect(built.hvm).toBe(type === 'pvh');
    expect(built.totPages).toBeGreaterThanOrEqual(GUEST_MIB * PAGES_PER_MIB - SLACK_PAGES);
    expect(built.totPages).toBeLessThanOrEqual(needKiB / 4);
    const listed = (await xlList()).find((row) => row.domid === domid);
    expect(listed?.name).toBe(name);
    expect(listed?.memMiB).toBe(Math.floor(built.totPages / PAGES_PER_MIB));

    await waitFor(`guest ${name} to say it is up on its console`, async () => guestConsoleLog(name), (log) => log.includes('xenclaim-guest: up'), 240_000, 1000);
    const bootLog = guestConsoleLog(name);
    expect(bootLog).not.toMatch(/Kernel panic|System is deadlocked/);
    // The guest prints its MemTotal just after "up" (it runs awk first): wait for that line, then check it.
    const bootMemTotalKiB = await waitFor(`guest ${name} to report its MemTotal`, async () => guestMemTotalKiB(name), (kib) => kib !== undefined, 60_000, 500);
    expect(bootMemTotalKiB!).toBeGreaterThan(SMALL_MIB * 1024);

    await x.setMemoryTarget(domid, SMALL_MIB * 1024);
    const down = await waitFor(
      `guest ${name} to balloon down to ${SMALL_MIB} MiB`,
      () => x.getDomain(domid),
      (info) => info.totPages <= SMALL_MIB * PAGES_PER_MIB + SLACK_PAGES,
      120_000,
      1000,
    );
    expect(down.totPages).toBeGreaterThanOrEqual(SMALL_MIB * PAGES_PER_MIB - SLACK_PAGES);
    if (down.targetKiB !== undefined) expect(down.targetKiB).toBe(SMALL_MIB * 1024);
    // The guest itself sees the smaller memory (its balloon driver took the pages out of MemTotal).
    await waitFor(`guest ${name} to report MemTotal under ${SMALL_MIB} MiB`, async () => guestMemTotalKiB(name), (kib) => kib !== undefined && kib <= SMALL_MIB * 1024, 60_000, 1000);
    const freedPages = built.totPages - down.totPages;
    const afterDown = await x.physinfo();
    expect(afterDown.freePages - before.freePages + needKiB / 4).toBeGreaterThanOrEqual(freedPages - SLACK_PAGES);

    await x.setMemoryTarget(domid, GUEST_MIB * 1024);
    const up = await waitFor(
      `guest ${name} to balloon back up to ${GUEST_MIB} MiB`,
      () => x.getDomain(domid),
      (info) => info.totPages >= GUEST_MIB * PAGES_PER_MIB - SLACK_PAGES,
      120_000,
      1000,
    );
    await waitFor(`guest ${name} to report its MemTotal back`, async () => guestMemTotalKiB(name), (kib) => kib !== undefined && kib >= bootMemTotalKiB! - 4 * 1024, 60_000, 1000);
    expect(up.dying).toBe(false);
    expect(up.shutdown).toBe(false);
    expect(guestConsoleLog(name)).not.toMatch(/Kernel panic|System is deadlocked/);

    await x.destroyGuest(domid);
    guests.splice(guests.indexOf(domid), 1);
    await waitFor(
      `guest ${domid} to disappear`,
      () => x.getDomain(domid).then(() => 'present', (e: unknown) => (isXenError(e, 'ESRCH') ? 'gone' : String(e))),
      (state) => state === 'gone',
      60_000,
    );
    expect((await xlList()).some((row) => row.domid === domid)).toBe(false);
    await waitFor(
      "the guest's memory to come back to Xen",
      async () => (await x.physinfo()).freePages,
      (free) => free >= before.freePages - PAGES_PER_MIB,
      60_000,
    );
  });

  it('a guest larger than the host fails, with nothing left behind', { timeout: 300_000 }, async () => {
    const x = xen as XenBackend;
    const host = await x.physinfo();
    const name = `xenclaim-e2e-huge-${type}-${process.pid}`;
    const hugeKiB = host.totalPages * 4 * 2;
    const config = guestConfig(name, GUEST_MIB, type);
    config.b_info.max_memkb = hugeKiB;
    config.b_info.target_memkb = hugeKiB;
    const domainsBefore = (await x.listDomains()).map((d) => d.domid);
    const error = await x.createGuest(config, { claim: true }).then(
      (domid) => {
        guests.push(domid);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(isXenError(error), `createGuest of ${hugeKiB} KiB rejected with ${String(error)}`).toBe(true);
    expect((await x.physinfo()).outstandingPages).toBe(0);
    await waitFor(
      'the failed build to leave no domain',
      async () => (await x.listDomains()).filter((d) => !domainsBefore.includes(d.domid)).map((d) => d.domid),
      (extra) => extra.length === 0,
      30_000,
    );
  });
});
