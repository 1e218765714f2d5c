/**
 * The one ballooning planner, for every strategy (docs/architecture.md#the-planner): when memory is short, choose
 * donors and new balloon targets that free the shortfall as soon as the donors can. Pure: a function of one
 * observed state, a policy and the balloon rates observed so far.
 *
 * What must be freed: the shortfall S = need + promised + reserve − (headroom − pending growth), where `promised` is
 * what the strategy has already promised out of the headroom that Xen does not know about yet, and `reserve` is what
 * is kept free for Xen itself (capacity.ts). The plan asks for A = S plus a safety margin (qmemman asks ×1.05 for the
 * same reason; squeezed subtracts an "inaccuracy": drivers stop a little short), never more than the donors can give.
 *
 * How it is split — water-filling on time. Every eligible donor i can give g_i = tot_pages − min(target, floor) from
 * where it is now (what it is already freeing toward an earlier target included) at a rate w_i. The plan asks each
 * d_i = min(g_i, w_i·T) with the smallest T for which Σ d_i ≥ A: every donor works until the same moment T, or until
 * it is empty, so nobody idles while another works alone (the fastest way to free A at those rates).
 * - Before any rate is known, w_i = g_i: every donor gives the same fraction γ of what it can give, squeezed's
 *   proportional rule (`method: 'proportional'`) — on a balanced host the result is squeezed's. Unlike squeezed's
 *   rule verbatim (the same position in each [min, max] range), nobody is asked to grow: a claim fallback only frees.
 * - Once the wait has observed rates (progress.ts's donorRates), w_i is the donor's observed rate (`'by-rate'`); a
 *   donor not observed yet gets the mean of the observed rates; one observed not to move gets nothing new while the
 *   others can cover A, and what it was asked is not counted on (its ask stands: the stall rule marks it if it stays
 *   still). So replanning the remainder as soon as any
 *   donor reaches its target keeps every donor busy (work-conserving).
 * A donor's new target is tot_pages − d_i. It may be ABOVE its current target when an earlier ask is more than it
 * now needs to give (the executor then gives back only what its own requester asked: donor-ledger.ts).
 * Rounding never under-covers: shares are rounded up and topped up, and no donor is planned below its floor.
 *
 * The split is a function of the weights alone, so a later planner can add donors or shares of its own (asking
 * other donors up front, for instance) by changing weights or A without touching the arithmetic.
 */
import { KIB_PER_GIB, KIB_PER_MIB, kibToPagesCeil, LIBXL_MIN_DOM0_KIB, pagesToKiB } from '../units.js';
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
  /**
   * Free memory kept for Xen itself, in KiB (default 64 MiB: Xen's low-memory threshold, the default of its
   * low_mem_virq_limit). Xen's own allocations (not owned by any domain) are refused once claims cover the free
   * memory (docs/claim-rules.md#rule-7), so no admission may take it (capacity.ts).
   */
  reserveKiB: number;
  /**
   * How far short of its target a donor may stop and still count as there (default 256 pages = 1 MiB; the wait's
   * targetTolerancePages): every donor asked anything is asked this much more (within what it can give), so its
   * share comes even when its driver stops that short (squeezed compensates its drivers' inaccuracy the same way).
   */
  tolerancePages: number;
}

/** 64 MiB, in KiB: Xen's low-memory threshold (xen/common/page_alloc.c, low_mem_virq_limit's default). */
export const DEFAULT_RESERVE_KIB = 64 * KIB_PER_MIB;

export const DEFAULT_BALLOON_POLICY: Readonly<BalloonPolicy> = Object.freeze({
  dom0MinKiB: KIB_PER_GIB,
  dom0Ballooning: true,
  excludedDomids: Object.freeze([]) as readonly number[],
  floorsKiB: Object.freeze({}),
  marginFraction: 0.05,
  marginMinPages: 256,
  countPendingGrowth: true,
  reserveKiB: DEFAULT_RESERVE_KIB,
  tolerancePages: 256,
});

export type ExclusionReason =
  | 'building'
  | 'uncooperative'
  | 'no-balloon-driver'
  | 'dom0-not-allowed'
  | 'paused'
  | 'dying'
  | 'at-floor';

export interface ExcludedDomain {
  domid: number;
  name: string;
  reason: ExclusionReason;
}

/** A domain that may give memory, seen from where it is now. */
export interface DonorCandidate {
  domid: number;
  name: string;
  totPages: number;
  /** min(tot_pages, target): where the domain is already heading. */
  basisPages: number;
  floorPages: number;
  /** basis − floor: what it can still be asked for beyond its current target. */
  rangePages: number;
  /** tot − basis: what it is already freeing (a target set earlier, not reached yet). */
  inFlightPages: number;
  /** in flight + range: everything it can still give from where it is (a target set below its floor included). */
  givePages: number;
  targetKiB: number;
  floorKiB: number;
  /** Its max_pages now, in KiB (what a limit following its target is taken from). */
  maxKiB: number;
}

export interface PlannedDonor {
  domid: number;
  name: string;
  /** Its target before this plan. */
  fromKiB: number;
  /** Its new target (equal to fromKiB when the plan keeps it: a donor only watched while it finishes). */
  toKiB: number;
  floorKiB: number;
  /** Pages newly asked of it by this plan, below its current target (its basis). */
  askedPages: number;
  /** Pages of an earlier ask this plan no longer needs from it (its target could go back up by this much). */
  releasedPages: number;
  /** Pages the plan expects it to free from its current tot_pages: its share d_i (0 for a donor seen not to move). */
  expectedFreePages: number;
  /** The weight it was planned with: its observed rate in pages/s, or null (not observed; proportional plans). */
  ratePagesPerS: number | null;
  /** Its max_pages when planned, in KiB. */
  maxKiB: number;
  /** Its tot_pages when planned. */
  totPages: number;
}

export interface InfeasibleReason {
  code: 'not-enough-reclaimable';
  message: string;
}

export interface BalloonPlan {
  /** How the load was spread: the same fraction of what each can give, or water-filling on observed rates. */
  method: 'proportional' | 'by-rate';
  feasible: boolean;
  /** What must be freed: need + promised + reserve − usable headroom, at least 0. */
  shortfallPages: number;
  /** What this plan expects to free: Σ of every donor's share. ≥ shortfall when feasible. */
  coveredPages: number;
  /** The common fraction of what each donor can give (proportional plans; 0 for by-rate plans and when none asked). */
  gamma: number;
  /** By-rate plans: seconds until every share is freed at the observed rates (null otherwise). */
  finishS: number | null;
  /** How much beyond the shortfall was asked (the safety margin actually applied). */
  marginPages: number;
  donors: PlannedDonor[];
  excluded: ExcludedDomain[];
  /** headroom − pending growth, as used. */
  usableHeadroomPages: number;
  /** What was already promised out of the headroom (the request's input). */
  promisedPages: number;
  /** The reserve kept free for Xen, in pages (the policy's reserveKiB). */
  reservePages: number;
  /** Everything the eligible donors could still give: Σ (tot − floor). */
  reclaimablePages: number;
  reason?: InfeasibleReason;
}

export interface BalloonRequest {
  /** Pages the request needs (what the build will populate), or a run of requests together. */
  needPages: number;
  /** Pages already promised out of the headroom that Xen does not know about (default 0). */
  promisedPages?: number;
  policy?: Partial<BalloonPolicy>;
  /** Observed balloon rates, pages per second (≥ 0), by domid; donors not in it have not been observed. */
  rates?: ReadonlyMap<number, number>;
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
  finiteAtLeast('reserveKiB', policy.reserveKiB, 0);
  finiteAtLeast('marginFraction', policy.marginFraction, 0);
  if (policy.marginFraction > 1) throw invalidArgument(op, 'policy.marginFraction', 'at most 1', policy.marginFraction);
  if (!Number.isSafeInteger(policy.marginMinPages) || policy.marginMinPages < 0) {
    throw invalidArgument(op, 'policy.marginMinPages', 'an integer >= 0', policy.marginMinPages);
  }
  if (!Number.isSafeInteger(policy.tolerancePages) || policy.tolerancePages < 0) {
    throw invalidArgument(op, 'policy.tolerancePages', 'an integer >= 0', policy.tolerancePages);
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

/** The policy's reserve in whole pages (rounded up: a reserve is never under-kept). */
export function reservePagesOf(policy: BalloonPolicy): number {
  return kibToPagesCeil(policy.reserveKiB);
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
  // docs/claim-rules.md#lesson-12: some guests have no working balloon driver; asking them only costs a stall.
  if (domain.canBalloon === false) return 'no-balloon-driver';
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
      givePages: inFlightPages + rangePages,
      targetKiB: domain.targetKiB,
      floorKiB,
      maxKiB: pagesToKiB(domain.maxPages),
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
 * Water-filling: shares d_i = min(cap_i, w_i·T) with the smallest T for which Σ d_i ≥ amount, rounded up to whole
 * pages and topped up so the sum is at least `amount` (which must not exceed Σ cap_i over w_i > 0). Returns the
 * shares and T (0 when amount is 0). Exported for its tests.
 */
export function waterFill(caps: readonly number[], weights: readonly number[], amount: number): { shares: number[]; level: number } {
  const shares = caps.map(() => 0);
  if (amount <= 0) return { shares, level: 0 };
  const open = caps.map((_, i) => i).filter((i) => weights[i]! > 0 && caps[i]! > 0);
  // Each donor is full at T = cap/w: walk those moments in order, the rest sharing what is left by weight.
  open.sort((a, b) => caps[a]! / weights[a]! - caps[b]! / weights[b]!);
  let left = amount;
  let weightLeft = open.reduce((sum, i) => sum + weights[i]!, 0);
  let level = 0;
  for (let k = 0; k < open.length; k++) {
    const i = open[k]!;
    const full = caps[i]! / weights[i]!;
    if (weightLeft * full >= left) {
      level = left / weightLeft;
      break;
    }
    left -= caps[i]!;
    weightLeft -= weights[i]!;
    level = full;
  }
  let sum = 0;
  for (const i of open) {
    shares[i] = Math.min(caps[i]!, Math.ceil(weights[i]! * level));
    sum += shares[i]!;
  }
  // Floating point may leave a few pages short: top up, biggest weight first.
  for (const i of [...open].sort((a, b) => weights[b]! - weights[a]!)) {
    if (sum >= amount) break;
    const add = Math.min(caps[i]! - shares[i]!, amount - sum);
    shares[i]! += add;
    sum += add;
  }
  return { shares, level };
}

/**
 * The weight of each candidate: its observed rate; unobserved ones the mean observed rate. Without any observed
 * positive rate: what each can give (the proportional rule).
 */
function weightsOf(candidates: readonly DonorCandidate[], rates: ReadonlyMap<number, number> | undefined): {
  weights: number[];
  byRate: boolean;
} {
  const known = candidates.filter((c) => c.givePages > 0 && rates?.has(c.domid)).map((c) => rates!.get(c.domid)!);
  const positive = known.filter((r) => r > 0);
  if (positive.length === 0) return { weights: candidates.map((c) => c.givePages), byRate: false };
  const mean = positive.reduce((a, b) => a + b, 0) / positive.length;
  return { weights: candidates.map((c) => rates!.get(c.domid) ?? mean), byRate: true };
}

function checkRates(rates: ReadonlyMap<number, number> | undefined): void {
  if (rates === undefined) return;
  for (const [domid, rate] of rates) {
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
      throw invalidArgument(OP, `rates[${domid}]`, 'a finite number of pages per second >= 0', rate);
    }
  }
}

function infeasible(
  base: Omit<BalloonPlan, 'method' | 'feasible' | 'coveredPages' | 'gamma' | 'finishS' | 'marginPages' | 'donors'>,
  eligible: number,
  excluded: number,
  needPages: number,
  code: InfeasibleReason['code'],
  atMostPages: number,
): BalloonPlan {
  const mib = (pages: number): string => `${Math.floor(pagesToKiB(pages) / KIB_PER_MIB)} MiB`;
  return {
    ...base,
    method: 'proportional',
    feasible: false,
    coveredPages: 0,
    gamma: 0,
    finishS: null,
    marginPages: 0,
    donors: [],
    reason: {
      code,
      message:
        `needs ${mib(needPages)} plus the ${mib(base.reservePages)} kept free for Xen; the usable headroom is ` +
        `${mib(Math.max(0, base.usableHeadroomPages - base.promisedPages))} and at most ${mib(atMostPages)} more can be freed ` +
        `from ${eligible} eligible donor(s) without going below a floor (${excluded} domain(s) excluded)`,
    },
  };
}

/**
 * Plans ballooning for `needPages` (see the header). Infeasible plans ask nobody: when even every page the
 * eligible donors could give plus the usable headroom cannot cover the need and the reserve, the request fails at
 * once without ballooning anyone.
 */
export function planBalloon(state: ObservedState, request: BalloonRequest): BalloonPlan {
  checkObservedState(OP, state);
  const needPages = request.needPages;
  if (!Number.isSafeInteger(needPages) || needPages < 0) {
    throw invalidArgument(OP, 'needPages', 'an integer from 0 to 2^53-1', needPages);
  }
  const promisedPages = request.promisedPages ?? 0;
  if (!Number.isSafeInteger(promisedPages) || promisedPages < 0) {
    throw invalidArgument(OP, 'promisedPages', 'an integer from 0 to 2^53-1', promisedPages);
  }
  checkRates(request.rates);
  const policy = resolveBalloonPolicy(OP, request.policy);
  const reservePages = reservePagesOf(policy);
  const { candidates, excluded } = donorCandidates(state, policy);

  const growth = policy.countPendingGrowth ? pendingGrowthPages(state) : 0;
  const usableHeadroomPages = headroomPages(state.host) - growth;
  const shortfallPages = Math.max(0, needPages + promisedPages + reservePages - usableHeadroomPages);
  const reclaimablePages = candidates.reduce((sum, c) => sum + c.givePages, 0);
  const base = { shortfallPages, excluded, usableHeadroomPages, promisedPages, reservePages, reclaimablePages };

  if (shortfallPages === 0) {
    return { ...base, method: 'proportional', feasible: true, coveredPages: 0, gamma: 0, finishS: null, marginPages: 0, donors: [] };
  }
  if (reclaimablePages < shortfallPages) {
    return infeasible(base, candidates.length, excluded.length, needPages, 'not-enough-reclaimable', reclaimablePages);
  }

  const caps = candidates.map((c) => c.givePages);
  const asked = Math.min(reclaimablePages, shortfallPages + safetyMarginPages(shortfallPages, policy));
  const { weights, byRate } = weightsOf(candidates, request.rates);
  const movingCap = caps.reduce((sum, cap, i) => (weights[i]! > 0 ? sum + cap : sum), 0);
  let shares: number[];
  let level: number;
  if (movingCap >= asked) {
    ({ shares, level } = waterFill(caps, weights, asked));
  } else {
    // The donors seen moving cannot give it all: they give everything, the others share the rest by what they can.
    shares = caps.map((cap, i) => (weights[i]! > 0 ? cap : 0));
    const still = caps.map((cap, i) => (weights[i]! > 0 ? 0 : cap));
    const rest = waterFill(still, still, asked - movingCap).shares;
    shares = shares.map((s, i) => s + rest[i]!);
    level = Number.POSITIVE_INFINITY;
  }

  const donors: PlannedDonor[] = [];
  let coveredPages = 0;
  candidates.forEach((c, i) => {
    const share = shares[i]!;
    coveredPages += share;
    if (share === 0 && c.inFlightPages === 0) return;
    if (share === 0 && byRate && weights[i] === 0) {
      // Observed not to move: its ask stands (the stall rule judges it), but nothing is expected of it.
      donors.push({
        domid: c.domid, name: c.name, fromKiB: c.targetKiB, toKiB: c.targetKiB, floorKiB: c.floorKiB, askedPages: 0,
        releasedPages: 0, expectedFreePages: 0, ratePagesPerS: 0, maxKiB: c.maxKiB, totPages: c.totPages,
      });
      return;
    }
    // Asked the tolerance more than its share, so the share comes even if its driver stops that far short.
    const toPages = c.totPages - Math.min(c.givePages, share + policy.tolerancePages);
    donors.push({
      domid: c.domid,
      name: c.name,
      fromKiB: c.targetKiB,
      // A donor whose target already is where the plan wants it keeps its exact target.
      toKiB: toPages === c.basisPages ? c.targetKiB : pagesToKiB(toPages),
      floorKiB: c.floorKiB,
      askedPages: Math.max(0, c.basisPages - toPages),
      releasedPages: c.inFlightPages > 0 ? Math.max(0, toPages - c.basisPages) : 0,
      expectedFreePages: share,
      ratePagesPerS: byRate ? weights[i]! : null,
      maxKiB: c.maxKiB,
      totPages: c.totPages,
    });
  });
  return {
    ...base,
    method: byRate ? 'by-rate' : 'proportional',
    feasible: true,
    coveredPages,
    gamma: byRate ? 0 : asked / reclaimablePages,
    finishS: byRate && Number.isFinite(level) ? level : null,
    marginPages: coveredPages - shortfallPages,
    donors,
  };
}
