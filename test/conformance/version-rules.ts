/**
 * The claim rules that differ between Xen releases, keyed on the version the host reports (xenVersion(): major,
 * minor and extra such as ".4"). Written from xen.git, independently of the mock's own table, and checked against
 * the real hypervisors by the conformance suite (Debian 12's 4.17.7, Debian 13's 4.20.4; docs/xen-versions.md).
 *
 * Two fixes from early 2026 were backported to the maintained branches (4.19.5, 4.20.3, 4.21.1) and are in 4.22.0:
 *  - xen commit 2379ca04fe "xen/domain: Disallow XENMEM_claim_pages on dying domains";
 *  - xen commit 75d29d9b5e "xen/mm: move adjustment of claimed pages counters on allocation": the claim is consumed
 *    inside the allocator (before assign_pages checks max_pages), and a free no longer regrows it.
 * Independently, 4.21.0 stopped regrowing claims on free (domain_adjust_tot_pages only consumes).
 */
import type { XenVersionInfo } from '../../src/backend.js';

export interface ExpectedClaimRules {
  /** A free while the domain's claim is non-zero grows the claim (and the host total) again (docs/claim-rules.md#rule-8). */
  regrowsOnFree: boolean;
  /** XENMEM_claim_pages on a dying domain is EINVAL (docs/claim-rules.md#rule-2); before, it is accepted and leaks when the domain goes. */
  refusesDying: boolean;
  /** An allocation the gate let through but max_pages refused has still consumed the claim for it (docs/claim-rules.md#rule-12). */
  refusedAllocationConsumesClaim: boolean;
}

/** The patch release from `extra` (".4" → 4, ".7+13-gabc" → 7); 0 when it has none. */
export function patchLevel(extra: string): number {
  const match = /^\.(\d+)/.exec(extra);
  return match ? Number(match[1]) : 0;
}

export function expectedClaimRules(version: XenVersionInfo): ExpectedClaimRules {
  const { major, minor } = version;
  const patch = patchLevel(version.extra);
  const newer = major > 4 || minor >= 22;
  const backported = newer || (minor === 21 && patch >= 1) || (minor === 20 && patch >= 3) || (minor === 19 && patch >= 5);
  return {
    regrowsOnFree: !backported && !(major === 4 && minor >= 21),
    refusesDying: backported,
    refusedAllocationConsumesClaim: backported,
  };
}
