/**
 * The observed state every admission decision is a function of: one snapshot of the host and its domains, in the
 * units Xen reports them (pages for hypervisor counters, KiB for libxl-level targets and limits).
 *
 * Pure: nothing here reads the backend or the clock. An executor takes a snapshot (observeState) and hands it to
 * the decision modules, which return decisions; it never mixes two snapshots in one decision.
 */
import type { DomainInfo, Physinfo } from '../backend.js';
import { kibToPagesCeil, pagesToKiB } from '../units.js';
import { invalidArgument } from '../validate.js';

export interface HostState {
  totalPages: number;
  /** Free pages, INCLUDING pages claimed but not yet allocated (physinfo's meaning). */
  freePages: number;
  /** Host-wide total of outstanding claims. */
  outstandingPages: number;
}

export interface DomainState {
  domid: number;
  name: string;
  totPages: number;
  maxPages: number;
  /** The balloon target (libxl/xenstore `memory/target`). */
  targetKiB: number;
  /** This domain's remaining claim. */
  outstandingPages: number;
  /** The floor the toolstack may balloon it down to (its config's minimum, or policy). */
  minKiB: number;
  /** The ceiling it may balloon up to (its config's maximum). */
  maxKiB: number;
  isDom0: boolean;
  /** Still being built, or built but its kernel has not booted yet (its balloon driver is not up): never a donor. */
  building: boolean;
  /** Its balloon driver ignored a target before: never asked again. */
  uncooperative: boolean;
  /** A paused domain cannot run its balloon driver (default false). */
  paused?: boolean;
  /**
   * false: the guest has no balloon driver (an HVM guest without PV drivers, say): it is never asked and its
   * max_pages is never limited (default true; squeezed's can_balloon).
   */
  canBalloon?: boolean;
  /** Being destroyed (default false). */
  dying?: boolean;
}

export interface ObservedState {
  host: HostState;
  domains: readonly DomainState[];
}

/**
 * Real headroom: free pages nobody has claimed, as `xl info free_memory` shows it. libxl_get_free_memory does NOT
 * subtract claims: never mix the two views. Can be negative only on an inconsistent snapshot; callers get 0 then.
 */
export function headroomPages(host: HostState): number {
  return Math.max(0, host.freePages - host.outstandingPages);
}

/** The domain's balloon target in pages (rounded up: a target of 1 KiB still holds a page). */
export function targetPages(domain: DomainState): number {
  return kibToPagesCeil(domain.targetKiB);
}

/** What the toolstack knows about a domain that Xen does not: its floor, ceiling, role and life stage. */
export interface DomainFacts {
  name?: string;
  minKiB?: number;
  maxKiB?: number;
  building?: boolean;
  uncooperative?: boolean;
  /** false: no balloon driver (never asked, never limited). */
  canBalloon?: boolean;
}

/**
 * One snapshot from what a backend reports. Domains without facts get conservative defaults: the floor is their
 * current size (so they are never ballooned), the ceiling their max_pages. Dying domains are kept (their pages still
 * count) but flagged.
 */
export function observeState(
  physinfo: Physinfo,
  domains: readonly DomainInfo[],
  facts: ReadonlyMap<number, DomainFacts> = new Map(),
): ObservedState {
  return {
    host: {
      totalPages: physinfo.totalPages,
      freePages: physinfo.freePages,
      outstandingPages: physinfo.outstandingPages,
    },
    domains: domains.map((info) => {
      const known = facts.get(info.domid) ?? {};
      const targetKiB = info.targetKiB ?? pagesToKiB(info.totPages);
      return {
        domid: info.domid,
        name: known.name ?? info.name ?? `domain-${info.domid}`,
        totPages: info.totPages,
        maxPages: info.maxPages,
        targetKiB,
        outstandingPages: info.outstandingPages,
        minKiB: known.minKiB ?? pagesToKiB(info.totPages),
        maxKiB: known.maxKiB ?? pagesToKiB(info.maxPages),
        isDom0: info.domid === 0,
        building: known.building ?? false,
        uncooperative: known.uncooperative ?? false,
        paused: info.paused,
        dying: info.dying,
        ...(known.canBalloon === false ? { canBalloon: false } : {}),
      };
    }),
  };
}

function checkCountField(op: string, path: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(op, path, 'an integer from 0 to 2^53-1', value);
  }
}

function checkKiBField(op: string, path: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArgument(op, path, 'a finite number >= 0', value);
  }
}

function checkFlag(op: string, path: string, value: unknown, optional: boolean): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'boolean') throw invalidArgument(op, path, 'true or false', value);
}

/**
 * Refuses a snapshot no decision can be made from (negative or fractional page counts, duplicate domids, a floor
 * above the ceiling), naming the field. The decision modules call it first, so a bad executor fails loudly.
 */
export function checkObservedState(op: string, state: ObservedState): void {
  if (typeof state !== 'object' || state === null) throw invalidArgument(op, 'state', 'an object', state);
  const host = state.host;
  if (typeof host !== 'object' || host === null) throw invalidArgument(op, 'state.host', 'an object', host);
  checkCountField(op, 'state.host.totalPages', host.totalPages);
  checkCountField(op, 'state.host.freePages', host.freePages);
  checkCountField(op, 'state.host.outstandingPages', host.outstandingPages);
  if (host.freePages > host.totalPages) {
    throw invalidArgument(op, 'state.host.freePages', `at most totalPages (${host.totalPages})`, host.freePages);
  }
  if (!Array.isArray(state.domains)) throw invalidArgument(op, 'state.domains', 'an array', state.domains);
  const seen = new Set<number>();
  state.domains.forEach((domain, i) => {
    const at = `state.domains[${i}]`;
    if (typeof domain !== 'object' || domain === null) throw invalidArgument(op, at, 'an object', domain);
    checkCountField(op, `${at}.domid`, domain.domid);
    if (seen.has(domain.domid)) throw invalidArgument(op, `${at}.domid`, 'unique', domain.domid);
    seen.add(domain.domid);
    checkCountField(op, `${at}.totPages`, domain.totPages);
    checkCountField(op, `${at}.maxPages`, domain.maxPages);
    checkCountField(op, `${at}.outstandingPages`, domain.outstandingPages);
    checkKiBField(op, `${at}.targetKiB`, domain.targetKiB);
    checkKiBField(op, `${at}.minKiB`, domain.minKiB);
    checkKiBField(op, `${at}.maxKiB`, domain.maxKiB);
    if (domain.minKiB > domain.maxKiB) {
      throw invalidArgument(op, `${at}.minKiB`, `at most maxKiB (${domain.maxKiB})`, domain.minKiB);
    }
    checkFlag(op, `${at}.isDom0`, domain.isDom0, false);
    checkFlag(op, `${at}.building`, domain.building, false);
    checkFlag(op, `${at}.uncooperative`, domain.uncooperative, false);
    checkFlag(op, `${at}.paused`, domain.paused, true);
    checkFlag(op, `${at}.dying`, domain.dying, true);
    checkFlag(op, `${at}.canBalloon`, domain.canBalloon, true);
  });
}
