/**
 * The invariants every admission run must leave behind, whatever failed (docs/architecture.md#invariants): checked
 * on the mock host once the run has settled.
 *   1. no claim is outstanding that no build needs (nothing builds once settled: the host total and every domain's is 0);
 *   2. no guest's max_pages is left lowered (a domain that existed before keeps at least its max_pages; a guest built
 *      during the run keeps libxl's maxmem = target + LIBXL_MAXMEM_CONSTANT);
 *   3. no half-built domain remains (every domain is running: unpaused, not dying, with its guest up);
 *   4. memory adds up: Σ tot_pages + free = total − Xen's own overhead (paging pools included), exactly.
 */
import type { XenBackend } from '../backend.js';
import type { MockBackend } from '../mock/backend.js';
import { LIBXL_MAXMEM_CONSTANT_KIB, pagesToKiB } from '../units.js';

/** Every domain's max_pages now: the baseline invariant 2 compares against. */
export async function snapshotMaxPages(backend: XenBackend): Promise<Map<number, number>> {
  const domains = await backend.listDomains();
  return new Map(domains.map((d) => [d.domid, d.maxPages]));
}

export async function checkHostInvariants(backend: MockBackend, baseline: ReadonlyMap<number, number>): Promise<string[]> {
  const problems: string[] = [];
  const physinfo = await backend.physinfo();
  const domains = await backend.listDomains();
  const accounting = backend.control.accounting();

  if (physinfo.outstandingPages !== 0) problems.push(`host outstanding claims: ${physinfo.outstandingPages} pages`);
  for (const d of domains) {
    const who = `${d.name ?? 'domain'} (domid ${d.domid})`;
    if (d.outstandingPages !== 0) problems.push(`${who} still has a claim of ${d.outstandingPages} pages`);
    if (d.dying) problems.push(`${who} is dying`);
    const before = baseline.get(d.domid);
    if (before !== undefined) {
      if (d.maxPages < before) problems.push(`${who}: max_pages ${d.maxPages} left below its original ${before}`);
      continue;
    }
    if (d.paused) problems.push(`${who} is paused: half-built`);
    if (backend.control.guestState(d.domid) === undefined) problems.push(`${who} has no running guest: half-built`);
    if (d.targetKiB !== undefined && pagesToKiB(d.maxPages) < d.targetKiB + LIBXL_MAXMEM_CONSTANT_KIB) {
      problems.push(`${who}: max_pages ${d.maxPages} left below libxl's maxmem for its target ${d.targetKiB} KiB`);
    }
  }
  if (accounting.imbalancePages !== 0) problems.push(`heap imbalance of ${accounting.imbalancePages} pages`);
  const used = domains.reduce((sum, d) => sum + d.totPages, 0);
  const overhead = accounting.xenOverheadPages + accounting.pagingPoolPages + accounting.pendingReturnPages + accounting.tmemPages;
  if (used + physinfo.freePages + overhead !== physinfo.totalPages) {
    problems.push(
      `Σ tot_pages ${used} + free ${physinfo.freePages} + Xen's overhead ${overhead} ≠ total ${physinfo.totalPages}`,
    );
  }
  return problems;
}
