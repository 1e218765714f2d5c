/**
 * The simulated Xen heap: claim and allocation accounting with counters, never per-page arrays, so a 1 TiB host
 * costs what a 1 GiB host costs. Pure bookkeeping: no clock, no I/O; every operation returns an errno (0 = done).
 *
 * The rules are docs/claim-rules.md#claim-rules (from xen/common/page_alloc.c domain_set_outstanding_pages,
 * alloc_heap_pages, domain_adjust_tot_pages; xen/common/domctl.c XEN_DOMCTL_max_mem):
 *  - a claim is bookkeeping only (#rule-1); 0 cancels (#rule-3); one per domain (#rule-4); absolute total, EINVAL
 *    when pages <= tot_pages or pages > max_pages (#rule-5); ENOMEM when the stake exceeds free − outstanding (#rule-6);
 *  - the allocation gate (#rule-7): an n-page extent passes if outstanding + n <= free OR the domain's own claim >= n,
 *    never the two combined; then tot_pages + n > max_pages fails (EPERM);
 *  - every tot_pages increase consumes the claim; where the claim counters still move in domain_adjust_tot_pages
 *    (4.17) a free while the claim is non-zero grows it again (#rule-8);
 *  - where they move inside the allocator (4.20.3+, 4.22), an allocation refused by max_pages after the gate
 *    passed has still consumed the claim for it (xen commit 39748952e9);
 *  - a dying domain's claim is cancelled at once (#rule-9); 4.20.3+ and 4.22 refuse claims on a dying domain
 *    (#rule-2); where one is accepted (4.17) it is never released once the domain is gone: Xen leaks it (xen commit
 *    95c476191f).
 *
 * Which release does what: RULES_BY_VERSION below, as observed on the real hypervisors for 4.17 and 4.20
 * (docs/xen-versions.md#claim-rules-as-observed) and read from xen.git for 4.21 and 4.22.
 *
 * Accounting identity, always true:
 *   totalPages = xenOverheadPages + pagingPoolPages + Σ live tot_pages + dyingPages + tmemPages + freePages
 */

import { ERRNO } from '../errors.js';

export const OK = 0;
export const EPERM = ERRNO.EPERM;
export const ENOMEM = ERRNO.ENOMEM;
export const EINVAL = ERRNO.EINVAL;

/** XEN_DOMCTL_max_mem stores max_pages in an unsigned int: larger values are clamped to this. */
export const MAX_PAGES_LIMIT = 0xffff_ffff;

/** Per-domain counters, as struct domain holds them. */
export interface DomainAccount {
  totPages: number;
  maxPages: number;
  outstandingPages: number;
  /** Paging (shadow/HAP) pool pages Xen allocated for this domain; not in tot_pages. */
  poolPages: number;
  dying: boolean;
}

export interface HeapRules {
  /** 4.3–4.20.2 (so 4.17): a free while the claim is non-zero grows the claim again. */
  claimRegrowsOnFree: boolean;
  /** 4.20.3+, 4.21.1+, 4.22: XENMEM_claim_pages on a dying domain → EINVAL. */
  claimRefusesDying: boolean;
  /** 4.20.3+, 4.21.1+, 4.22: the allocator consumes the claim before max_pages is checked (a refused extent's share is lost). */
  refusedAllocationConsumesClaim: boolean;
  /** pre-4.13 hosts with tmem: freeable tmem pages count as available for claims and the gate. */
  tmem: boolean;
}

/** The Xen releases the mock emulates (MockXenVersion) and the patch release each stands for. */
export const RULES_BY_VERSION = {
  /** Debian 12's 4.17.7, observed. */
  '4.17': { claimRegrowsOnFree: true, claimRefusesDying: false, refusedAllocationConsumesClaim: false },
  /** Debian 13's 4.20.4 (with the 4.20.3 backports), observed. */
  '4.20': { claimRegrowsOnFree: false, claimRefusesDying: true, refusedAllocationConsumesClaim: true },
  /** 4.21.0, from xen.git: regrowth gone, neither backport yet. */
  '4.21': { claimRegrowsOnFree: false, claimRefusesDying: false, refusedAllocationConsumesClaim: false },
  /** 4.22.0, from xen.git. */
  '4.22': { claimRegrowsOnFree: false, claimRefusesDying: true, refusedAllocationConsumesClaim: true },
} as const satisfies Record<string, Omit<HeapRules, 'tmem'>>;

export function heapRulesFor(version: keyof typeof RULES_BY_VERSION, tmem: boolean): HeapRules {
  return { ...RULES_BY_VERSION[version], tmem };
}

export function newDomainAccount(): DomainAccount {
  return { totPages: 0, maxPages: 0, outstandingPages: 0, poolPages: 0, dying: false };
}

/** What an allocation achieved: pages given (extents may pass one by one) and why it stopped, if it did. */
export interface AllocationResult {
  pages: number;
  errno: number;
}

export class ClaimHeap {
  readonly totalPages: number;
  readonly xenOverheadPages: number;
  /** total_avail_pages: free heap pages, scrubbed or not, claimed or not. */
  freePages: number;
  /** outstanding_claims: the host-wide claim total. */
  outstandingClaims = 0;
  /** Highest outstandingClaims reached (for reports). */
  peakOutstandingClaims = 0;
  /** Σ paging pools of live domains (Xen's memory spent on behalf of guests). */
  pagingPoolPages = 0;
  /** Σ tot_pages of live domains. */
  livePages = 0;
  /** Pages (tot and pool) of dying domains not yet back in the heap. */
  dyingPages = 0;
  /** tmem's ephemeral pool (pre-4.13 only): all of it is freeable. */
  tmemPages = 0;
  tmemCapPages = Number.MAX_SAFE_INTEGER;
  tmemFrozen = false;

  constructor(totalPages: number, xenOverheadPages: number, readonly rules: HeapRules) {
    this.totalPages = totalPages;
    this.xenOverheadPages = xenOverheadPages;
    this.freePages = totalPages - xenOverheadPages;
  }

  /** Free memory no claim is holding, with tmem's freeable pages where tmem exists. */
  get unclaimedPages(): number {
    return this.availablePages - this.outstandingClaims;
  }

  /** What admission and the gate count as available (docs/claim-rules.md#rule-6: 4.3–4.12 also count tmem's freeable pages). */
  get availablePages(): number {
    return this.rules.tmem ? this.freePages + this.tmemPages : this.freePages;
  }

  /** XENMEM_claim_pages after the handler found the domain. */
  claim(d: DomainAccount, pages: number): number {
    if (d.dying && this.rules.claimRefusesDying) return EINVAL;
    if (pages === 0) {
      this.outstandingClaims -= d.outstandingPages;
      d.outstandingPages = 0;
      return OK;
    }
    if (d.outstandingPages !== 0) return EINVAL;
    if (pages <= d.totPages || pages > d.maxPages) return EINVAL;
    const stake = pages - d.totPages;
    if (stake > this.availablePages - this.outstandingClaims) return ENOMEM;
    d.outstandingPages = stake;
    this.outstandingClaims += stake;
    if (this.outstandingClaims > this.peakOutstandingClaims) this.peakOutstandingClaims = this.outstandingClaims;
    return OK;
  }

  /**
   * Populates `extents` extents of 2^order pages, one gate check per extent as populate_physmap does, and stops at
   * the first refusal (what was allocated stays allocated, as with Xen). Closed form, so a huge request is O(1).
   */
  allocate(d: DomainAccount, extents: number, order: number): AllocationResult {
    if (d.dying) return { pages: 0, errno: EINVAL };
    const size = 2 ** order;
    let left = extents;
    let given = 0;
    while (left > 0) {
      const claim = d.outstandingPages;
      const roomExtents = Math.floor(Math.max(0, d.maxPages - d.totPages) / size);
      let batch: number;
      if (claim >= size) {
        // Covered by the domain's own claim: the unclaimed pool is untouched, so any number passes at once.
        batch = Math.min(left, Math.floor(claim / size), Math.floor(this.availablePages / size));
      } else if (this.outstandingClaims + size <= this.availablePages) {
        // Unclaimed memory: the first extent also consumes the claim's remainder (< size), then plain unclaimed.
        batch = claim > 0 ? 1 : Math.min(left, Math.floor(this.unclaimedPages / size));
      } else {
        return { pages: given, errno: ENOMEM };
      }
      if (batch <= 0) return { pages: given, errno: ENOMEM };
      if (roomExtents === 0) {
        // The gate passed and the extent was taken from the heap; assign_pages refuses it (max_pages) and frees it.
        if (this.rules.refusedAllocationConsumesClaim) this.consumeClaim(d, size);
        return { pages: given, errno: EPERM };
      }
      batch = Math.min(batch, roomExtents);
      const pages = batch * size;
      this.takeFromHeap(pages);
      this.adjustTotPages(d, pages);
      this.livePages += pages;
      given += pages;
      left -= batch;
    }
    return { pages: given, errno: OK };
  }

  /** A paging-pool allocation (shadow_op set_allocation): anonymous pages, so only unclaimed memory may serve it. */
  allocatePool(d: DomainAccount, pages: number): number {
    if (pages === 0) return OK;
    if (this.outstandingClaims + pages > this.availablePages) return ENOMEM;
    this.takeFromHeap(pages);
    d.poolPages += pages;
    this.pagingPoolPages += pages;
    return OK;
  }

  /** decrease_reservation / a balloon driver giving pages back: tot_pages falls, the pages are free at once. */
  release(d: DomainAccount, pages: number): number {
    if (pages > d.totPages) return EINVAL;
    if (d.dying) return EINVAL;
    this.freePages += pages;
    this.livePages -= pages;
    this.adjustTotPages(d, -pages);
    return OK;
  }

  setMaxPages(d: DomainAccount, pages: number): void {
    d.maxPages = Math.min(pages, MAX_PAGES_LIMIT);
  }

  /** Start of destruction: the claim goes at once; the pages stay with the domain until returned. */
  beginDying(d: DomainAccount): void {
    if (d.dying) return;
    this.outstandingClaims -= d.outstandingPages;
    d.outstandingPages = 0;
    d.dying = true;
    this.livePages -= d.totPages;
    this.pagingPoolPages -= d.poolPages;
    this.dyingPages += d.totPages + d.poolPages;
  }

  /** Gives up to `pages` of a dying domain's pages back to the heap (pool first). Returns how many came back. */
  returnDyingPages(d: DomainAccount, pages: number): number {
    const fromPool = Math.min(pages, d.poolPages);
    d.poolPages -= fromPool;
    const fromTot = Math.min(pages - fromPool, d.totPages);
    const returned = fromPool + fromTot;
    this.dyingPages -= returned;
    this.freePages += returned;
    if (fromTot > 0) this.adjustTotPages(d, -fromTot);
    return returned;
  }

  /**
   * A dying domain leaves the domain list. A claim staked on it while dying (4.17 allows it) is not released: Xen
   * has no path that returns it, so the host total keeps it for good (xen commit 95c476191f, "the claimed memory is
   * leaked").
   */
  forget(d: DomainAccount): void {
    d.outstandingPages = 0;
  }

  /** Guests putting ephemeral pages into tmem (pre-4.13): taken from unclaimed memory, bounded by the cap. */
  tmemPut(pages: number): number {
    const room = Math.max(0, this.tmemCapPages - this.tmemPages);
    const taken = this.tmemFrozen ? 0 : Math.max(0, Math.min(pages, room, this.freePages - this.outstandingClaims));
    this.freePages -= taken;
    this.tmemPages += taken;
    return taken;
  }

  tmemSetCap(pages: number): void {
    this.tmemCapPages = pages;
    if (this.tmemPages > pages) this.relinquishTmem(this.tmemPages - pages);
  }

  /** The identity above; returns the difference (0 when the books balance). */
  imbalance(): number {
    return this.totalPages - (this.xenOverheadPages + this.pagingPoolPages + this.livePages + this.dyingPages + this.tmemPages + this.freePages);
  }

  private takeFromHeap(pages: number): void {
    if (this.freePages < pages) this.relinquishTmem(pages - this.freePages);
    this.freePages -= pages;
  }

  private relinquishTmem(pages: number): void {
    const given = Math.min(pages, this.tmemPages);
    this.tmemPages -= given;
    this.freePages += given;
  }

  /** domain_adjust_tot_pages: consumption on increase; regrowth on decrease where the rules say so. */
  private adjustTotPages(d: DomainAccount, delta: number): void {
    d.totPages += delta;
    if (delta > 0) this.consumeClaim(d, delta);
    else if (delta < 0 && this.rules.claimRegrowsOnFree && d.outstandingPages !== 0) {
      d.outstandingPages -= delta;
      this.outstandingClaims -= delta;
      if (this.outstandingClaims > this.peakOutstandingClaims) this.peakOutstandingClaims = this.outstandingClaims;
    }
  }

  /** Lowers the domain's claim (and the host total) by min(claim, pages). */
  private consumeClaim(d: DomainAccount, pages: number): void {
    const used = Math.min(d.outstandingPages, pages);
    d.outstandingPages -= used;
    this.outstandingClaims -= used;
  }
}
