/**
 * The mock's memory model is libxl's: libxl_domain_need_memory on xl's JSON of each config in the table that
 * test/xen/need-memory.test.ts checks against real Xen 4.17 (test/helpers/libxl-need-table.ts), the defaults libxl's
 * setdefault derives (paging pool, IOMMU tables, video RAM, stub domain), and a build consistent with them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { LibxlDomainConfig } from '../../src/backend.js';
import { parseGuestConfig, xlHostFromPhysinfo } from '../../src/config/index.js';
import { MockBackend } from '../../src/mock/backend.js';
import { parseGuestConfig as libxlPlan, requiredIommuMemoryKiB, type LibxlHostCaps } from '../../src/mock/config.js';
import { NEED_TABLE, needOrError } from '../helpers/libxl-need-table.js';
import { mockHost } from './helpers.js';

describe("the mock's need is libxl_domain_need_memory's (values measured in dom0)", () => {
  for (const c of NEED_TABLE) {
    it(`${c.name}: ${c.why}`, async () => {
      const backend = new MockBackend();
      const { config } = parseGuestConfig(c.config, `${c.name}.cfg`, { host: xlHostFromPhysinfo(await backend.physinfo()) });
      expect(await needOrError(backend, config)).toBe('needKiB' in c.libxl ? c.libxl.needKiB : c.libxl.error);
    });
  }
});

describe('libxl defaults the mock derives', () => {
  const hvm = (b_info: Record<string, unknown>, c_info: Record<string, unknown> = {}): LibxlDomainConfig =>
    ({ c_info: { type: 'hvm', name: 'g', ...c_info }, b_info: { max_vcpus: 2, max_memkb: 1048576, target_memkb: 1048576, ...b_info } });

  it('the paging pool: 1 MiB per vCPU and 4 KiB per MiB of maxmem with HAP, 8 KiB without', () => {
    expect(libxlPlan('t', hvm({})).shadowKiB).toBe(4 * (2 * 256 + 1024));
    expect(libxlPlan('t', hvm({}, { hap: 'False' })).shadowKiB).toBe(4 * (2 * 256 + 2 * 1024));
    const shadowOnly: LibxlHostCaps = { hap: false, shadow: true, iommu: false, iommuHapPtShare: false, vpmu: false };
    expect(libxlPlan('t', hvm({}), undefined, shadowOnly).shadowKiB).toBe(4 * (2 * 256 + 2 * 1024));
    expect(libxlPlan('t', hvm({ shadow_memkb: 8192 })).shadowKiB).toBe(8192);
    const neither: LibxlHostCaps = { hap: false, shadow: false, iommu: false, iommuHapPtShare: false, vpmu: false };
    expect(() => libxlPlan('t', hvm({}), undefined, neither)).toThrow(/neither hap nor shadow paging available/);
  });

  it('IOMMU page tables for sync_pt passthrough on a host with an IOMMU; none when the tables are shared', () => {
    const iommu: LibxlHostCaps = { hap: true, shadow: false, iommu: true, iommuHapPtShare: false, vpmu: false };
    const withPci = { ...hvm({}), pcidevs: [{ bus: 1, vfunc_mask: 1 }] };
    // 1 GiB: 262144 pages → 512 + 1 + 1 + 1 table pages of 4 KiB.
    expect(requiredIommuMemoryKiB(1048576n)).toBe(4n * (512n + 1n + 1n + 1n));
    expect(libxlPlan('t', withPci, undefined, iommu).iommuKiB).toBe(4 * 515);
    expect(libxlPlan('t', withPci, undefined, { ...iommu, iommuHapPtShare: true }).iommuKiB).toBe(0);
    expect(() => libxlPlan('t', withPci)).toThrow(/passthrough not supported on this platform/);
    // PoD (target below maxmem) cannot be combined with an IOMMU.
    expect(() => libxlPlan('t', { ...withPci, b_info: { ...withPci.b_info, target_memkb: 524288 } }, undefined, iommu)).toThrow(/not supported together with PoD/);
  });

  it('video RAM per vga kind and device model; the stub domain and its memory from the real JSON fields', () => {
    const plan = (b: Record<string, unknown>) => libxlPlan('t', hvm(b));
    expect(plan({}).videoKiB).toBe(8 * 1024);
    expect(plan({ 'type.hvm': { vga: { kind: 'std' } } }).videoKiB).toBe(16 * 1024);
    expect(plan({ 'type.hvm': { vga: { kind: 'qxl' } } }).videoKiB).toBe(128 * 1024);
    expect(plan({ 'type.hvm': { vga: { kind: 'none' } } }).videoKiB).toBe(0);
    expect(plan({ device_model_version: 'qemu_xen_traditional' }).videoKiB).toBe(4 * 1024);
    const stub = plan({ device_model_stubdomain: 'True' });
    expect([stub.stubdom, stub.deviceModelVersion, stub.stubdomKiB, stub.videoKiB]).toEqual([true, 'qemu_xen_traditional', 28 * 1024, 4 * 1024]);
    expect(plan({ device_model_stubdomain: 'True', device_model_version: 'qemu_xen' }).stubdomKiB).toBe(128 * 1024);
    expect(plan({ device_model_stubdomain: true, stubdomain_memkb: 65536 }).stubdomKiB).toBe(65536);
    // The xl key name is not a libxl field: it changes nothing.
    expect(plan({ device_model_stubdomain_override: true }).stubdom).toBe(false);
    expect(() => plan({ 'type.hvm': { vga: { kind: 'std' } }, video_memkb: 8192 })).toThrow(/at least 16 MB for STDVGA/);
  });
});

describe('the large-hvm-overhead field case', () => {
  const file = fileURLToPath(new URL('../config/fixtures/large-hvm-overhead.cfg', import.meta.url));

  it('libxl needs 15256 MiB for it; the default mock host has 15224 MiB free with dom0 at its floor', async () => {
    const backend = new MockBackend();
    const { config } = parseGuestConfig(readFileSync(file, 'utf8'), file, { host: xlHostFromPhysinfo(await backend.physinfo()) });
    expect(await backend.needMemoryKiB(config)).toBe(15256 * 1024);
    expect(await backend.freeMemoryKiB()).toBe(15224 * 1024);
  });
});

describe("the mock's build follows libxl's", () => {
  it('an HVM guest: paging pool of shadow_memkb pages; qemu populates the video RAM after the claimed build', async () => {
    const { backend, clock, control } = mockHost();
    const config: LibxlDomainConfig = { c_info: { type: 'hvm', name: 'h' }, b_info: { max_vcpus: 2, max_memkb: 1048576, target_memkb: 1048576 } };
    const domid = await clock.run(backend.createGuest(config));
    expect(control.accounting().pagingPoolPages).toBe((4 * (2 * 256 + 1024)) / 4);
    expect((await backend.getDomain(domid)).totPages).toBe(1048576 / 4 - 32);
    expect((await backend.listDomains()).map((d) => d.name)).toEqual(['Domain-0', 'h']);
  });

  it('a PV guest gets no paging pool (libxl counts the reservation in its need only)', async () => {
    const { backend, clock, control } = mockHost();
    const domid = await clock.run(backend.createGuest({ c_info: { type: 'pv', name: 'p' }, b_info: { max_vcpus: 1, max_memkb: 524288, target_memkb: 524288 } }));
    expect(control.accounting().pagingPoolPages).toBe(0);
    expect((await backend.getDomain(domid)).totPages).toBe(524288 / 4);
  });

  it('an HVM guest with a stub domain: the stub domain (NAME-dm) holds its memory and the video RAM, and goes with the guest', async () => {
    const { backend, clock, control } = mockHost();
    const config: LibxlDomainConfig = { c_info: { type: 'hvm', name: 's' }, b_info: { max_vcpus: 1, max_memkb: 1048576, target_memkb: 1048576, device_model_stubdomain: 'True' } };
    const free = (await backend.physinfo()).freePages;
    const domid = await clock.run(backend.createGuest(config));
    const domains = await backend.listDomains();
    const stub = domains.find((d) => d.name === 's-dm')!;
    expect(stub.totPages).toBe((28 * 1024 + 4 * 1024) / 4);
    expect((await backend.getDomain(domid)).totPages).toBe((1048576 - 4 * 1024) / 4 - 32);
    const used = free - (await backend.physinfo()).freePages;
    // What the host gave: the guest's pages, the stub domain's, and the paging pool; libxl's need covers it all.
    expect(used).toBe((1048576 - 4 * 1024) / 4 - 32 + (32 * 1024) / 4 + (4 * (256 + 1024)) / 4);
    expect(used * 4).toBeLessThanOrEqual(await backend.needMemoryKiB(config));
    await backend.destroyGuest(domid);
    await control.settle();
    expect((await backend.listDomains()).map((d) => d.name)).toEqual(['Domain-0']);
  });
});
