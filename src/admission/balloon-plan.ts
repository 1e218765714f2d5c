/**
 * The ballooning fallback planner (claim-first, step 2): when a claim fails with ENOMEM, choose donors and new
 * balloon targets that free the shortfall. Pure: a function of one observed state and a policy.
 *
 * How the load is spread — "the same fraction of each donor's reclaimable range":
 *   every eligible donor i has a reclaimable range r_i = basis_i − floor_i, where basis_i is where it is already
 *   heading (min(tot_pages, target)) and floor_i its floor. Each donor gives g_i = ⌈γ·r_i⌉ pages, with one γ for all,
 *   the smallest that covers what is still missing plus a safety margin: γ = min(1, (missing + margin) / Σ r_i).
 * Why this and not squeezed's rule verbatim: squeezed sets every guest to min + γ·(max − min), the same *position* in
 * its [min, max] range, which asks guests that sit below that position to GROW (its two-phase targets exist for that).
 * A claim fallback only needs to free memory, never to rebalance, so we take the same fraction of what each donor
 * can still give from where it is now: nobody is asked to grow, and on a balanced host (all guests at the same
 * position) the result is squeezed's. Compared with xl (dom0 only) and qmemman's single "main donor" failures
 * (Qubes #1136, #8087), spreading means a slow or stuck donor holds up only its share, and its replacement share is
 * small when it is marked uncooperative and the plan is redone (docs/claim-rules.md#lesson-5).
 *
 * The safety margin (qmemman asks ×1.05 for the same reason; squeezed subtracts an "inaccuracy"): balloon drivers
 * stop a little short of their target, and Xen's own accounting moves a few pages, so we ask for
 * max(marginMinPages, ⌈missing × marginFraction⌉) more than is missing — never beyond the donors' ranges: when only
 * the bare shortfall fits, the plan asks for every reclaimable page (γ = 1) and is still feasible.
 *
 * Rounding never under-covers: g_i = ⌈asked·r_i / Σr⌉ computed exactly (BigInt: page counts times ranges exceed
 * 2^53 on big hosts), so Σ g_i ≥ asked, and g_i ≤ r_i because asked ≤ Σr, so no donor goes below its floor.
 *
 * Memory already on its way is credited, which makes replanning after a stuck donor correct: a cooperative donor whose
 * target is below its tot_pages will free the difference without being asked again; an uncooperative donor's
 * promise is not counted. Guests asked to grow (target above tot_pages, up to max_pages) will take free memory as they
 * balloon up, so with countPendingGrowth their growth is subtracted from the headroom first (the model's rule).
 */
import { KIB_PER_GIB, kibToPagesCeil, LIBXL_MIN_DOM0_KIB, pagesToKiB } from '../units.js';
import { checkObject, invalidArgument } from '../validate.js';
import { checkObservedState, headroomPages, targetPages, type DomainState, type ObservedState } from './state.js';

/** How the ballooning fallback chooses donors and how much to ask (docs/architecture.md#donors); every field has a default. */
export interface BalloonPolicy {
  /** dom0 is never planned below this (default 1 GiB; never below libxl's own 128 MiB). */
  dom0MinKiB: number;
  /** May dom0 be a donor at all (default true, above dom0MinKiB). */
  dom0Ballooning: boolean;
  /** Domains never asked (uncooperative ones), in addition to those flagged in the state. */
  excludedDomids: readonly number[];
  /** Per-domain floors set by policy; a domain's floor is the highest of this, its own minKiB, and dom0's. */
  floorsKiB: Readonly<Record<number, number>>;
  /** Ask this fraction more than is missing (default 0.05, qmemman's 1.05 factor). */
  marginFraction: number;
  /** …and at least this many pages more (default 256 = 1 MiB). */
  marginMinPages: number;
  /** Subtract the pending growth of guests ballooning up from the headroom (default true). */
  countPendingGrowth: boolean;
}

export const DEFAULT_BALLOON_POLICY: Readonly<BalloonPolicy> = Object.freeze({
  dom0MinKiB: KIB_PER_GIB,
  dom0Ballooning: true,
  excludedDomids: Object.freeze([]) as readonly number[],
  floorsKiB: Object.freeze({}),
  marginFraction: 0.05,
  marginMinPages: 256,
  countPendingGrowth: true,
});

export type ExclusionReason =
  | 'building'
  | 'uncooperative'
  | 'dom0-not-allowed'
  | 'paused'
  | 'dying'
  | 'at-floor';

export interface ExcludedDomain {
  domid: number;
  name: string;
  reason: ExclusionReason;
}

/** A domain that may give memory, seen from where it is heading now. */
export interface DonorCandidate {
  domid: number;
  name: string;
  totPages: number;
  /** min(tot_pages, target): where the domain is already heading. */
  basisPages: number;
  floorPages: number;
  /** basis − floor: what it can still be asked for. */
  rangePages: number;
  /** tot − basis: what it is already freeing (a target set earlier, not reached yet). */
  inFlightPages: number;
  targetKiB: number;
  floorKiB: number;
}

export interface PlannedDonor {
  domid: number;
  name: string;
  /** Its target before this plan. */
  fromKiB: number;
  /** Its new target (equal to fromKiB for a donor that is only watched while it finishes an earlier target). */
  toKiB: number;
  floorKiB: number;
  /** Pages newly asked of it by this plan (from its basis). */
  askedPages: number;
  /** Pages it will free from its current tot_pages once it reaches toKiB. */
  expectedFreePages: number;
}

export interface InfeasibleReason {
  code: 'not-enough-reclaimable';
  message: string;
}

export interface BalloonPlan {
  /** How the load was spread: the same fraction of every range (claim-first, model) or round-robin turns. */
  method: 'proportional' | 'round-robin';
  feasible: boolean;
  /** What must be freed beyond the usable headroom: need − (headroom − pending growth), at least 0. */
  shortfallPages: number;
  /** What this plan expects to free: in-flight credit plus every donor's new ask. ≥ shortfall when feasible. */
  coveredPages: number;
  /** The common fraction of every asked donor's range (0 when nobody is asked, and for round-robin plans). */
  gamma: number;
  /** How much beyond the shortfall was asked (the safety margin actually applied). */
  marginPages: number;
  donors: PlannedDonor[];
  excluded: ExcludedDomain[];
  /** headroom − pending growth, as used. */
  usableHeadroomPages: number;
  /** Everything that could be freed: in-flight credit + Σ ranges. */
  reclaimablePages: number;
  reason?: InfeasibleReason;
}

export interface BalloonRequest {
  /** Pages the failed claim needed (what the build will populate). */
  needPages: number;
  policy?: Partial<BalloonPolicy>;
}

const OP = 'planBalloon';

/** The policy with defaults filled in and every field checked: EINVAL naming `policy.FIELD` for an unknown or bad one. */
export function resolveBalloonPolicy(op: string, partial: Partial<BalloonPolicy> = {}): BalloonPolicy {
  checkObject(op, 'policy', partial);
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(DEFAULT_BALLOON_POLICY, key)) {
      throw invalidArgument(op, `policy.${key}`, `a known setting (${Object.keys(DEFAULT_BALLOON_POLICY).join(', ')})`, key);
    }
  }
  const policy: BalloonPolicy = { ...DEFAULT_BALLOON_POLICY, ...stripUndefined(partial) };
  const finiteAtLeast = (name: string, value: unknown, min: number): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw invalidArgument(op, `policy.${name}`, `a finite number >= ${min}`, value);
    }
  };
  finiteAtLeast('dom0MinKiB', policy.dom0MinKiB, 0);
  finiteAtLeast('marginFraction', policy.marginFraction, 0);
  if (policy.marginFraction > 1) throw invalidArgument(op, 'policy.marginFraction', 'at most 1', policy.marginFraction);
  if (!Number.isSafeInteger(policy.marginMinPages) || policy.marginMinPages < 0) {
    throw invalidArgument(op, 'policy.marginMinPages', 'an integer >= 0', policy.marginMinPages);
  }
  if (typeof policy.dom0Ballooning !== 'boolean') {
    throw invalidArgument(op, 'policy.dom0Ballooning', 'true or false', policy.dom0Ballooning);
  }
  if (typeof policy.countPendingGrowth !== 'boolean') {
    throw invalidArgument(op, 'policy.countPendingGrowth', 'true or false', policy.countPendingGrowth);
  }
  if (!Array.isArray(policy.excludedDomids)) {
    throw invalidArgument(op, 'policy.excludedDomids', 'an array of domids', policy.excludedDomids);
  }
  policy.excludedDomids.forEach((domid, i) => {
    if (!Number.isSafeInteger(domid) || domid < 0) throw invalidArgument(op, `policy.excludedDomids[${i}]`, 'a domid', domid);
  });
  checkObject(op, 'policy.floorsKiB', policy.floorsKiB);
  for (const [domid, kib] of Object.entries(policy.floorsKiB)) finiteAtLeast(`floorsKiB[${domid}]`, kib, 0);
  return policy;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The floor a domain is never planned below, in KiB. */
export function floorKiBOf(domain: DomainState, policy: BalloonPolicy): number {
  let floor = Math.max(domain.minKiB, policy.floorsKiB[domain.domid] ?? 0);
  if (domain.isDom0) floor = Math.max(floor, policy.dom0MinKiB, LIBXL_MIN_DOM0_KIB);
  return floor;
}

/** Pages guests asked to grow will still take from free memory (target above tot_pages, capped at max_pages). */
export function pendingGrowthPages(state: ObservedState): number {
  let growth = 0;
  for (const domain of state.domains) {
    if (domain.building || domain.dying) continue;
    const goal = Math.min(targetPages(domain), domain.maxPages);
    if (goal > domain.totPages) growth += goal - domain.totPages;
  }
  return growth;
}

function exclusionOf(domain: DomainState, policy: BalloonPolicy, excluded: ReadonlySet<number>): ExclusionReason | null {
  if (domain.dying) return 'dying';
  // docs/claim-rules.md#lesson-9: a guest ballooned down before its kernel finished booting can deadlock on memory.
  if (domain.building) return 'building';
  if (domain.uncooperative || excluded.has(domain.domid)) return 'uncooperative';
  if (domain.isDom0 && !policy.dom0Ballooning) return 'dom0-not-allowed';
  if (domain.paused) return 'paused';
  return null;
}

/**
 * Sorts the domains into candidates (may give, or are already giving) and excluded ones, with the reason.
 * A candidate with nothing left to give and nothing in flight is excluded as 'at-floor'.
 */
export function donorCandidates(
  state: ObservedState,
  policy: BalloonPolicy,
): { candidates: DonorCandidate[]; excluded: ExcludedDomain[] } {
  const excludedSet = new Set(policy.excludedDomids);
  const candidates: DonorCandidate[] = [];
  const excluded: ExcludedDomain[] = [];
  const byDomid = [...state.domains].sort((a, b) => a.domid - b.domid);
  for (const domain of byDomid) {
    const reason = exclusionOf(domain, policy, excludedSet);
    if (reason) {
      excluded.push({ domid: domain.domid, name: domain.name, reason });
      continue;
    }
    const floorKiB = floorKiBOf(domain, policy);
    const floorPages = kibToPagesCeil(floorKiB);
    const basisPages = Math.min(domain.totPages, targetPages(domain));
    const rangePages = Math.max(0, basisPages - floorPages);
    const inFlightPages = domain.totPages - basisPages;
    if (rangePages === 0 && inFlightPages === 0) {
      excluded.push({ domid: domain.domid, name: domain.name, reason: 'at-floor' });
      continue;
    }
    candidates.push({
      domid: domain.domid,
      name: domain.name,
      totPages: domain.totPages,
      basisPages,
      floorPages,
      rangePages,
      inFlightPages,
      targetKiB: domain.targetKiB,
      floorKiB,
    });
  }
  return { candidates, excluded };
}

/** How much more than `missing` to ask for (see the header): max(marginMinPages, ⌈missing × marginFraction⌉). */
export function safetyMarginPages(missing: number, policy: BalloonPolicy): number {
  return Math.max(policy.marginMinPages, Math.ceil(missing * policy.marginFraction));
}

/** ⌈a·b / c⌉ exactly, for non-negative safe integers with c > 0. */
export function mulDivCeil(a: number, b: number, c: number): number {
  const product = BigInt(a) * BigInt(b);
  const divisor = BigInt(c);
  return Number((product + divisor - 1n) / divisor);
}

/**
 * A plan's donors, in the candidates' order, each asked for `askedPagesOf(candidate)` from its basis; a candidate
 * asked for nothing stays only while it is still freeing memory toward an earlier target (watched, target kept).
 * coveredPages: `creditPages` (that memory in flight) plus everything asked.
 */
export function plannedDonors(
  candidates: readonly DonorCandidate[],
  creditPages: number,
  askedPagesOf: (candidate: DonorCandidate) => number,
): { donors: PlannedDonor[]; coveredPages: number } {
  const donors: PlannedDonor[] = [];
  let coveredPages = creditPages;
  for (const candidate of candidates) {
    const askedPages = askedPagesOf(candidate);
    if (askedPages === 0 && candidate.inFlightPages === 0) continue;
    const toPages = candidate.basisPages - askedPages;
    donors.push({
      domid: candidate.domid,
      name: candidate.name,
      fromKiB: candidate.targetKiB,
      // A donor only watched keeps its exact target; a new one is a whole number of pages.
      toKiB: askedPages === 0 ? candidate.targetKiB : pagesToKiB(toPages),
      floorKiB: candidate.floorKiB,
      askedPages,
      expectedFreePages: candidate.totPages - toPages,
    });
    coveredPages += askedPages;
  }
  return { donors, coveredPages };
}

/**
 * Plans the fallback for one failed claim of `needPages`. Infeasible plans ask nobody: when even every reclaimable
 * page plus the headroom cannot cover the need, the request fails at once without ballooning anyone.
 */
export function planBalloon(state: ObservedState, request: BalloonRequest): BalloonPlan {
  checkObservedState(OP, state);
  const needPages = request.needPages;
  if (!Number.isSafeInteger(needPages) || needPages < 0) {
    throw invalidArgument(OP, 'needPages', 'an integer from 0 to 2^53-1', needPages);
  }
  const policy = resolveBalloonPolicy(OP, request.policy);
  const { candidates, excluded } = donorCandidates(state, policy);

  const growth = policy.countPendingGrowth ? pendingGrowthPages(state) : 0;
  const usableHeadroomPages = headroomPages(state.host) - growth;
  const shortfallPages = Math.max(0, needPages - usableHeadroomPages);
  const creditPages = candidates.reduce((sum, c) => sum + c.inFlightPages, 0);
  const totalRange = candidates.reduce((sum, c) => sum + c.rangePages, 0);
  const reclaimablePages = creditPages + totalRange;
  const base = { method: 'proportional' as const, shortfallPages, excluded, usableHeadroomPages, reclaimablePages };

  if (shortfallPages === 0) {
    return { ...base, feasible: true, coveredPages: 0, gamma: 0, marginPages: 0, donors: [] };
  }
  if (reclaimablePages < shortfallPages) {
    return {
      ...base,
      feasible: false,
      coveredPages: 0,
      gamma: 0,
      marginPages: 0,
      donors: [],
      reason: {
        code: 'not-enough-reclaimable',
        message:
          `needs ${needPages} pages; usable headroom is ${Math.max(0, usableHeadroomPages)} pages and at most ` +
          `${reclaimablePages} more can be freed from ${candidates.length} eligible donor(s) without going below a ` +
          `floor (${excluded.length} domain(s) excluded)`,
      },
    };
  }

  const missing = shortfallPages - creditPages;
  let asked = 0;
  let gamma = 0;
  if (missing > 0) {
    asked = Math.min(totalRange, missing + safetyMarginPages(missing, policy));
    gamma = asked / totalRange;
  }
  const { donors, coveredPages } = plannedDonors(candidates, creditPages, (candidate) =>
    asked > 0 && candidate.rangePages > 0 ? mulDivCeil(asked, candidate.rangePages, totalRange) : 0,
  );
  return {
    ...base,
    feasible: true,
    coveredPages,
    gamma,
    marginPages: coveredPages - shortfallPages,
    donors,
  };
}
