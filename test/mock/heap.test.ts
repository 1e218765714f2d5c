/** The claim heap alone: Xen's claim rules (docs/claim-rules.md#claim-rules) as pure bookkeeping, checked to the page. */
import { describe, expect, it } from 'vitest';
import { ClaimHeap, EINVAL, ENOMEM, EPERM, heapRulesFor, MAX_PAGES_LIMIT, newDomainAccount, OK } from '../../src/mock/heap.js';
import type { MockXenVersion } from '../../src/mock/spec.js';

function heap(version: MockXenVersion = '4.17', pages = 100_000, tmem = false) {
  return new ClaimHeap(pages, 1000, heapRulesFor(version, tmem));
}

function domain(h: ClaimHeap, max: number, tot = 0) {
  const d = newDomainAccount();
  h.setMaxPages(d, max);
  if (tot > 0) expect(h.allocate(d, tot, 0)).toEqual({ pages: tot, errno: OK });
  return d;
}

describe('ClaimHeap', () => {
  it('starts with everything but Xen’s own pages free', () => {
    const h = heap();
    expect(h.freePages).toBe(99_000);
    expect(h.imbalance()).toBe(0);
  });

  it('docs/claim-rules.md#rule-7: own claim ≥ n passes, unclaimed ≥ n passes, claim + unclaimed ≥ n does not', () => {
    const h = heap('4.17', 11_000); // 10,000 free
    const a = domain(h, 20_000);
    const other = domain(h, 20_000);
    expect(h.claim(a, 300)).toBe(OK);
    expect(h.claim(other, 10_000 - 300 - 300)).toBe(OK);
    expect(h.unclaimedPages).toBe(300);
    // One 512-page extent: a's claim (300) < 512 and unclaimed (300) < 512 → refused although 600 ≥ 512.
    expect(h.allocate(a, 1, 9)).toEqual({ pages: 0, errno: ENOMEM });
    // 4 KiB extents pass one by one: 300 from the claim, then 300 unclaimed.
    expect(h.allocate(a, 600, 0)).toEqual({ pages: 600, errno: OK });
    expect(a.outstandingPages).toBe(0);
    expect(h.unclaimedPages).toBe(0);
    expect(h.allocate(a, 1, 0)).toEqual({ pages: 0, errno: ENOMEM });
    // `other` still gets everything it claimed.
    expect(h.allocate(other, 9400, 0)).toEqual({ pages: 9400, errno: OK });
    expect(h.imbalance()).toBe(0);
  });

  it('docs/claim-rules.md#rule-7: after the gate, tot_pages + n > max_pages → EPERM; the claim is not consumed', () => {
    const h = heap();
    const d = domain(h, 1000);
    expect(h.claim(d, 1000)).toBe(OK);
    expect(h.allocate(d, 600, 0)).toEqual({ pages: 600, errno: OK });
    h.setMaxPages(d, 700);
    expect(h.allocate(d, 200, 0)).toEqual({ pages: 100, errno: EPERM });
    expect(d.outstandingPages).toBe(300);
    expect(h.allocate(d, 1, 0)).toEqual({ pages: 0, errno: EPERM });
  });

  it('docs/claim-rules.md#rule-6: admission counts free − outstanding', () => {
    const h = heap('4.17', 11_000);
    const a = domain(h, 50_000);
    const b = domain(h, 50_000);
    expect(h.claim(a, 6000)).toBe(OK);
    expect(h.claim(b, 4001)).toBe(ENOMEM);
    expect(h.claim(b, 4000)).toBe(OK);
    expect(h.outstandingClaims).toBe(10_000);
    expect(h.freePages).toBe(10_000); // docs/claim-rules.md#rule-1: nothing set aside
  });

  it('docs/claim-rules.md#rule-3 to #rule-5: cancel, one claim at a time, absolute totals', () => {
    const h = heap();
    const d = domain(h, 4096, 1024);
    expect(h.claim(d, 1024)).toBe(EINVAL);
    expect(h.claim(d, 4097)).toBe(EINVAL);
    expect(h.claim(d, 2048)).toBe(OK);
    expect(d.outstandingPages).toBe(1024);
    expect(h.claim(d, 3000)).toBe(EINVAL);
    expect(h.claim(d, 0)).toBe(OK);
    expect(h.outstandingClaims).toBe(0);
    expect(h.claim(d, 0)).toBe(OK);
  });

  for (const [version, regrows] of [['4.17', true], ['4.21', false], ['4.22', false]] as const) {
    it(`docs/claim-rules.md#rule-8 on ${version}: a free ${regrows ? 'regrows' : 'does not regrow'} a non-zero claim`, () => {
      const h = heap(version);
      const d = domain(h, 4096);
      expect(h.claim(d, 1024)).toBe(OK);
      h.allocate(d, 512, 0);
      expect(h.release(d, 256)).toBe(OK);
      expect(d.outstandingPages).toBe(regrows ? 768 : 512);
      expect(h.outstandingClaims).toBe(d.outstandingPages);
      expect(h.peakOutstandingClaims).toBe(1024);
      h.allocate(d, d.outstandingPages, 0);
      expect(h.release(d, 100)).toBe(OK);
      expect(d.outstandingPages).toBe(0);
      expect(h.imbalance()).toBe(0);
    });
  }

  it('docs/claim-rules.md#rule-2 and #rule-9: dying cancels the claim; 4.20 and 4.22 refuse new claims on a dying domain, 4.17 takes them', () => {
    for (const [version, expected] of [['4.17', OK], ['4.20', EINVAL], ['4.21', OK], ['4.22', EINVAL]] as const) {
      const h = heap(version);
      const d = domain(h, 4096, 1000);
      h.claim(d, 2000);
      h.beginDying(d);
      expect(d.outstandingPages).toBe(0);
      expect(h.outstandingClaims).toBe(0);
      expect(h.dyingPages).toBe(1000);
      expect(h.claim(d, 3000), version).toBe(expected);
      expect(h.returnDyingPages(d, 400)).toBe(400);
      expect(h.imbalance()).toBe(0);
      h.returnDyingPages(d, 10_000);
      h.forget(d);
      // A claim taken on the dying domain is never released (Xen leaks it); 4.17 even regrew it as pages came back.
      const leaked = expected !== OK ? 0 : version === '4.17' ? 3000 : 2000;
      expect(h.outstandingClaims, version).toBe(leaked);
      expect(d.outstandingPages).toBe(0);
      expect(h.imbalance()).toBe(0);
    }
  });

  it('docs/claim-rules.md#rule-12, 4.20 and 4.22: an extent the gate passed but max_pages refused has consumed its share of the claim', () => {
    for (const [version, consumed] of [['4.17', 0], ['4.20', 1], ['4.21', 0], ['4.22', 1]] as const) {
      const h = heap(version);
      const d = domain(h, 4096, 1024);
      h.claim(d, 3000);
      h.setMaxPages(d, 1024);
      expect(h.allocate(d, 4, 0), version).toEqual({ pages: 0, errno: EPERM });
      expect(d.totPages).toBe(1024);
      expect(d.outstandingPages, version).toBe(1976 - consumed);
      expect(h.outstandingClaims, version).toBe(1976 - consumed);
      expect(h.imbalance()).toBe(0);
    }
  });

  it('docs/claim-rules.md#rule-12 and max_pages’ unsigned int: setmaxmem below tot keeps the claim; huge values clamp', () => {
    const h = heap();
    const d = domain(h, 4096, 1024);
    h.claim(d, 3000);
    h.setMaxPages(d, 10);
    expect(d.maxPages).toBe(10);
    expect(d.outstandingPages).toBe(1976);
    h.setMaxPages(d, 2 ** 40);
    expect(d.maxPages).toBe(MAX_PAGES_LIMIT);
  });

  it('paging pools come from unclaimed memory only and are Xen’s pages, not tot_pages', () => {
    const h = heap('4.17', 11_000);
    const a = domain(h, 20_000);
    const b = domain(h, 20_000);
    h.claim(a, 9_900);
    expect(h.allocatePool(b, 200)).toBe(ENOMEM);
    expect(h.allocatePool(b, 100)).toBe(OK);
    expect(b.totPages).toBe(0);
    expect(h.pagingPoolPages).toBe(100);
    expect(h.imbalance()).toBe(0);
  });

  it('tmem (pre-4.13): freeable pages count for admission and the gate, and are relinquished on demand', () => {
    const h = heap('4.17', 11_000, true);
    expect(h.tmemPut(4000)).toBe(4000);
    expect(h.freePages).toBe(6000);
    const d = domain(h, 20_000);
    expect(h.claim(d, 10_000)).toBe(OK);
    expect(h.allocate(d, 10_000, 0)).toEqual({ pages: 10_000, errno: OK });
    expect(h.tmemPages).toBe(0);
    expect(h.imbalance()).toBe(0);
  });

  it('the books balance through a long deterministic random walk', () => {
    const h = heap('4.17', 50_000);
    const ds = Array.from({ length: 8 }, () => domain(h, 20_000));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 5_000; i++) {
      const d = ds[rand(ds.length)]!;
      switch (rand(6)) {
        case 0: h.claim(d, d.outstandingPages ? 0 : d.totPages + rand(3000)); break;
        case 1: h.allocate(d, rand(600), rand(2) ? 0 : 9); break;
        case 2: h.release(d, rand(d.totPages + 1)); break;
        case 3: h.setMaxPages(d, rand(25_000)); break;
        case 4: if (!d.dying && rand(20) === 0) h.beginDying(d); else h.returnDyingPages(d, rand(500)); break;
        default: h.allocatePool(d, rand(50));
      }
      expect(h.imbalance()).toBe(0);
      expect(h.outstandingClaims).toBe(ds.reduce((n, x) => n + x.outstandingPages, 0));
      expect(h.outstandingClaims).toBeLessThanOrEqual(h.freePages);
      expect(h.freePages).toBeGreaterThanOrEqual(0);
    }
  });
});
