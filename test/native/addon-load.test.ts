import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NativeBackend } from '../../src/native/backend.js';
import { loadNativeBinding } from '../../src/native/binding.js';
import { ADDON_PATH, loadAddon } from './helpers.js';

const XC_FUNCTIONS = [
  'physinfo', 'xenVersion', 'listDomains', 'getDomainInfo', 'claimPages', 'setMaxMem', 'createEmptyDomain',
  'populatePhysmap', 'decreaseReservation', 'destroyDomain', 'pauseDomain', 'unpauseDomain', 'tmemControl',
  'takeUnattributedLog',
];

/** pkg-config's answer for the installed Xen development files, or undefined where there are none (e.g. in dom0). */
function pkgConfig(...args: string[]): string | undefined {
  const run = spawnSync('pkg-config', args, { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}
const xenIncludeDir = pkgConfig('--variable=includedir', 'xencontrol');

/** `#define NAME 0x…` from an installed Xen header. */
function headerDefine(file: string, name: string): number {
  const match = new RegExp(`#define ${name}\\s+(0x[0-9a-fA-F]+)`).exec(readFileSync(join(xenIncludeDir!, file), 'utf8'));
  if (!match) throw new Error(`${file} defines no ${name}`);
  return Number(match[1]);
}
const LIBXL_FUNCTIONS = ['createGuest', 'destroyGuest', 'setMemoryTarget', 'needMemoryKiB', 'freeMemoryKiB', 'domainNamesAndTargets'];

describe('the native addon', () => {
  it('is built and exports the libxenctrl functions', () => {
    const addon = loadAddon();
    for (const name of XC_FUNCTIONS) expect(typeof (addon as unknown as Record<string, unknown>)[name], name).toBe('function');
  });

  it('exports the libxenlight functions', () => {
    const addon = loadAddon();
    for (const name of LIBXL_FUNCTIONS) expect(typeof (addon as unknown as Record<string, unknown>)[name], name).toBe('function');
  });

  it.skipIf(xenIncludeDir === undefined)(
    xenIncludeDir === undefined
      ? 'was compiled against the installed Xen headers (skipped: pkg-config finds no xencontrol here, so no headers to compare with)'
      : 'was compiled against the installed Xen headers: their library and interface versions, what they declare',
    () => {
      const addon = loadAddon();
      const target = addon.buildTarget!;
      expect(target.xenctrlVersion).toBe(pkgConfig('--modversion', 'xencontrol'));
      expect(target.xenlightVersion).toBe(pkgConfig('--modversion', 'xenlight'));
      const domctl = headerDefine('xen/domctl.h', 'XEN_DOMCTL_INTERFACE_VERSION');
      expect(target.domctlInterfaceVersion).toBe(domctl);
      expect(addon.domctlInterfaceVersion).toBe(domctl);
      expect(target.sysctlInterfaceVersion).toBe(headerDefine('xen/sysctl.h', 'XEN_SYSCTL_INTERFACE_VERSION'));
      expect(target.libxlApiVersion).toBe(0x041400);
      // The detection by interface version agrees with what the header really declares.
      const declaresGetinfoSingle = readFileSync(join(xenIncludeDir!, 'xenctrl.h'), 'utf8').includes('int xc_domain_getinfo_single(');
      expect(target.domainInfoCall).toBe(declaresGetinfoSingle ? 'xc_domain_getinfo_single' : 'xc_domain_getinfolist');
      expect(addon.hasTmem).toBe(false);
    },
  );

  it('reports its build target as frozen constants, the same through NativeBackend', () => {
    const addon = loadAddon();
    expect(Object.isFrozen(addon.buildTarget)).toBe(true);
    expect(Object.keys(addon.buildTarget!).sort()).toEqual(
      ['domainInfoCall', 'domctlInterfaceVersion', 'libxlApiVersion', 'sysctlInterfaceVersion', 'xenctrlVersion', 'xenlightVersion'],
    );
    expect(addon.buildTarget!.xenctrlVersion).toMatch(/^4\.\d+\.\d+$/);
    expect(new NativeBackend(addon).buildTarget).toBe(addon.buildTarget);
  });

  it('is what loadNativeBinding finds by default, by path, and accepts already loaded', () => {
    const byDefault = loadNativeBinding();
    const byPath = loadNativeBinding(ADDON_PATH);
    expect(byPath).toBe(byDefault); // one module instance per process
    expect(loadNativeBinding(byDefault)).toBe(byDefault);
  });

  it('reports features from the addon: claims, no tmem, libxl', () => {
    const backend = new NativeBackend(loadAddon());
    expect(backend.kind).toBe('native');
    expect(backend.features).toEqual({ claims: true, tmem: false, libxl: true });
  });

  it('an addon without libxl support reports features.libxl false and refuses libxl calls with ENOSYS', async () => {
    const addon = loadAddon();
    const xcOnly = Object.fromEntries(Object.entries(addon).filter(([name]) => !LIBXL_FUNCTIONS.includes(name)));
    const backend = new NativeBackend(Object.assign(xcOnly, { hasTmem: addon.hasTmem }) as never);
    expect(backend.features.libxl).toBe(false);
    await expect(backend.freeMemoryKiB()).rejects.toMatchObject({ code: 'ENOSYS', op: 'freeMemoryKiB' });
  });

  it('features.claims follows the Xen version (claims arrived in 4.3)', () => {
    expect(new NativeBackend(loadAddon(), { major: 4, minor: 2, extra: '' }).features.claims).toBe(false);
    expect(new NativeBackend(loadAddon(), { major: 4, minor: 17, extra: '.5' }).features.claims).toBe(true);
  });

  it('refuses something that is not the addon', () => {
    expect(() => loadNativeBinding({} as never)).toThrowError(/is not the xenclaim native addon/);
  });
});
