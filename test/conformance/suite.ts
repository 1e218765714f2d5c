/**
 * The XenBackend conformance suite: written once against the contract, run against the mock host (mock.test.ts,
 * once per emulated Xen version) and against real Xen (native.test.ts, in a dom0 only).
 *
 * Real Xen has other domains and a free-memory figure that moves, so every assertion is relative: to a physinfo read
 * just before, and to domains the test created itself (createEmptyDomain + setMaxMem + claim/populate), which
 * afterEach always destroys. Pages come back gradually after a destroy: waits are bounded polls.
 *
 * Rules are cited by their anchors in docs/claim-rules.md; where releases differ, the expectation follows the
 * version the host reports (version-rules.ts; docs/xen-versions.md).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DomainInfo, LibxlDomainConfig, XenBackend } from '../../src/backend.js';
import { XenError } from '../../src/errors.js';
import { expectedClaimRules } from './version-rules.js';

export interface ConformanceHarness {
  backend: XenBackend;
  /** Lets `ms` of the backend's time pass (virtual time on the mock, real time on Xen). */
  wait(ms: number): Promise<void>;
  /** Awaits slow work, driving the backend's clock if it is virtual. */
  run<T>(work: Promise<T>): Promise<T>;
  /**
   * Populates one more page of the domain and maps it from outside the domain, as a device model or backend does;
   * while it is mapped a destroyed domain stays listed as dying. Resolves with the function that unmaps it.
   */
  pinPage(domid: number): Promise<() => Promise<void>>;
  close?(): Promise<void>;
}

export interface ConformanceOptions {
  /** Set to skip the whole suite visibly; the reason goes into the describe title. */
  skip?: string | undefined;
  /**
   * A bootable guest config (libxl JSON) of about `memoryMiB`, for the libxl-level tests (createGuest, balloon,
   * destroyGuest). Without it those tests are skipped with their reason in the title.
   */
  guestConfig?: ((name: string, memoryMiB: number) => LibxlDomainConfig) | undefined;
  /** Longest wait for a destroyed domain's pages to come back, or a balloon driver to follow (default 30 s). */
  settleTimeoutMs?: number;
}

const MiB = 256; // pages
/** Over max_pages: the contract's EPERM (assign_pages itself says E2BIG; libxc reports EBUSY, which a backend must translate). */
const OVER_MAX = ['EPERM', 'E2BIG'] as const;

export function defineConformanceSuite(label: string, open: () => Promise<ConformanceHarness>, options: ConformanceOptions = {}): void {
  const title = options.skip ? `${label} (skipped: ${options.skip})` : label;
  const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;

  describe.skipIf(options.skip !== undefined)(title, () => {
    let h: ConformanceHarness;
    let xen: XenBackend;
    let created: number[];

    beforeEach(async () => {
      h = await open();
      xen = h.backend;
      created = [];
    });

    afterEach(async () => {
      for (const domid of created) {
        try {
          await xen.destroyDomain(domid);
        } catch {
          // Already gone (a test destroyed it, or a failed create removed it).
        }
      }
      for (const domid of created) await waitGone(domid).catch(() => undefined);
      await h.close?.();
    });

    async function emptyDomain(type: 'pv' | 'pvh' = 'pv'): Promise<number> {
      const domid = await xen.createEmptyDomain({ type });
      created.push(domid);
      return domid;
    }

    /** An empty domain allowed `maxPages` pages. */
    async function domainWithMax(maxPages: number): Promise<number> {
      const domid = await emptyDomain();
      await xen.setMaxMem(domid, maxPages * 4);
      return domid;
    }

    async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = settleTimeoutMs): Promise<T> {
      for (let waited = 0; ; waited += 100) {
        const value = await probe();
        if (value !== undefined) return value;
        if (waited >= timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await h.wait(100);
      }
    }

    async function findDomain(domid: number): Promise<DomainInfo | undefined> {
      return (await xen.listDomains()).find((d) => d.domid === domid);
    }

    async function waitGone(domid: number): Promise<void> {
      await eventually(async () => ((await findDomain(domid)) === undefined ? true : undefined), `domain ${domid} to disappear`);
    }

    async function unusedDomid(): Promise<number> {
      const used = new Set((await xen.listDomains()).map((d) => d.domid));
      let domid = 0x7fef;
      while (used.has(domid)) domid--;
      return domid;
    }

    async function expectXenError(promise: Promise<unknown>, code: string | readonly string[], mentions?: string): Promise<XenError> {
      const error = await promise.then(
        () => {
          throw new Error(`expected a XenError ${String(code)}, but the call succeeded`);
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(XenError);
      const xenError = error as XenError;
      if (typeof code === 'string') expect(xenError.code).toBe(code);
      else expect(code).toContain(xenError.code);
      if (mentions !== undefined) expect(xenError.message).toContain(mentions);
      expect(typeof xenError.op).toBe('string');
      return xenError;
    }

    describe('host and domain queries', () => {
      it('physinfo: Xen meanings (free includes claims, scrub always 0)', async () => {
        const p = await xen.physinfo();
        for (const key of ['totalPages', 'freePages', 'scrubPages', 'outstandingPages', 'nrCpus', 'nrNodes', 'cpuKhz'] as const) {
          expect(Number.isSafeInteger(p[key]), key).toBe(true);
        }
        expect(p.totalPages).toBeGreaterThan(0);
        expect(p.freePages).toBeLessThanOrEqual(p.totalPages);
        expect(p.scrubPages).toBe(0); // docs/claim-rules.md#rule-10
        expect(p.outstandingPages).toBeGreaterThanOrEqual(0);
        expect(p.outstandingPages).toBeLessThanOrEqual(p.freePages);
        expect(p.nrCpus).toBeGreaterThan(0);
      });

      it('xenVersion and features', async () => {
        const v = await xen.xenVersion();
        expect(v.major).toBe(4);
        expect(v.minor).toBeGreaterThanOrEqual(3);
        expect(typeof v.extra).toBe('string');
        expect(xen.features.claims).toBe(true);
        expect(typeof xen.features.tmem).toBe('boolean');
        expect(typeof xen.features.libxl).toBe('boolean');
      });

      it('listDomains shows dom0, getDomain agrees (docs/claim-rules.md#rule-11 fields)', async () => {
        const domains = await xen.listDomains();
        const dom0 = domains.find((d) => d.domid === 0);
        expect(dom0).toBeDefined();
        expect(dom0!.totPages).toBeGreaterThan(0);
        expect(dom0!.dying).toBe(false);
        const again = await xen.getDomain(0);
        expect(again.domid).toBe(0);
        for (const key of ['totPages', 'maxPages', 'outstandingPages', 'shrPages', 'pagedPages', 'onlineVcpus', 'cpuTimeNs'] as const) {
          expect(Number.isSafeInteger(again[key]), key).toBe(true);
        }
        for (const key of ['dying', 'shutdown', 'paused', 'hvm'] as const) expect(typeof again[key], key).toBe('boolean');
        expect(domains.map((d) => d.domid)).toEqual([...domains.map((d) => d.domid)].sort((a, b) => a - b));
      });

      it('getDomain of an unknown domid: ESRCH', async () => {
        await expectXenError(xen.getDomain(await unusedDomid()), 'ESRCH');
      });
    });

    describe('empty domains', () => {
      it('createEmptyDomain: paused, no memory, no claim, listed', async () => {
        const pv = await emptyDomain('pv');
        const info = await xen.getDomain(pv);
        expect(info).toMatchObject({ domid: pv, totPages: 0, outstandingPages: 0, dying: false, paused: true, hvm: false });
        expect((await xen.listDomains()).some((d) => d.domid === pv)).toBe(true);
        const pvh = await emptyDomain('pvh');
        expect(pvh).not.toBe(pv);
        expect((await xen.getDomain(pvh)).hvm).toBe(true); // PVH is an HVM container
      });

      it('pause and unpause nest like Xen (unpausing a running domain: EINVAL)', async () => {
        const domid = await emptyDomain();
        await xen.unpauseDomain(domid);
        expect((await xen.getDomain(domid)).paused).toBe(false);
        await expectXenError(xen.unpauseDomain(domid), 'EINVAL');
        await xen.pauseDomain(domid);
        await xen.pauseDomain(domid);
        await xen.unpauseDomain(domid);
        expect((await xen.getDomain(domid)).paused).toBe(true);
        await xen.unpauseDomain(domid);
        expect((await xen.getDomain(domid)).paused).toBe(false);
      });

      it('setMaxMem: KiB rounded down to pages; no lower bound', async () => {
        const domid = await emptyDomain();
        await xen.setMaxMem(domid, 4097);
        expect((await xen.getDomain(domid)).maxPages).toBe(1024);
        await xen.setMaxMem(domid, 0);
        expect((await xen.getDomain(domid)).maxPages).toBe(0);
      });

      it('populatePhysmap and decreaseReservation move tot_pages and free memory', async () => {
        const domid = await domainWithMax(4 * MiB);
        await xen.populatePhysmap(domid, 2 * MiB);
        expect((await xen.getDomain(domid)).totPages).toBe(2 * MiB);
        await xen.decreaseReservation(domid, MiB);
        expect((await xen.getDomain(domid)).totPages).toBe(MiB);
        await expectXenError(xen.decreaseReservation(domid, 2 * MiB), 'EINVAL');
        expect((await xen.getDomain(domid)).totPages).toBe(MiB);
      });
    });

    describe('claims (XENMEM_claim_pages)', () => {
      it("Xen's test-mem-claim.c: claim 4 MiB, populate 2 MiB → 2 MiB outstanding; destroy → 0 (docs/claim-rules.md#rule-8, #rule-9)", async () => {
        const before = await xen.physinfo();
        const domid = await domainWithMax(8 * MiB);
        await xen.claimPages(domid, 4 * MiB);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(4 * MiB);
        expect((await xen.physinfo()).outstandingPages - before.outstandingPages).toBe(4 * MiB);
        await xen.populatePhysmap(domid, 2 * MiB);
        const after = await xen.getDomain(domid);
        expect(after.totPages).toBe(2 * MiB);
        expect(after.outstandingPages).toBe(2 * MiB);
        expect((await xen.physinfo()).outstandingPages - before.outstandingPages).toBe(2 * MiB);
        await xen.destroyDomain(domid);
        // docs/claim-rules.md#rule-9: the claim goes at once, before the pages come back.
        expect((await xen.physinfo()).outstandingPages).toBe(before.outstandingPages);
        const dying = await findDomain(domid);
        if (dying) {
          expect(dying.outstandingPages).toBe(0);
          expect(dying.dying).toBe(true);
        }
        await waitGone(domid);
      });

      it('docs/claim-rules.md#rule-1: a claim is bookkeeping only — free memory does not drop', async () => {
        const domid = await domainWithMax(64 * MiB);
        const before = await xen.physinfo();
        await xen.claimPages(domid, 32 * MiB);
        const after = await xen.physinfo();
        expect(after.outstandingPages - before.outstandingPages).toBe(32 * MiB);
        // freePages includes claimed pages (docs/claim-rules.md#rule-10); allow for other activity on a real host, far below the claim.
        expect(Math.abs(after.freePages - before.freePages)).toBeLessThan(8 * MiB);
      });

      it('docs/claim-rules.md#rule-2: claim for an unknown domid is EINVAL, not ESRCH', async () => {
        await expectXenError(xen.claimPages(await unusedDomid(), MiB), 'EINVAL');
      });

      it('docs/claim-rules.md#rule-3: claim 0 cancels (host total drops by it) and always succeeds', async () => {
        const domid = await domainWithMax(8 * MiB);
        await xen.claimPages(domid, 0); // nothing to cancel: still fine
        const base = (await xen.physinfo()).outstandingPages;
        await xen.claimPages(domid, 4 * MiB);
        await xen.claimPages(domid, 0);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
        expect((await xen.physinfo()).outstandingPages).toBe(base);
        await xen.claimPages(domid, 0);
      });

      it('docs/claim-rules.md#rule-4: one claim per domain — a second stake is EINVAL until cancelled or used up', async () => {
        const domid = await domainWithMax(16 * MiB);
        await xen.claimPages(domid, 2 * MiB);
        await expectXenError(xen.claimPages(domid, 4 * MiB), 'EINVAL');
        expect((await xen.getDomain(domid)).outstandingPages).toBe(2 * MiB);
        await xen.claimPages(domid, 0);
        await xen.claimPages(domid, 4 * MiB);
        // Use it up to 0: a new claim is allowed again.
        await xen.populatePhysmap(domid, 4 * MiB);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
        await xen.claimPages(domid, 6 * MiB);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(2 * MiB);
      });

      it('docs/claim-rules.md#rule-5: the claim is an absolute total, bounded by tot_pages and max_pages', async () => {
        const domid = await emptyDomain();
        // A new domain's max_pages is 0: claiming before setMaxMem fails.
        await expectXenError(xen.claimPages(domid, MiB), 'EINVAL');
        await xen.setMaxMem(domid, 8 * MiB * 4);
        await expectXenError(xen.claimPages(domid, 8 * MiB + 1), 'EINVAL');
        await xen.populatePhysmap(domid, 2 * MiB);
        await expectXenError(xen.claimPages(domid, 2 * MiB), 'EINVAL'); // pages <= tot_pages
        await expectXenError(xen.claimPages(domid, MiB), 'EINVAL');
        const base = (await xen.physinfo()).outstandingPages;
        await xen.claimPages(domid, 8 * MiB); // exactly max_pages: staked = 8 − 2 MiB
        expect((await xen.getDomain(domid)).outstandingPages).toBe(6 * MiB);
        expect((await xen.physinfo()).outstandingPages - base).toBe(6 * MiB);
      });

      it('docs/claim-rules.md#rule-6: a stake above free − outstanding is ENOMEM and leaves nothing claimed', async () => {
        const p = await xen.physinfo();
        const unclaimed = p.freePages - p.outstandingPages;
        const domid = await domainWithMax(unclaimed + 64 * MiB);
        await expectXenError(xen.claimPages(domid, unclaimed + 32 * MiB), 'ENOMEM');
        expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
        expect((await xen.physinfo()).outstandingPages).toBe(p.outstandingPages);
      });

      it('docs/claim-rules.md#rule-7: the allocation gate keeps other domains off claimed memory; the claimant passes', async () => {
        const a = await emptyDomain();
        const b = await domainWithMax(64 * MiB);
        const p = await xen.physinfo();
        // Leave a little unclaimed memory for Xen's own allocations while the test holds the rest.
        const slack = 16 * MiB;
        const stake = p.freePages - p.outstandingPages - slack;
        await xen.setMaxMem(a, (stake + MiB) * 4);
        await xen.claimPages(a, stake);
        try {
          // B, unclaimed, asks for more than the unclaimed slack: refused by the gate.
          await expectXenError(xen.populatePhysmap(b, 2 * slack), 'ENOMEM');
          expect((await xen.getDomain(b)).totPages).toBeLessThan(2 * slack);
          expect((await xen.getDomain(a)).outstandingPages).toBe(stake);
          // A's own claim covers A even though hardly any unclaimed memory is left.
          await xen.populatePhysmap(a, 2 * MiB);
          expect((await xen.getDomain(a)).outstandingPages).toBe(stake - 2 * MiB);
        } finally {
          await xen.claimPages(a, 0);
        }
        // Claim gone: B gets its memory.
        const bBefore = (await xen.getDomain(b)).totPages;
        await xen.populatePhysmap(b, 2 * slack - bBefore);
        expect((await xen.getDomain(b)).totPages).toBe(2 * slack);
      });

      it('docs/claim-rules.md#rule-7: then tot_pages + n > max_pages fails (EPERM; Xen logs E2BIG)', async () => {
        const domid = await domainWithMax(2 * MiB);
        await expectXenError(xen.populatePhysmap(domid, 4 * MiB), OVER_MAX);
        expect((await xen.getDomain(domid)).totPages).toBeLessThanOrEqual(2 * MiB);
      });

      it('docs/claim-rules.md#rule-8: allocation consumes the claim; a free regrows it where the counters move with tot_pages (4.17)', async () => {
        const rules = expectedClaimRules(await xen.xenVersion());
        const domid = await domainWithMax(8 * MiB);
        const base = (await xen.physinfo()).outstandingPages;
        await xen.claimPages(domid, 4 * MiB);
        await xen.populatePhysmap(domid, 2 * MiB);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(2 * MiB);
        await xen.decreaseReservation(domid, MiB);
        const expected = rules.regrowsOnFree ? 3 * MiB : 2 * MiB;
        expect((await xen.getDomain(domid)).outstandingPages).toBe(expected);
        expect((await xen.physinfo()).outstandingPages - base).toBe(expected);
        // A claim used up to 0 stays 0 whatever is freed.
        await xen.populatePhysmap(domid, expected);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
        await xen.decreaseReservation(domid, MiB);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
        expect((await xen.physinfo()).outstandingPages).toBe(base);
      });

      it('docs/claim-rules.md#rule-9: destroy returns the pages (bounded wait) and the domain leaves the list', async () => {
        const before = await xen.physinfo();
        const domid = await domainWithMax(16 * MiB);
        await xen.populatePhysmap(domid, 16 * MiB);
        const populated = await xen.physinfo();
        expect(before.freePages - populated.freePages).toBeGreaterThanOrEqual(12 * MiB);
        await xen.destroyDomain(domid);
        await waitGone(domid);
        const after = await xen.physinfo();
        expect(after.freePages - populated.freePages).toBeGreaterThanOrEqual(12 * MiB);
        await expectXenError(xen.getDomain(domid), 'ESRCH');
      });

      it('docs/claim-rules.md#rule-10: libxl free memory does not subtract claims', async () => {
        const domid = await domainWithMax(64 * MiB);
        await xen.claimPages(domid, 32 * MiB);
        const p = await xen.physinfo();
        const freeKiB = await xen.freeMemoryKiB();
        expect(Math.abs(freeKiB - p.freePages * 4)).toBeLessThan(8 * 1024 * 4);
        expect(p.freePages - p.outstandingPages).toBeLessThanOrEqual(p.freePages - 32 * MiB);
      });

      it('docs/claim-rules.md#rule-12: setmaxmem below tot_pages is allowed; allocations then fail; the claim is not trimmed', async () => {
        const rules = expectedClaimRules(await xen.xenVersion());
        const domid = await domainWithMax(16 * MiB);
        await xen.populatePhysmap(domid, 4 * MiB);
        const base = (await xen.physinfo()).outstandingPages;
        await xen.claimPages(domid, 12 * MiB);
        expect((await xen.getDomain(domid)).outstandingPages).toBe(8 * MiB);
        await xen.setMaxMem(domid, 2 * MiB * 4);
        const info = await xen.getDomain(domid);
        expect(info.maxPages).toBe(2 * MiB);
        expect(info.totPages).toBe(4 * MiB);
        expect(info.outstandingPages).toBe(8 * MiB);
        await expectXenError(xen.populatePhysmap(domid, 1), OVER_MAX);
        const after = await xen.getDomain(domid);
        expect(after.totPages).toBe(4 * MiB);
        // Where the allocator consumes the claim (4.20.3+), the refused page's share of it is gone for good.
        const claim = rules.refusedAllocationConsumesClaim ? 8 * MiB - 1 : 8 * MiB;
        expect(after.outstandingPages).toBe(claim);
        expect((await xen.physinfo()).outstandingPages - base).toBe(claim);
      });

      it('docs/claim-rules.md#rule-2: a claim on a dying domain is EINVAL (4.20.3+, 4.22); before, it is accepted and must be cancelled', async () => {
        const rules = expectedClaimRules(await xen.xenVersion());
        const base = (await xen.physinfo()).outstandingPages;
        const domid = await domainWithMax(8 * MiB);
        await xen.populatePhysmap(domid, 2 * MiB);
        const unmap = await h.pinPage(domid);
        try {
          await xen.destroyDomain(domid);
          // Everything comes back but the mapped page: the domain stays listed, dying, until it is unmapped.
          const zombie = await eventually(async () => {
            const d = await findDomain(domid);
            return d?.dying && d.totPages === 1 ? d : undefined;
          }, `domain ${domid} to be dying with only its mapped page`);
          expect(zombie.outstandingPages).toBe(0);
          if (rules.refusesDying) {
            await expectXenError(xen.claimPages(domid, 4 * MiB), 'EINVAL');
            expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
          } else {
            await xen.claimPages(domid, 4 * MiB);
            expect((await xen.getDomain(domid)).outstandingPages).toBe(4 * MiB - 1);
            expect((await xen.physinfo()).outstandingPages - base).toBe(4 * MiB - 1);
            // Once the domain is gone nothing could release this claim (Xen leaks it): cancel it while it is here.
            await xen.claimPages(domid, 0);
          }
          expect((await xen.physinfo()).outstandingPages).toBe(base);
        } finally {
          await unmap();
        }
        await waitGone(domid);
        expect((await xen.physinfo()).outstandingPages).toBe(base);
      });

      it('docs/claim-rules.md#rule-14: tmem calls report ENOSYS where tmem does not exist', async () => {
        if (xen.features.tmem) {
          expect(await xen.tmemFreeablePages()).toBeGreaterThanOrEqual(0);
          return;
        }
        for (const call of [() => xen.tmemFreeze(), () => xen.tmemThaw(), () => xen.tmemSetCap(0), () => xen.tmemFreeablePages()]) {
          const error = await expectXenError(call(), 'ENOSYS');
          expect(error.message).toMatch(/tmem was removed in Xen 4\.13/);
        }
      });
    });

    describe('unknown domids, method by method', () => {
      it('hypervisor-level calls: ESRCH (the claim: EINVAL, docs/claim-rules.md#rule-2)', async () => {
        const domid = await unusedDomid();
        await expectXenError(xen.getDomain(domid), 'ESRCH');
        await expectXenError(xen.setMaxMem(domid, 1024), 'ESRCH');
        await expectXenError(xen.populatePhysmap(domid, 1), 'ESRCH');
        await expectXenError(xen.decreaseReservation(domid, 1), 'ESRCH');
        await expectXenError(xen.destroyDomain(domid), 'ESRCH');
        await expectXenError(xen.pauseDomain(domid), 'ESRCH');
        await expectXenError(xen.unpauseDomain(domid), 'ESRCH');
        await expectXenError(xen.claimPages(domid, 1), 'EINVAL');
      });

      it('libxl-level calls refuse it too', async () => {
        const domid = await unusedDomid();
        const libxlCodes = ['ESRCH', 'ERROR_INVAL', 'ERROR_FAIL', 'ERROR_DOMAIN_NOTFOUND'] as const;
        await expectXenError(xen.destroyGuest(domid), libxlCodes);
        await expectXenError(xen.setMemoryTarget(domid, 1024 * 1024), libxlCodes);
      });
    });

    describe('bad input: EINVAL naming the argument, before any hypercall', () => {
      const badCounts: unknown[] = [-1, 1.5, 2 ** 53, NaN, Infinity, -Infinity, '1', null, undefined, true, {}, 10n];
      const badDomids: unknown[] = [...badCounts, 0x7ff0, 2 ** 31];

      it('every domid argument', async () => {
        const calls: Array<[string, (d: never) => Promise<unknown>]> = [
          ['getDomain', (d) => xen.getDomain(d)],
          ['claimPages', (d) => xen.claimPages(d, 1)],
          ['setMaxMem', (d) => xen.setMaxMem(d, 1024)],
          ['populatePhysmap', (d) => xen.populatePhysmap(d, 1)],
          ['decreaseReservation', (d) => xen.decreaseReservation(d, 1)],
          ['destroyDomain', (d) => xen.destroyDomain(d)],
          ['pauseDomain', (d) => xen.pauseDomain(d)],
          ['unpauseDomain', (d) => xen.unpauseDomain(d)],
          ['destroyGuest', (d) => xen.destroyGuest(d)],
          ['setMemoryTarget', (d) => xen.setMemoryTarget(d, 1024 * 1024)],
        ];
        for (const [name, call] of calls) {
          for (const bad of badDomids) {
            const error = await expectXenError(call(bad as never), 'EINVAL', 'domid');
            expect(error.message, `${name}(${String(bad)})`).toContain(name);
          }
        }
      });

      it('every count argument', async () => {
        const domid = await emptyDomain();
        const before = await xen.getDomain(domid);
        const calls: Array<[string, (n: never) => Promise<unknown>]> = [
          ['pages', (n) => xen.claimPages(domid, n)],
          ['maxKiB', (n) => xen.setMaxMem(domid, n)],
          ['pages', (n) => xen.populatePhysmap(domid, n)],
          ['pages', (n) => xen.decreaseReservation(domid, n)],
          ['targetKiB', (n) => xen.setMemoryTarget(domid, n)],
          ['pages', (n) => xen.tmemSetCap(n)],
        ];
        for (const [arg, call] of calls) {
          for (const bad of badCounts) await expectXenError(call(bad as never), 'EINVAL', arg);
        }
        // Relative targets may be negative, but must still be safe integers.
        for (const bad of [1.5, 2 ** 53, -(2 ** 53), NaN, '1']) {
          await expectXenError(xen.setMemoryTarget(domid, bad as never, { relative: true }), 'EINVAL', 'targetKiB');
        }
        expect(await xen.getDomain(domid)).toMatchObject({ totPages: before.totPages, maxPages: before.maxPages, outstandingPages: 0 });
      });

      it('option objects and flags', async () => {
        const domid = await emptyDomain();
        for (const bad of [null, 'pv', 42, []]) await expectXenError(xen.createEmptyDomain(bad as never), 'EINVAL', 'options');
        await expectXenError(xen.createEmptyDomain({ type: 'hvm' as never }), 'EINVAL', 'type');
        await expectXenError(xen.createEmptyDomain({ type: undefined as never }), 'EINVAL', 'type');
        for (const vcpus of [0, 129, 1.5, NaN, '2']) {
          await expectXenError(xen.createEmptyDomain({ type: 'pv', vcpus: vcpus as never }), 'EINVAL', 'vcpus');
        }
        await expectXenError(xen.setMemoryTarget(domid, 1024, { enforce: 1 as never }), 'EINVAL', 'enforce');
        await expectXenError(xen.setMemoryTarget(domid, 1024, { relative: 'yes' as never }), 'EINVAL', 'relative');
        await expectXenError(xen.setMemoryTarget(domid, 1024, 'x' as never), 'EINVAL', 'options');
      });

      it('libxl configs: createGuest and needMemoryKiB name the bad field', async () => {
        const good: LibxlDomainConfig = { c_info: { type: 'pv', name: 'conformance-bad' }, b_info: { target_memkb: 65536, max_memkb: 65536 } };
        const variants: Array<[unknown, string]> = [
          [null, 'config'],
          ['pv', 'config'],
          [[], 'config'],
          [{ b_info: {} }, 'c_info'],
          [{ c_info: { type: 'pv', name: 'x' } }, 'b_info'],
          [{ ...good, c_info: { type: 'xen', name: 'x' } }, 'type'],
          [{ ...good, c_info: { type: 'pv', name: 42 } }, 'name'],
          [{ ...good, c_info: { type: 'pv', name: 'a b' } }, 'name'],
          ...[-1, 1.5, NaN, 2 ** 53, '65536'].map((v): [unknown, string] => [{ ...good, b_info: { target_memkb: v } }, 'target_memkb']),
          ...[-1, 1.5, Infinity].map((v): [unknown, string] => [{ ...good, b_info: { max_memkb: v } }, 'max_memkb']),
          ...[0, 129, 1.5].map((v): [unknown, string] => [{ ...good, b_info: { ...good.b_info, max_vcpus: v } }, 'max_vcpus']),
        ];
        const before = (await xen.listDomains()).length;
        for (const [config, field] of variants) {
          await expectXenError(xen.needMemoryKiB(config as never), 'EINVAL', field);
          await expectXenError(xen.createGuest(config as never), 'EINVAL', field);
        }
        await expectXenError(xen.createGuest(good, { claim: 'yes' as never }), 'EINVAL', 'claim');
        await expectXenError(xen.createGuest(good, { paused: 1 as never }), 'EINVAL', 'paused');
        await expectXenError(xen.createGuest(good, 'x' as never), 'EINVAL', 'options');
        expect((await xen.listDomains()).length).toBe(before);
      });
    });

    describe('libxl level', () => {
      it('needMemoryKiB: target + 1 MiB for PV, rounded up to 2 MiB', async () => {
        const config = (target: number): LibxlDomainConfig => ({
          c_info: { type: 'pv', name: 'need' },
          b_info: { target_memkb: target, max_memkb: target, shadow_memkb: 0, max_vcpus: 1 },
        });
        expect(await xen.needMemoryKiB(config(1024 * 1024))).toBe(1024 * 1024 + 2048);
        expect(await xen.needMemoryKiB(config(1024 * 1024 + 4))).toBe(1024 * 1024 + 2048);
        expect(await xen.needMemoryKiB(config(1024 * 1024 + 1024 + 4))).toBe(1024 * 1024 + 4096);
      });

      it('setMemoryTarget refuses a dom0 target under 128 MiB', async () => {
        const before = await xen.getDomain(0);
        await expectXenError(xen.setMemoryTarget(0, 64 * 1024), 'ERROR_INVAL');
        const after = await xen.getDomain(0);
        expect(after.maxPages).toBe(before.maxPages);
      });

      const guestConfig = options.guestConfig;
      const guestSkip = guestConfig ? false : true;
      describe.skipIf(guestSkip)(guestConfig ? 'guests' : 'guests (skipped: no bootable guest config for this run — natively, set XENCLAIM_TEST_GUEST_KERNEL)', () => {
        async function createGuest(name: string, memoryMiB: number, claim = true): Promise<number> {
          const domid = await h.run(xen.createGuest(guestConfig!(name, memoryMiB), { claim }));
          created.push(domid);
          return domid;
        }

        it('createGuest with claim mode: built, named, claim cancelled on return', async () => {
          const base = await xen.physinfo();
          const domid = await createGuest('conformance-g1', 128);
          const info = await xen.getDomain(domid);
          expect(info.name).toBe('conformance-g1');
          expect(info.outstandingPages).toBe(0);
          expect(info.totPages).toBeGreaterThanOrEqual(120 * MiB);
          expect(info.maxPages).toBeGreaterThanOrEqual(info.totPages);
          expect(info.targetKiB).toBeGreaterThan(0);
          expect((await xen.physinfo()).outstandingPages).toBe(base.outstandingPages);
          expect((await xen.listDomains()).find((d) => d.domid === domid)?.name).toBe('conformance-g1');
        });

        it('createGuest too big for the host: fails with ENOMEM, leaves no domain and no claim', async () => {
          const base = await xen.physinfo();
          const tooBigMiB = Math.ceil((base.totalPages + 64 * MiB) / MiB);
          const error = await expectXenError(h.run(xen.createGuest(guestConfig!('conformance-huge', tooBigMiB))), ['ERROR_FAIL', 'ERROR_NOMEM', 'ENOMEM']);
          expect(error.errno).toBe(12);
          expect(error.xenLog.length).toBeGreaterThan(0);
          await eventually(async () => ((await xen.listDomains()).some((d) => d.name === 'conformance-huge') ? undefined : true), 'the failed guest to vanish');
          expect((await xen.physinfo()).outstandingPages).toBe(base.outstandingPages);
        });

        it('setMemoryTarget: the balloon driver follows down and up; enforce sets max_pages to target + 1 MiB', async () => {
          const domid = await createGuest('conformance-balloon', 256);
          const full = (await xen.getDomain(domid)).totPages;
          await xen.setMemoryTarget(domid, 192 * 1024);
          expect((await xen.getDomain(domid)).maxPages).toBe((192 * 1024 + 1024) / 4);
          await eventually(async () => ((await xen.getDomain(domid)).totPages <= full - 60 * MiB ? true : undefined), 'the guest to balloon down', settleTimeoutMs * 4);
          await xen.setMemoryTarget(domid, 256 * 1024);
          await eventually(async () => ((await xen.getDomain(domid)).totPages >= full - 4 * MiB ? true : undefined), 'the guest to balloon up', settleTimeoutMs * 4);
          expect((await xen.getDomain(domid)).targetKiB).toBe(256 * 1024);
        });

        it('setGuestMaxMem (xl mem-max): libxl refuses a max below the target naming both; max_pages gets the 1 MiB slack', async () => {
          const domid = await createGuest('conformance-memmax', 128);
          const before = await xen.getDomain(domid);
          const targetKiB = before.targetKiB!;
          const error = await expectXenError(xen.setGuestMaxMem(domid, targetKiB - 4096), 'EINVAL', 'maxKiB');
          expect(error.message).toContain(`${targetKiB} KiB`);
          expect((await xen.getDomain(domid)).maxPages).toBe(before.maxPages);
          await xen.setGuestMaxMem(domid, targetKiB + 64 * 1024);
          const after = await xen.getDomain(domid);
          expect(after.maxPages).toBe((targetKiB + 64 * 1024 + 1024) / 4);
          expect(after.targetKiB).toBe(targetKiB);
        });

        it('setMemoryTarget above memory/static-max: ERROR_INVAL, nothing changes', async () => {
          const domid = await createGuest('conformance-max', 128);
          const before = await xen.getDomain(domid);
          await expectXenError(xen.setMemoryTarget(domid, 4 * 1024 * 1024, { enforce: false }), 'ERROR_INVAL');
          expect(await xen.getDomain(domid)).toMatchObject({ maxPages: before.maxPages, targetKiB: before.targetKiB });
        });

        it('destroyGuest: the guest goes and its memory comes back', async () => {
          const domid = await createGuest('conformance-destroy', 128);
          const built = await xen.physinfo();
          await xen.destroyGuest(domid);
          await waitGone(domid);
          expect((await xen.physinfo()).freePages - built.freePages).toBeGreaterThanOrEqual(100 * MiB);
        });
      });
    });
  });
}
