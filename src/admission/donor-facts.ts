/**
 * What the toolstack knows about each domain that Xen does not: how far it may be ballooned down (its floor), how
 * far up (its ceiling), whether this host is building it, whether it failed to cooperate before. Pure: a function
 * of the listed domains and the host's own records. See docs/architecture.md#donors.
 */
import type { DomainInfo } from '../backend.js';
import { pagesToKiB } from '../units.js';
import type { DomainFacts } from './state.js';

/** What the host itself records about its domains (src/host's XenHost keeps them). */
export interface HostRecords {
  /** Balloon floors by guest name, in KiB (an operator's `--floor NAME=SIZE`, a scenario guest's minMiB). */
  floorsKiB: ReadonlyMap<string, number>;
  /** Names of the guests this host is building (never donors: docs/claim-rules.md#lesson-9). */
  building: ReadonlySet<string>;
  /** Domids found uncooperative: never asked again. */
  uncooperative: ReadonlySet<number>;
  /** Names of guests without a balloon driver: never asked, their max_pages never limited (default none). */
  withoutBalloonDriver?: ReadonlySet<string>;
}

/**
 * A domain's floor and ceiling, in KiB. The floor is the operator's floor for its name; a guest without one is
 * never ballooned (its floor is its own size), except dom0 (floor 0 here: the policy's dom0MinKiB applies). A floor
 * above everything the guest has or may have (its size, target and max_pages) is taken as that: it can give
 * nothing. The ceiling is its max_pages, never below the floor.
 */
export function floorAndCeilingKiB(domain: DomainInfo, floorKiB: number | undefined): { minKiB: number; maxKiB: number } {
  const ownKiB = pagesToKiB(domain.totPages);
  const maxPagesKiB = pagesToKiB(domain.maxPages);
  let minKiB = floorKiB ?? (domain.domid === 0 ? 0 : ownKiB);
  minKiB = Math.min(minKiB, Math.max(ownKiB, domain.targetKiB ?? 0, maxPagesKiB));
  return { minKiB, maxKiB: Math.max(maxPagesKiB, minKiB) };
}

/** The facts observeState needs for every listed domain, keyed by domid. */
export function donorFacts(domains: readonly DomainInfo[], records: HostRecords): Map<number, DomainFacts> {
  const facts = new Map<number, DomainFacts>();
  for (const domain of domains) {
    const name = domain.name;
    const floorKiB = name === undefined ? undefined : records.floorsKiB.get(name);
    facts.set(domain.domid, {
      ...floorAndCeilingKiB(domain, floorKiB),
      building: name !== undefined && records.building.has(name),
      uncooperative: records.uncooperative.has(domain.domid),
      ...(name !== undefined && records.withoutBalloonDriver?.has(name) ? { canBalloon: false } : {}),
    });
  }
  return facts;
}
