/** Builders of observed states for the admission tests. */
import type { DomainState, ObservedState } from '../../src/admission/state.js';
import { KIB_PER_MIB, PAGES_PER_MIB } from '../../src/units.js';

export const MIB_PAGES = PAGES_PER_MIB;
export const MIB_KIB = KIB_PER_MIB;

/** A running, cooperative guest of `mib` MiB with its target where it is, floor `minMiB`. */
export function guest(domid: number, mib: number, minMiB: number, extra: Partial<DomainState> = {}): DomainState {
  return {
    domid,
    name: `guest${domid}`,
    totPages: mib * MIB_PAGES,
    maxPages: mib * MIB_PAGES,
    targetKiB: mib * MIB_KIB,
    outstandingPages: 0,
    minKiB: minMiB * MIB_KIB,
    maxKiB: mib * MIB_KIB,
    isDom0: false,
    building: false,
    uncooperative: false,
    ...extra,
  };
}

export function dom0(mib: number, extra: Partial<DomainState> = {}): DomainState {
  return guest(0, mib, 0, { name: 'Domain-0', isDom0: true, ...extra });
}

/** A host of `totalMiB` whose free memory is what the domains leave (minus `overheadPages`). */
export function host(
  totalMiB: number,
  domains: DomainState[],
  opts: { outstandingPages?: number; overheadPages?: number } = {},
): ObservedState {
  const totalPages = totalMiB * MIB_PAGES;
  const used = domains.reduce((sum, d) => sum + d.totPages, 0);
  const freePages = totalPages - used - (opts.overheadPages ?? 0);
  if (freePages < 0) throw new Error('test host overcommitted');
  return { host: { totalPages, freePages, outstandingPages: opts.outstandingPages ?? 0 }, domains };
}
