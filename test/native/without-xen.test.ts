/**
 * On a machine without Xen (CI, laptops) the addon still loads; its first real call fails the way libxenctrl
 * really fails here — xc_interface_open: ENOENT — with the library's own log lines captured into the error, and
 * openBackend explains in operator words why Xen is unreachable.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { XenError } from '../../src/errors.js';
import { openBackend } from '../../src/index.js';
import { NativeBackend, openNativeBackend } from '../../src/native/backend.js';
import { BUILD_HINT, type NativeBinding } from '../../src/native/binding.js';
import { hasXen, loadAddon, rejection } from './helpers.js';

const XENCALL_LINE = /Could not obtain handle on privileged command interface: No such file or directory/;

describe.skipIf(hasXen)(hasXen ? 'without Xen (skipped: this machine has /dev/xen/privcmd)' : 'without Xen', () => {
  it('the first real call fails with xc_interface_open ENOENT, op set, and the captured library lines', async () => {
    const backend = new NativeBackend(loadAddon());
    const error = await rejection(() => backend.physinfo());
    expect(error.code).toBe('ENOENT');
    expect(error.errno).toBe(2);
    expect(error.op).toBe('physinfo');
    expect(error.message).toMatch(/^physinfo: ENOENT \(xc_interface_open: No such file or directory/);
    expect(error.xenLog.some((line) => XENCALL_LINE.test(line))).toBe(true);
  });

  it('every libxenctrl operation fails the same way, each with its own op and its own log lines', async () => {
    const backend = new NativeBackend(loadAddon());
    const ops: Array<[string, () => Promise<unknown>]> = [
      ['xenVersion', () => backend.xenVersion()],
      ['listDomains', () => backend.listDomains()],
      ['getDomain', () => backend.getDomain(0)],
      ['claimPages', () => backend.claimPages(1, 0)],
      ['setMaxMem', () => backend.setMaxMem(1, 1024)],
      ['createEmptyDomain', () => backend.createEmptyDomain({ type: 'pvh' })],
      ['populatePhysmap', () => backend.populatePhysmap(1, 1)],
      ['decreaseReservation', () => backend.decreaseReservation(1, 1)],
      ['destroyDomain', () => backend.destroyDomain(1)],
      ['pauseDomain', () => backend.pauseDomain(1)],
      ['unpauseDomain', () => backend.unpauseDomain(1)],
    ];
    for (const [op, run] of ops) {
      const error = await rejection(run);
      expect(error.code, op).toBe('ENOENT');
      expect(error.op, op).toBe(op);
      expect(error.xenLog.filter((line) => XENCALL_LINE.test(line)), op).toHaveLength(1);
    }
  });

  it('concurrent calls each get their own capture (no lines leak between operations or go unattributed)', async () => {
    const addon = loadAddon();
    addon.takeUnattributedLog();
    const backend = new NativeBackend(addon);
    const errors = await Promise.all(Array.from({ length: 16 }, () => rejection(() => backend.listDomains())));
    for (const error of errors) expect(error.xenLog.filter((line) => XENCALL_LINE.test(line))).toHaveLength(1);
    expect(addon.takeUnattributedLog()).toEqual([]);
  });

  it('libxl operations fail with libxl_ctx_alloc ERROR_FAIL and the lines libxl and libxenctrl logged', async () => {
    const backend = new NativeBackend(loadAddon());
    const config = { c_info: { type: 'pv' as const, name: 'g' }, b_info: { max_memkb: 131072, target_memkb: 131072, 'type.pv': {} } };
    const ops: Array<[string, () => Promise<unknown>]> = [
      ['createGuest', () => backend.createGuest(config)],
      ['needMemoryKiB', () => backend.needMemoryKiB(config)],
      ['freeMemoryKiB', () => backend.freeMemoryKiB()],
    ];
    for (const [op, run] of ops) {
      const error = await rejection(run);
      expect(error.code, op).toBe('ERROR_FAIL');
      expect(error.errno, op).toBe(2); // the errno of the first error line libxc logged under libxl_ctx_alloc
      expect(error.op, op).toBe(op);
      expect(error.message, op).toContain('libxl_ctx_alloc');
      expect(error.xenLog.some((line) => /libxl_ctx_alloc: cannot open libxc handle/.test(line)), op).toBe(true);
      expect(error.xenLog.some((line) => XENCALL_LINE.test(line)), op).toBe(true);
    }
  });

  it('destroyGuest and setMemoryTarget ask Xen whether the domain exists first: ENOENT here', async () => {
    const backend = new NativeBackend(loadAddon());
    for (const [op, run] of [
      ['destroyGuest', () => backend.destroyGuest(1)],
      ['setMemoryTarget', () => backend.setMemoryTarget(1, 131072)],
    ] as const) {
      const error = await rejection(run);
      expect(error.code, op).toBe('ENOENT');
      expect(error.op, op).toBe(op);
      expect(error.xenLog.some((line) => XENCALL_LINE.test(line)), op).toBe(true);
    }
  });

  it('listDomains and getDomain do not depend on libxl: their error is the hypervisor\'s', async () => {
    const backend = new NativeBackend(loadAddon());
    expect((await rejection(() => backend.getDomain(0))).code).toBe('ENOENT');
  });

  it('tmem calls fail with ENOSYS saying tmem was removed in Xen 4.13', async () => {
    const backend = new NativeBackend(loadAddon());
    for (const [op, run] of [
      ['tmemFreeze', () => backend.tmemFreeze()],
      ['tmemThaw', () => backend.tmemThaw()],
      ['tmemSetCap', () => backend.tmemSetCap(1024)],
      ['tmemFreeablePages', () => backend.tmemFreeablePages()],
    ] as const) {
      const error = await rejection(run);
      expect(error.code, op).toBe('ENOSYS');
      expect(error.errno, op).toBe(38);
      expect(error.op, op).toBe(op);
      expect(error.message, op).toContain('tmem was removed in Xen 4.13');
    }
  });

  it("openBackend({ kind: 'native' }) says this is not a Xen dom0", async () => {
    const error = await rejection(() => openBackend({ kind: 'native' }));
    expect(error.code).toBe('ENOENT');
    expect(error.op).toBe('openBackend');
    expect(error.message).toContain('not a Xen dom0 (no /dev/xen/privcmd)');
  });

  it('a privcmd node that exists but cannot be used is still reported as not a dom0, with the library lines', async () => {
    const fake = join(mkdtempSync(join(tmpdir(), 'xenclaim-')), 'privcmd');
    writeFileSync(fake, '');
    const error = await rejection(() => openNativeBackend({ privcmdPath: fake }));
    expect(error.code).toBe('ENOENT');
    expect(error.message).toContain(`not a Xen dom0 (${fake} exists but the Xen control interface cannot be opened: ENOENT)`);
    expect(error.xenLog.some((line) => XENCALL_LINE.test(line))).toBe(true);
  });
});

describe('openNativeBackend operator messages', () => {
  const existing = (() => {
    const path = join(mkdtempSync(join(tmpdir(), 'xenclaim-')), 'privcmd');
    writeFileSync(path, '');
    return path;
  })();

  it('EACCES from the control interface: must run as root', async () => {
    const addon = loadAddon();
    const denied = Object.assign(Object.create(addon) as NativeBinding, {
      xenVersion: () => Promise.reject(Object.assign(new Error('xc_interface_open: Permission denied'), {
        code: 'EACCES', errno: 13, xenCall: 'xc_interface_open', xenLog: ['xencall: error: Could not obtain handle on privileged command interface: Permission denied'],
      })),
    });
    const error = await rejection(() => openNativeBackend({ nativeBinding: denied, privcmdPath: existing }));
    expect(error.code).toBe('EACCES');
    expect(error.errno).toBe(13);
    expect(error.message).toContain('must run as root');
    expect(error.xenLog).toHaveLength(1);
  });

  it('addon not built: says exactly how to build it', async () => {
    const error = await rejection(() => openNativeBackend({ nativeBinding: '/nonexistent/xenclaim.node', privcmdPath: existing }));
    expect(error.code).toBe('ENOENT');
    expect(error.op).toBe('openBackend');
    expect(error.message).toContain(BUILD_HINT);
    expect(BUILD_HINT).toBe('apt-get install -y pkg-config libxen-dev && npm run build:native');
  });

  it("a .node file that does not load: says loading failed (with the loader's reason) and how to build", async () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'xenclaim-')), 'xenclaim.node');
    writeFileSync(broken, 'not an ELF file');
    const error = await rejection(() => openNativeBackend({ nativeBinding: broken, privcmdPath: existing }));
    expect(error.code).toBe('ENOENT');
    expect(error.message).toContain(`loading ${broken} failed`);
    expect(error.message).toContain('file too short'); // the dynamic loader's own reason
    expect(error.message).toContain(BUILD_HINT);
  });

  it('a module that is not the addon is refused as such', async () => {
    const error = await rejection(() => openNativeBackend({ nativeBinding: existing, privcmdPath: existing }));
    expect(error.code).toBe('EINVAL');
    expect(error.message).toContain('is not the xenclaim native addon');
  });
});
