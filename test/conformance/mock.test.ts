/**
 * The conformance suite against the mock host, once per emulated Xen version (docs/claim-rules.md#rule-2, #rule-8
 * and #rule-12 differ: docs/xen-versions.md), plus what only the mock can show on demand (a leaked claim, a domain
 * held in the dying state, tmem before 4.13).
 */
import { describe, expect, it } from 'vitest';
import type { LibxlDomainConfig } from '../../src/backend.js';
import { VirtualClock } from '../../src/clock.js';
import { MockBackend, type MockXenVersion } from '../../src/mock/backend.js';
import { MOCK_XEN_VERSIONS } from '../../src/mock/spec.js';
import { defineConformanceSuite } from './suite.js';

const MiB = 256;

function pvGuest(name: string, memoryMiB: number): LibxlDomainConfig {
  return {
    c_info: { type: 'pv', name },
    b_info: { max_vcpus: 1, target_memkb: memoryMiB * 1024, max_memkb: memoryMiB * 1024, shadow_memkb: 0 },
  };
}

function openMock(xenVersion: MockXenVersion) {
  return async () => {
    const clock = new VirtualClock();
    const backend = new MockBackend({ host: { memoryMiB: 4096, dom0MiB: 1024, xenVersion }, clock });
    return {
      backend,
      wait: (ms: number) => clock.advance(ms),
      run: <T>(work: Promise<T>) => clock.run(work),
      pinPage: async (domid: number) => {
        const unmap = backend.control.pinPage(domid);
        return async () => unmap();
      },
      close: () => backend.close(),
    };
  };
}

for (const version of MOCK_XEN_VERSIONS) {
  defineConformanceSuite(`mock backend conformance (Xen ${version})`, openMock(version), { guestConfig: pvGuest });
}

describe('version differences the mock holds still (mock-only)', () => {
  async function dyingDomain(xenVersion: MockXenVersion) {
    const backend = new MockBackend({ host: { memoryMiB: 4096, xenVersion, destroyReturnDelayS: 5 }, clock: new VirtualClock() });
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    await backend.setMaxMem(domid, 64 * MiB * 4);
    await backend.populatePhysmap(domid, 8 * MiB);
    await backend.destroyDomain(domid);
    expect((await backend.getDomain(domid)).dying).toBe(true);
    return { backend, domid };
  }

  it('docs/claim-rules.md#rule-2, 4.20 and 4.22: a claim on a dying domain is EINVAL', async () => {
    for (const version of ['4.20', '4.22'] as const) {
      const { backend, domid } = await dyingDomain(version);
      await expect(backend.claimPages(domid, 16 * MiB)).rejects.toMatchObject({ code: 'EINVAL', errno: 22 });
      expect((await backend.physinfo()).outstandingPages).toBe(0);
    }
  });

  it('docs/claim-rules.md#rule-2, 4.17: a claim on a dying domain is accepted, and leaked for good when the domain goes', async () => {
    const { backend, domid } = await dyingDomain('4.17');
    await backend.claimPages(domid, 16 * MiB);
    expect((await backend.getDomain(domid)).outstandingPages).toBe(8 * MiB);
    await backend.control.settle();
    await expect(backend.getDomain(domid)).rejects.toMatchObject({ code: 'ESRCH' });
    // The pages coming back regrew the claim (4.17, docs/claim-rules.md#rule-8) and nothing releases it: Xen leaks it.
    expect((await backend.physinfo()).outstandingPages).toBe(16 * MiB);
    expect(backend.control.accounting().imbalancePages).toBe(0);
  });

  it('a pinned page keeps a destroyed domain dying until it is unmapped; then it goes at once', async () => {
    const backend = new MockBackend({ host: { memoryMiB: 4096 } });
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    await backend.setMaxMem(domid, 4 * MiB * 4);
    await backend.populatePhysmap(domid, 2 * MiB);
    const unmap = backend.control.pinPage(domid);
    expect((await backend.getDomain(domid)).totPages).toBe(2 * MiB + 1);
    const free = (await backend.physinfo()).freePages;
    await backend.destroyDomain(domid);
    await backend.control.settle();
    expect(await backend.getDomain(domid)).toMatchObject({ dying: true, totPages: 1 });
    expect((await backend.physinfo()).freePages).toBe(free + 2 * MiB);
    unmap();
    await expect(backend.getDomain(domid)).rejects.toMatchObject({ code: 'ESRCH' });
    expect((await backend.physinfo()).freePages).toBe(free + 2 * MiB + 1);
    unmap(); // a second unmap does nothing
    expect(() => backend.control.pinPage(domid)).toThrowError(/ESRCH/);
    expect(backend.control.accounting().imbalancePages).toBe(0);
  });

  it('docs/claim-rules.md#rule-9: a dying domain is listed, its pages counted apart, until all are back', async () => {
    const { backend, domid } = await dyingDomain('4.17');
    const clock = backend.clock as VirtualClock;
    expect(backend.control.accounting().pendingReturnPages).toBe(8 * MiB);
    await clock.advance(4900);
    expect((await backend.getDomain(domid)).totPages).toBe(8 * MiB);
    await backend.control.settle();
    expect(backend.control.accounting().pendingReturnPages).toBe(0);
    expect((await backend.listDomains()).map((d) => d.domid)).toEqual([0]);
  });
});

describe('tmem, emulating Xen before 4.13 (mock-only)', () => {
  it('docs/claim-rules.md#rule-6 (4.3–4.12): freeable tmem pages count as available for claims; allocation takes them back', async () => {
    const backend = new MockBackend({ host: { memoryMiB: 2048, dom0MiB: 512, tmem: true } });
    expect(backend.features.tmem).toBe(true);
    const p = await backend.physinfo();
    const put = backend.control.tmemPut(256 * MiB);
    expect(put).toBe(256 * MiB);
    expect(await backend.tmemFreeablePages()).toBe(256 * MiB);
    const after = await backend.physinfo();
    expect(p.freePages - after.freePages).toBe(256 * MiB);
    // A claim of everything that was free before the put succeeds: tmem's pages count as available.
    const domid = await backend.createEmptyDomain({ type: 'pv' });
    await backend.setMaxMem(domid, p.freePages * 4);
    await backend.claimPages(domid, p.freePages);
    await backend.populatePhysmap(domid, p.freePages);
    expect(await backend.tmemFreeablePages()).toBe(0);
    expect(backend.control.accounting().imbalancePages).toBe(0);
  });

  it('freeze stops puts; setCap shrinks the pool; thaw resumes', async () => {
    const backend = new MockBackend({ host: { memoryMiB: 2048, dom0MiB: 512, tmem: true } });
    await backend.tmemFreeze();
    expect(backend.control.tmemPut(MiB)).toBe(0);
    await backend.tmemThaw();
    expect(backend.control.tmemPut(64 * MiB)).toBe(64 * MiB);
    await backend.tmemSetCap(16 * MiB);
    expect(await backend.tmemFreeablePages()).toBe(16 * MiB);
    expect(backend.control.tmemPut(64 * MiB)).toBe(0);
    expect(backend.control.accounting().imbalancePages).toBe(0);
  });

  it('without tmem the calls are ENOSYS naming the 4.13 removal', async () => {
    const backend = new MockBackend();
    await expect(backend.tmemFreeze()).rejects.toMatchObject({ code: 'ENOSYS', errno: 38, message: expect.stringMatching(/removed in Xen 4\.13/) });
  });
});
