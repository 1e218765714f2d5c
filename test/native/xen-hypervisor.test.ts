/**
 * Real Xen 4.17 or 4.20 (the nested-Xen harness, Debian 12 or 13): the libxenctrl layer against the hypervisor's own
 * rules (docs/claim-rules.md, docs/xen-versions.md; Xen's tools/tests/mem-claim/test-mem-claim.c). Run serially (the harness passes
 * --no-file-parallelism): claims are host-wide, so the host-total checks assume no other test claims meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { XenError } from '../../src/errors.js';
import { NativeBackend, openNativeBackend } from '../../src/native/backend.js';
import { expectedClaimRules } from '../conformance/version-rules.js';
import { NO_XEN_REASON, hasXen, rejection } from './helpers.js';

const MIB_PAGES = 256;

describe.skipIf(!hasXen)(hasXen ? 'libxenctrl on real Xen' : `libxenctrl on real Xen (${NO_XEN_REASON})`, () => {
  const created: number[] = [];
  let backend: XenBackend;

  async function emptyDomain(type: 'pv' | 'pvh' = 'pv'): Promise<number> {
    backend ??= await openNativeBackend({});
    const domid = await backend.createEmptyDomain({ type });
    created.push(domid);
    return domid;
  }

  afterEach(async () => {
    for (const domid of created.splice(0)) await backend.destroyDomain(domid).catch(() => undefined);
  });

  it("opens, reports Debian's Xen 4.17 or 4.20 — the Xen the addon was built against — and a host with dom0", async () => {
    backend = await openNativeBackend({});
    expect(backend.kind).toBe('native');
    expect(backend.features).toMatchObject({ claims: true, tmem: false });
    const version = await backend.xenVersion();
    expect(version.major).toBe(4);
    expect([17, 20]).toContain(version.minor);
    // The tools must match the hypervisor's minor (its domctl/sysctl interface versions differ between minors).
    const target = (backend as NativeBackend).buildTarget!;
    expect(target.xenctrlVersion.split('.').slice(0, 2).map(Number)).toEqual([version.major, version.minor]);
    expect(target.domainInfoCall).toBe(version.minor >= 18 ? 'xc_domain_getinfo_single' : 'xc_domain_getinfolist');
    // In dom0 there are no headers to compare with (addon-load.test.ts skips that there): the interface versions of
    // Debian's two Xen minors instead (docs/xen-versions.md).
    expect(target.domctlInterfaceVersion).toBe(version.minor === 17 ? 0x15 : 0x17);
    expect(target.sysctlInterfaceVersion).toBe(0x15);
    const physinfo = await backend.physinfo();
    expect(physinfo.totalPages).toBeGreaterThan(0);
    expect(physinfo.freePages).toBeLessThanOrEqual(physinfo.totalPages);
    expect(physinfo.scrubPages).toBe(0);
    expect(physinfo.nrCpus).toBeGreaterThan(0);
    const dom0 = await backend.getDomain(0);
    expect(dom0.totPages).toBeGreaterThan(0);
    expect((await backend.listDomains()).map((d) => d.domid)).toContain(0);
  });

  it('getDomain of an unknown domid is ESRCH; a claim on it is EINVAL (Xen says EINVAL, not ESRCH)', async () => {
    backend ??= await openNativeBackend({});
    expect((await rejection(() => backend.getDomain(0x7fef))).code).toBe('ESRCH');
    expect((await rejection(() => backend.claimPages(0x7fef, 1))).code).toBe('EINVAL');
  });

  it.each(['pv', 'pvh'] as const)('creates an empty paused %s domain with no memory, and destroys it', async (type) => {
    const domid = await emptyDomain(type);
    const info = await backend.getDomain(domid);
    expect(info).toMatchObject({ domid, paused: true, totPages: 0, outstandingPages: 0, hvm: type === 'pvh', dying: false });
    await backend.destroyDomain(domid);
    created.splice(created.indexOf(domid), 1);
    const after = await backend.getDomain(domid).catch((error: XenError) => error);
    // Gone, or still dying while Xen returns its pages.
    if (after instanceof XenError) expect(after.code).toBe('ESRCH');
    else expect(after.dying).toBe(true);
  });

  it('claim 4 MiB, populate 2 MiB → 2 MiB outstanding; a free grows the claim again on 4.17, not on 4.20.4; destroy → 0', async () => {
    const rules = expectedClaimRules(await backend.xenVersion());
    const before = (await backend.physinfo()).outstandingPages;
    const domid = await emptyDomain('pv');
    await backend.setMaxMem(domid, 8 * 1024);
    await backend.claimPages(domid, 4 * MIB_PAGES);
    expect((await backend.getDomain(domid)).outstandingPages).toBe(4 * MIB_PAGES);
    expect((await backend.physinfo()).outstandingPages).toBe(before + 4 * MIB_PAGES);

    // One claim per domain (docs/claim-rules.md#rule-4).
    expect((await rejection(() => backend.claimPages(domid, 3 * MIB_PAGES))).code).toBe('EINVAL');

    await backend.populatePhysmap(domid, 2 * MIB_PAGES);
    let info = await backend.getDomain(domid);
    expect(info.totPages).toBe(2 * MIB_PAGES);
    expect(info.outstandingPages).toBe(2 * MIB_PAGES);

    await backend.decreaseReservation(domid, MIB_PAGES);
    info = await backend.getDomain(domid);
    expect(info.totPages).toBe(MIB_PAGES);
    // docs/claim-rules.md#rule-8: before the claim counters moved into the allocator (4.20.3, 4.21), a free grows a live claim.
    expect(info.outstandingPages).toBe(rules.regrowsOnFree ? 3 * MIB_PAGES : 2 * MIB_PAGES);

    await backend.destroyDomain(domid);
    created.splice(created.indexOf(domid), 1);
    expect((await backend.physinfo()).outstandingPages).toBe(before);
  });

  it('claim 0 cancels; a claim is an absolute total above tot_pages and within max_pages', async () => {
    const domid = await emptyDomain('pv');
    await backend.setMaxMem(domid, 4 * 1024);
    await backend.populatePhysmap(domid, MIB_PAGES);
    expect((await rejection(() => backend.claimPages(domid, MIB_PAGES))).code).toBe('EINVAL'); // pages <= tot_pages
    expect((await rejection(() => backend.claimPages(domid, 5 * MIB_PAGES))).code).toBe('EINVAL'); // > max_pages
    await backend.claimPages(domid, 3 * MIB_PAGES);
    expect((await backend.getDomain(domid)).outstandingPages).toBe(2 * MIB_PAGES);
    await backend.claimPages(domid, 0);
    expect((await backend.getDomain(domid)).outstandingPages).toBe(0);
  });

  it('populating past max_pages stops there: E2BIG, and the pages Xen did give stay accounted', async () => {
    const domid = await emptyDomain('pv');
    await backend.setMaxMem(domid, 1024); // 256 pages
    const error = await rejection(() => backend.populatePhysmap(domid, 300));
    expect(error.code).toBe('E2BIG');
    expect(error.message).toContain('Xen populated 256 of 300 pages');
    expect((await backend.getDomain(domid)).totPages).toBe(256);
    await backend.decreaseReservation(domid, 256);
    expect((await backend.getDomain(domid)).totPages).toBe(0);
  });

  it('decreaseReservation hands back only what was populated through xenclaim', async () => {
    const domid = await emptyDomain('pvh');
    await backend.setMaxMem(domid, 2048);
    await backend.populatePhysmap(domid, 100);
    const error = await rejection(() => backend.decreaseReservation(domid, 101));
    expect(error.code).toBe('EINVAL');
    expect((await backend.getDomain(domid)).totPages).toBe(100);
    await backend.decreaseReservation(domid, 100);
    expect((await backend.getDomain(domid)).totPages).toBe(0);
  });

  it('the allocation gate: claimed memory cannot be populated by another domain (ENOMEM)', async () => {
    const physinfo = await backend.physinfo();
    const headroom = physinfo.freePages - physinfo.outstandingPages;
    const claimer = await emptyDomain('pv');
    const other = await emptyDomain('pv');
    const claim = headroom - 16 * MIB_PAGES; // leave 16 MiB unclaimed
    await backend.setMaxMem(claimer, claim * 4);
    await backend.setMaxMem(other, 64 * 1024);
    await backend.claimPages(claimer, claim);
    const error = await rejection(() => backend.populatePhysmap(other, 32 * MIB_PAGES));
    expect(error.code).toBe('ENOMEM');
    await backend.claimPages(claimer, 0);
  });

  it('pause and unpause change the paused flag', async () => {
    const domid = await emptyDomain('pv');
    await backend.unpauseDomain(domid);
    // An empty PV domain with no vCPU context set up does not run; unpause still clears the controller pause.
    expect((await backend.getDomain(domid)).paused).toBe(false);
    await backend.pauseDomain(domid);
    expect((await backend.getDomain(domid)).paused).toBe(true);
  });
});
