/**
 * Real Xen: XENMEM_claim_pages through the native backend, cross-checked with `xl info` and `xl claims`.
 * The core is Xen's own tools/tests/mem-claim/test-mem-claim.c: claim 4 MiB, populate 2 MiB → 2 MiB
 * outstanding; destroy → 0.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { isXenError } from '../../src/errors.js';
import { PAGES_PER_MIB, announceSkip, openXen, waitFor, xenSkipReason, xl, xlInfo, xlInfoNumber } from './xen-env.js';

const skipReason = xenSkipReason();
const TIMEOUT_MS = 120_000;

/** `xl claims`: per-domain claims in MiB (outstanding_memkb / 1024), keyed by domid. */
async function xlClaimsMiB(): Promise<Map<number, number>> {
  const claims = new Map<number, number>();
  for (const line of (await xl('claims')).split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7) continue;
    claims.set(Number(fields.at(-6)), Number(fields.at(-1)));
  }
  return claims;
}

describe('real Xen: claims on a real domain', () => {
  let xen: XenBackend;
  const created: number[] = [];

  async function newDomain(maxKiB: number): Promise<number> {
    const domid = await xen.createEmptyDomain({ type: 'pv' });
    created.push(domid);
    await xen.setMaxMem(domid, maxKiB);
    return domid;
  }

  beforeAll(async () => {
    announceSkip('test/xen/claims.test.ts', skipReason);
    if (skipReason === undefined) xen = await openXen();
  });
  afterEach(async () => {
    // Nothing is left behind, whatever failed: a leaked domain would hold memory and skew every later test.
    for (const domid of created.splice(0)) {
      await xen.destroyDomain(domid).catch((error: unknown) => {
        if (!isXenError(error, 'ESRCH') && !isXenError(error, 'EINVAL')) throw error;
      });
    }
  });
  afterAll(async () => {
    await xen?.close();
  });
  beforeEach((context) => {
    if (skipReason !== undefined) context.skip(skipReason);
  });

  it('test-mem-claim: claim 4 MiB, populate 2 MiB → 2 MiB outstanding (xen and xl agree); destroy → 0', { timeout: TIMEOUT_MS }, async () => {
    const quiet = await xen.physinfo();
    expect(quiet.outstandingPages, 'the host must be quiescent (no outstanding claims) before the test').toBe(0);

    const domid = await newDomain(16 * 1024);
    expect((await xen.physinfo()).outstandingPages, 'creating a domain does not claim').toBe(0);
    const empty = await xen.getDomain(domid);
    expect(empty).toMatchObject({ domid, totPages: 0, outstandingPages: 0, paused: true, dying: false });

    await xen.claimPages(domid, 4 * PAGES_PER_MIB);
    expect((await xen.physinfo()).outstandingPages).toBe(4 * PAGES_PER_MIB);
    expect((await xen.getDomain(domid)).outstandingPages).toBe(4 * PAGES_PER_MIB);
    const claimedInfo = await xlInfo();
    expect(xlInfoNumber(claimedInfo, 'outstanding_claims')).toBe(4);
    expect((await xlClaimsMiB()).get(domid)).toBe(4);
    // A claim sets nothing aside: free_pages still counts the claimed pages, xl's free_memory does not.
    const claimed = await xen.physinfo();
    expect(xlInfoNumber(claimedInfo, 'free_memory')).toBe(
      Math.floor((claimed.freePages - claimed.outstandingPages) / PAGES_PER_MIB),
    );

    await xen.populatePhysmap(domid, 2 * PAGES_PER_MIB);
    const half = await xen.getDomain(domid);
    expect(half.totPages).toBe(2 * PAGES_PER_MIB);
    expect(half.outstandingPages).toBe(2 * PAGES_PER_MIB);
    expect((await xen.physinfo()).outstandingPages).toBe(2 * PAGES_PER_MIB);
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(2);
    expect((await xlClaimsMiB()).get(domid)).toBe(2);

    await xen.destroyDomain(domid);
    expect((await xen.physinfo()).outstandingPages, 'destruction cancels the claim at once').toBe(0);
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(0);
    // The domain's pages come back to the heap and the domain disappears.
    await waitFor(
      `domain ${domid} to disappear`,
      () => xen.getDomain(domid).then(() => 'present', (e: unknown) => (isXenError(e, 'ESRCH') ? 'gone' : String(e))),
      (state) => state === 'gone',
      30_000,
    );
    await waitFor(
      'the 2 MiB populated pages to come back to the heap',
      async () => (await xen.physinfo()).freePages,
      (free) => free >= quiet.freePages,
      30_000,
    );
  });

  it('populating consumes the claim page for page; claim 0 cancels the rest', { timeout: TIMEOUT_MS }, async () => {
    const domid = await newDomain(32 * 1024);
    await xen.claimPages(domid, 8 * PAGES_PER_MIB);
    for (const step of [1, 2, 3]) {
      await xen.populatePhysmap(domid, PAGES_PER_MIB);
      const info = await xen.getDomain(domid);
      expect(info.totPages).toBe(step * PAGES_PER_MIB);
      expect(info.outstandingPages).toBe((8 - step) * PAGES_PER_MIB);
    }
    await xen.claimPages(domid, 0);
    expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
    expect((await xen.physinfo()).outstandingPages).toBe(0);
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(0);
  });

  it('a claim larger than the host is ENOMEM and leaves no claim behind', { timeout: TIMEOUT_MS }, async () => {
    const host = await xen.physinfo();
    const tooMany = host.totalPages * 2;
    const domid = await newDomain(tooMany * 4);
    const error = await xen.claimPages(domid, tooMany).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isXenError(error, 'ENOMEM'), `claimPages(${tooMany}) rejected with ${String(error)}`).toBe(true);
    expect((await xen.getDomain(domid)).outstandingPages).toBe(0);
    expect((await xen.physinfo()).outstandingPages).toBe(0);
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(0);
  });

  it('a claim just above what is free is ENOMEM; one just within it succeeds', { timeout: TIMEOUT_MS }, async () => {
    // 16 MiB either side of the headroom: dom0 keeps allocating and freeing a little while the test runs.
    const margin = 16 * PAGES_PER_MIB;
    const host = await xen.physinfo();
    const headroom = host.freePages - host.outstandingPages;
    const domid = await newDomain((headroom + 2 * margin) * 4);
    const error = await xen.claimPages(domid, headroom + margin).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isXenError(error, 'ENOMEM'), `claimPages(headroom + 16 MiB) rejected with ${String(error)}`).toBe(true);
    await xen.claimPages(domid, headroom - margin);
    expect((await xen.physinfo()).outstandingPages).toBe(headroom - margin);
    expect(xlInfoNumber(await xlInfo(), 'free_memory')).toBeLessThanOrEqual(2 * 16);
    await xen.claimPages(domid, 0);
    expect((await xen.physinfo()).outstandingPages).toBe(0);
  });

  it('setMaxMem shows in getDomain and listDomains (max_pages = KiB / 4), also below tot_pages', { timeout: TIMEOUT_MS }, async () => {
    const domid = await newDomain(64 * 1024);
    expect((await xen.getDomain(domid)).maxPages).toBe(64 * PAGES_PER_MIB);
    await xen.populatePhysmap(domid, 4 * PAGES_PER_MIB);
    await xen.setMaxMem(domid, 2 * 1024);
    const lowered = await xen.getDomain(domid);
    expect(lowered.maxPages).toBe(2 * PAGES_PER_MIB);
    expect(lowered.totPages).toBe(4 * PAGES_PER_MIB);
    expect((await xen.listDomains()).find((d) => d.domid === domid)?.maxPages).toBe(2 * PAGES_PER_MIB);
    // Above max_pages Xen refuses further allocations.
    const error = await xen.populatePhysmap(domid, 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isXenError(error), `populating beyond max_pages must fail with a XenError, got ${String(error)}`).toBe(true);
  });
});
