import { describe, expect, it } from 'vitest';
import { NativeBackend } from '../../src/native/backend.js';
import { loadNativeBinding } from '../../src/native/binding.js';
import { ADDON_PATH, loadAddon } from './helpers.js';

const XC_FUNCTIONS = [
  'physinfo', 'xenVersion', 'listDomains', 'getDomainInfo', 'claimPages', 'setMaxMem', 'createEmptyDomain',
  'populatePhysmap', 'decreaseReservation', 'destroyDomain', 'pauseDomain', 'unpauseDomain', 'tmemControl',
  'takeUnattributedLog',
];
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

  it('was compiled against Xen 4.17 headers: domctl interface 0x15, no tmem', () => {
    const addon = loadAddon();
    expect(addon.domctlInterfaceVersion).toBe(0x15);
    expect(addon.hasTmem).toBe(false);
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
