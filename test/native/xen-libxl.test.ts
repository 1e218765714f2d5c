/**
 * Real Xen 4.17 or 4.20 (the nested-Xen harness): the libxl layer. Guests boot the harness's small PV kernel
 * (XENCLAIM_GUEST_KERNEL / XENCLAIM_GUEST_RAMDISK); tests that need it say so when it is missing.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { LibxlDomainConfig, XenBackend } from '../../src/backend.js';
import { XenError } from '../../src/errors.js';
import { openNativeBackend } from '../../src/native/backend.js';
import { NO_XEN_REASON, hasXen, rejection } from './helpers.js';

const KERNEL = process.env.XENCLAIM_GUEST_KERNEL;
const RAMDISK = process.env.XENCLAIM_GUEST_RAMDISK;
const NO_KERNEL_REASON = 'skipped: XENCLAIM_GUEST_KERNEL is not set (the nested-Xen harness sets it)';
const GUEST_KIB = 128 * 1024; // the Debian kernel needs about 96 MiB or more as a PV guest

let serial = 0;
function pvConfig(memKiB = GUEST_KIB, kernel = KERNEL ?? '/nonexistent/vmlinuz'): LibxlDomainConfig {
  serial += 1;
  return {
    c_info: { type: 'pv', name: `xenclaim-native-${process.pid}-${serial}` },
    b_info: {
      max_vcpus: 1,
      max_memkb: memKiB,
      target_memkb: memKiB,
      kernel,
      ...(RAMDISK !== undefined && kernel === KERNEL ? { ramdisk: RAMDISK } : {}),
      cmdline: 'console=hvc0',
      'type.pv': {},
    },
    on_poweroff: 'destroy',
    on_reboot: 'destroy',
    on_crash: 'destroy',
  };
}

async function gone(backend: XenBackend, domid: number): Promise<boolean> {
  try {
    return (await backend.getDomain(domid)).dying;
  } catch (error) {
    return (error as XenError).code === 'ESRCH';
  }
}

describe.skipIf(!hasXen)(hasXen ? 'libxl on real Xen' : `libxl on real Xen (${NO_XEN_REASON})`, () => {
  let backend: XenBackend;
  const created: number[] = [];
  const open = async (): Promise<XenBackend> => (backend ??= await openNativeBackend({}));

  afterEach(async () => {
    for (const domid of created.splice(0)) await backend.destroyGuest(domid).catch(() => undefined);
  });

  it('features.libxl; freeMemoryKiB is physinfo free pages in KiB, claims NOT subtracted', async () => {
    await open();
    expect(backend.features.libxl).toBe(true);
    const freeKiB = await backend.freeMemoryKiB();
    const physinfo = await backend.physinfo();
    expect(Math.abs(freeKiB - (physinfo.freePages + physinfo.scrubPages) * 4)).toBeLessThanOrEqual(4096);
  });

  it('needMemoryKiB: the target plus the PV overhead, rounded up to 2 MiB', async () => {
    await open();
    const need = await backend.needMemoryKiB(pvConfig());
    expect(need).toBeGreaterThanOrEqual(GUEST_KIB + 1024);
    expect(need % 2048).toBe(0);
  });

  it('a create that fails leaves no domain behind and reports the libxl code with its log lines', async () => {
    await open();
    const config = pvConfig(GUEST_KIB, '/nonexistent/vmlinuz');
    const error = await rejection(() => backend.createGuest(config));
    expect(error.op).toBe('createGuest');
    expect(error.code).toMatch(/^ERROR_/);
    expect(error.xenLog.length).toBeGreaterThan(0);
    const names = (await backend.listDomains()).filter((d) => !d.dying).map((d) => d.name);
    expect(names).not.toContain(config.c_info.name);
  });

  it('a guest bigger than free memory is refused (the claim fails fast) and leaves nothing behind', async () => {
    await open();
    const before = await backend.physinfo();
    const config = pvConfig((before.freePages + 256 * 1024) * 4); // free memory + 1 GiB
    const error = await rejection(() => backend.createGuest(config, { claim: true }));
    expect(error.code).toMatch(/^ERROR_/);
    // libxl returns only ERROR_*; the errno is the one libxl/libxc logged with the first error line (the claim's).
    expect(error.errno, `${error.message}\n${error.xenLog.join('\n')}`).toBe(12);
    const names = (await backend.listDomains()).filter((d) => !d.dying).map((d) => d.name);
    expect(names).not.toContain(config.c_info.name);
    expect((await backend.physinfo()).outstandingPages).toBe(before.outstandingPages);
  });

  describe.skipIf(KERNEL === undefined)(KERNEL !== undefined ? 'with a guest kernel' : `with a guest kernel (${NO_KERNEL_REASON})`, () => {
    it('creates a running PV guest with claim_mode, names it, sets its target within static-max, destroys it', async () => {
      await open();
      const config = pvConfig();
      const domid = await backend.createGuest(config);
      created.push(domid);
      const info = await backend.getDomain(domid);
      expect(info).toMatchObject({ domid, paused: false, dying: false, name: config.c_info.name });
      expect(info.totPages * 4).toBeGreaterThanOrEqual(GUEST_KIB - 8 * 1024);
      expect(info.outstandingPages).toBe(0); // the builder dropped its claim when done
      expect(info.targetKiB).toBe(GUEST_KIB);

      // Above static-max libxl refuses (ERROR_INVAL) and says why in its log.
      const refused = await rejection(() => backend.setMemoryTarget(domid, GUEST_KIB + 16 * 1024));
      expect(refused.code).toBe('ERROR_INVAL');
      expect(refused.xenLog.some((line) => line.includes('memory_dynamic_max must be less than or equal to'))).toBe(true);
      // The same target again, enforced: max_pages becomes target + libxl's extra (no ballooning of a guest that
      // may not have booted yet: that can deadlock it, see docs/claim-rules.md#lesson-9).
      await backend.setMemoryTarget(domid, GUEST_KIB, { enforce: true });
      const enforced = await backend.getDomain(domid);
      expect(enforced.targetKiB).toBe(GUEST_KIB);
      expect(enforced.maxPages * 4).toBeGreaterThanOrEqual(GUEST_KIB);
      await backend.setMemoryTarget(domid, 0, { relative: true, enforce: false });
      expect((await backend.getDomain(domid)).targetKiB).toBe(GUEST_KIB);

      await backend.destroyGuest(domid);
      created.splice(created.indexOf(domid), 1);
      expect(await gone(backend, domid)).toBe(true);
    });

    it('paused: true leaves the guest paused; claim: false builds without a claim', async () => {
      await open();
      const domid = await backend.createGuest(pvConfig(), { paused: true, claim: false });
      created.push(domid);
      expect((await backend.getDomain(domid)).paused).toBe(true);
    });

    it('three concurrent creates (libxl ctx shared by worker threads) give three distinct live guests', async () => {
      await open();
      const configs = [pvConfig(), pvConfig(), pvConfig()];
      const settled = await Promise.allSettled(configs.map((config) => backend.createGuest(config)));
      for (const result of settled) if (result.status === 'fulfilled') created.push(result.value);
      expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      const domids = settled.map((r) => (r as PromiseFulfilledResult<number>).value);
      expect(new Set(domids).size).toBe(3);
      const live = await backend.listDomains();
      for (const [i, domid] of domids.entries()) {
        expect(live.find((d) => d.domid === domid)?.name).toBe(configs[i]!.c_info.name);
      }
      await Promise.all(domids.map((domid) => backend.destroyGuest(domid)));
      created.splice(0);
      for (const domid of domids) expect(await gone(backend, domid)).toBe(true);
    });

    it("Node's child processes still report their exits once libxl owns its SIGCHLD handler", async () => {
      await open();
      await backend.freeMemoryKiB(); // the libxl ctx (and its SIGCHLD handler) exist from here on
      const codes = await Promise.all([3, 4, 5].map((code) => new Promise<number | null>((resolve) => {
        spawn('sh', ['-c', `exit ${code}`]).on('exit', resolve);
      })));
      expect(codes).toEqual([3, 4, 5]);
    });
  });
});
