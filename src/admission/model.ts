/**
 * The model strategy (xapi's squeezed approach; docs/architecture.md#model): admission decides from an internal model of free memory rather
 * than from the hypervisor's free count, so nothing has to be limited or claimed:
 *
 *   model free = headroom − Σ over running guests (max(target, tot_pages) − tot_pages) − Σ reservations still owed
 *                − the part of the reserve for Xen not already on its way from donors (capacity.ts)
 *
 * - headroom is free − outstanding claims (xl's view), so claims made by anything else are respected too;
 * - a guest's pending growth is capped at max_pages: Xen refuses allocations beyond it (docs/claim-rules.md#rule-7), so a target above
 *   max_pages can never be reached and must not block admissions forever;
 * - a reservation is what a build was promised; once transferred to its domain, what it still owes is its size minus
 *   the pages the domain already has. The domain itself is then left out of the growth sum (no double count).
 * Guests converging toward their targets and builds populating their reservations leave model free unchanged: free
 * falls by exactly what the growth and reservation terms fall by. Memory freed by ballooning down is not credited
 * until it is really free. So a reconcile against a fresh observation shows, in `modelFreeDeltaPages`, only what the
 * model did not predict: frees arriving (positive) or an allocation it did not know about (negative).
 *
 * The model holds only if running guests really grow no further than their targets: the executor enforces that by
 * limiting every running guest's max_pages to max(target, tot_pages) while anything is admitted (squeezed sets
 * max_pages to the target each time it moves a target), and lifts a guest's limit only for growth it admitted
 * (decideGrowth) — otherwise a guest growing during a build breaks the build.
 */
import { invalidArgument } from '../validate.js';
import { planBalloon, reservePagesOf, resolveBalloonPolicy, type BalloonPlan, type BalloonPolicy } from './balloon-plan.js';
import { arrivingPages, canEverFit, hostCapacity } from './capacity.js';
import { checkObservedState, headroomPages, targetPages, type DomainState, type ObservedState } from './state.js';
import { kibToPagesCeil, kibToPagesFloor, pagesToKiB } from '../units.js';

export interface Reservation {
  /** The request it was made for (unique). */
  id: string;
  pages: number;
  /** Set once the domain exists (the reservation is transferred to it). */
  domid?: number;
}

export interface HostModel {
  state: ObservedState;
  reservations: readonly Reservation[];
}

export interface ModelBreakdown {
  headroomPages: number;
  growthPages: number;
  reservedPages: number;
  /** The part of the reserve for Xen that is neither free beyond the rest nor on its way: max(0, reserve − arriving). */
  reserveHeldPages: number;
  /** headroom − growth − reserved − reserve held; negative when the host is over-committed. */
  freePages: number;
}

export function createModel(state: ObservedState, reservations: readonly Reservation[] = []): HostModel {
  checkObservedState('createModel', state);
  const ids = new Set<string>();
  reservations.forEach((r, i) => {
    checkReservation('createModel', `reservations[${i}]`, r);
    if (ids.has(r.id)) throw invalidArgument('createModel', `reservations[${i}].id`, 'unique', r.id);
    ids.add(r.id);
  });
  return { state, reservations: [...reservations] };
}

function checkReservation(op: string, path: string, r: Reservation): void {
  if (typeof r.id !== 'string' || r.id === '') throw invalidArgument(op, `${path}.id`, 'a non-empty string', r.id);
  if (!Number.isSafeInteger(r.pages) || r.pages < 0) {
    throw invalidArgument(op, `${path}.pages`, 'an integer from 0 to 2^53-1', r.pages);
  }
}

function domainOf(state: ObservedState, domid: number): DomainState | undefined {
  return state.domains.find((d) => d.domid === domid);
}

/** What a reservation still owes: its size, minus what its domain already populated. */
export function reservationRemaining(reservation: Reservation, state: ObservedState): number {
  if (reservation.domid === undefined) return reservation.pages;
  const domain = domainOf(state, reservation.domid);
  return Math.max(0, reservation.pages - (domain ? domain.totPages : 0));
}

/** max(target, tot_pages) − tot_pages, capped at max_pages. */
export function pendingGrowth(domain: DomainState): number {
  return Math.max(0, Math.min(targetPages(domain), domain.maxPages) - domain.totPages);
}

/** The model's terms (see the header), with the reserve of `policy` (default 64 MiB). */
export function modelBreakdown(model: HostModel, policy: Partial<BalloonPolicy> = {}): ModelBreakdown {
  const reservedDomids = new Set(model.reservations.flatMap((r) => (r.domid === undefined ? [] : [r.domid])));
  let growthPages = 0;
  for (const domain of model.state.domains) {
    if (domain.dying || reservedDomids.has(domain.domid)) continue;
    growthPages += pendingGrowth(domain);
  }
  const reservedPages = model.reservations.reduce((s, r) => s + reservationRemaining(r, model.state), 0);
  const headroom = headroomPages(model.state.host);
  const resolved = resolveBalloonPolicy('modelBreakdown', policy);
  const reserveHeldPages = Math.max(0, reservePagesOf(resolved) - arrivingPages(model.state, resolved));
  return {
    headroomPages: headroom,
    growthPages,
    reservedPages,
    reserveHeldPages,
    freePages: headroom - growthPages - reservedPages - reserveHeldPages,
  };
}

export function modelFreePages(model: HostModel, policy: Partial<BalloonPolicy> = {}): number {
  return modelBreakdown(model, policy).freePages;
}

export function reserve(model: HostModel, id: string, pages: number): HostModel {
  checkReservation('reserve', 'reservation', { id, pages });
  if (model.reservations.some((r) => r.id === id)) throw invalidArgument('reserve', 'id', 'not reserved yet', id);
  return { ...model, reservations: [...model.reservations, { id, pages }] };
}

/** Ties a reservation to the domain created for it: from now on its populated pages pay the reservation off. */
export function transferReservation(model: HostModel, id: string, domid: number): HostModel {
  if (!model.reservations.some((r) => r.id === id)) throw invalidArgument('transferReservation', 'id', 'a reservation', id);
  return { ...model, reservations: model.reservations.map((r) => (r.id === id ? { ...r, domid } : r)) };
}

export function releaseReservation(model: HostModel, id: string): HostModel {
  return { ...model, reservations: model.reservations.filter((r) => r.id !== id) };
}

export interface ModelRequest {
  id: string;
  needPages: number;
}

export interface ModelAdmission {
  /** The model with a reservation for every admitted request. */
  model: HostModel;
  admitted: ModelRequest[];
  waiting: ModelRequest[];
  /** Can never fit (capacity.ts, with what the model has promised): fail now, ask nobody. */
  impossible: ModelRequest[];
  /** The plan (balloon-plan.ts) for the waiting requests that can be covered (null when none waits). */
  balloon: BalloonPlan | null;
  /** The waiting run the plan is for: its total need (0 when none waits). */
  balloonForPages: number;
}

/**
 * Admits in arrival order (strict FIFO, so memory freed for a waiting request is not given to a later one) while
 * the model has room, reserving for each; plans ballooning for the run of waiting requests that can be covered.
 */
export function admitFromModel(
  model: HostModel,
  requests: readonly ModelRequest[],
  policy: Partial<BalloonPolicy> = {},
  rates?: ReadonlyMap<number, number>,
): ModelAdmission {
  requests.forEach((r, i) => checkReservation('admitFromModel', `requests[${i}]`, { id: r.id, pages: r.needPages }));
  let current = model;
  const admitted: ModelRequest[] = [];
  const waiting: ModelRequest[] = [];
  const impossible: ModelRequest[] = [];
  // What the model has promised (growth agreed to, reservations owed) is not there to give.
  const promised = modelBreakdown(model, policy);
  const capacity = hostCapacity(model.state, policy, promised.growthPages + promised.reservedPages);
  const reclaimable = capacity.reclaimablePages;
  let blocked = false;
  for (const request of requests) {
    const free = modelFreePages(current, policy);
    if (!canEverFit(request.needPages, capacity)) {
      impossible.push(request);
      continue;
    }
    if (!blocked && request.needPages <= free) {
      current = reserve(current, request.id, request.needPages);
      admitted.push(request);
      continue;
    }
    waiting.push(request);
    blocked = true;
  }
  let balloon: BalloonPlan | null = null;
  let target = 0;
  if (waiting.length > 0) {
    const { reservedPages, freePages } = modelBreakdown(current, policy);
    for (const request of waiting) {
      if (target + request.needPages > Math.max(0, freePages) + reclaimable) break;
      target += request.needPages;
    }
    // The planner sees headroom − growth; the model also owes its reservations: they are promised.
    balloon = planBalloon(current.state, {
      needPages: target,
      promisedPages: reservedPages,
      policy: { ...policy, countPendingGrowth: true },
      ...(rates ? { rates } : {}),
    });
  }
  return { model: current, admitted, waiting, impossible, balloon, balloonForPages: target };
}

export interface GrowthDecision {
  allowed: boolean;
  /** Pages the new target adds to the guest's commitment. */
  increasePages: number;
  /** How much model free is missing (0 when allowed). */
  shortfallPages: number;
}

/**
 * A running guest asks to balloon up to `newTargetKiB`: allowed when the model has room for the increase over what
 * it is already committed to. Under the model strategy growth does not wait for builds to finish (conclusion (c)).
 */
export function decideGrowth(model: HostModel, domid: number, newTargetKiB: number, policy: Partial<BalloonPolicy> = {}): GrowthDecision {
  const domain = domainOf(model.state, domid);
  if (!domain) throw invalidArgument('decideGrowth', 'domid', 'a domain in the model', domid);
  if (!Number.isFinite(newTargetKiB) || newTargetKiB < 0) {
    throw invalidArgument('decideGrowth', 'newTargetKiB', 'a finite number >= 0', newTargetKiB);
  }
  const before = pendingGrowth(domain);
  const after = pendingGrowth({ ...domain, targetKiB: newTargetKiB });
  const increasePages = Math.max(0, after - before);
  const free = modelFreePages(model, policy);
  const shortfallPages = Math.max(0, increasePages - Math.max(0, free));
  return { allowed: shortfallPages === 0, increasePages, shortfallPages };
}

/** One guest's max_pages limit under the model: what it is held to, and the growth the limit lets it take. */
export interface ModelLimit {
  domid: number;
  name: string;
  /** Its max_pages now, KiB. */
  maxKiB: number;
  /** The limit to hold it to, KiB: its target — or, for growth the model has no room for, where it is limited now. */
  limitKiB: number;
}

/**
 * What the model enforces (see the header): every running guest with a balloon driver (not being built, not dying)
 * is held to its target. A guest whose target was raised above the limit it has (`held`, KiB by domid) is growth:
 * admitted — its limit raised to the new target — only while the model has free room for it beyond what requests
 * waiting for memory need (`waitingPages`: growth never takes what a pending request waits for), first come (domid
 * order) first served; otherwise it keeps its limit (and waits). Returns the limits, the growth refused, and the model
 * with every admitted growth counted (its state's max_pages at the new limits).
 */
export function modelLimits(
  model: HostModel,
  held: ReadonlyMap<number, number>,
  policy: Partial<BalloonPolicy> = {},
  waitingPages = 0,
): { limits: ModelLimit[]; refused: { domid: number; name: string; increasePages: number }[]; model: HostModel } {
  let free = Math.max(0, modelFreePages(model, policy) - waitingPages);
  const limits: ModelLimit[] = [];
  const refused: { domid: number; name: string; increasePages: number }[] = [];
  for (const d of [...model.state.domains].sort((a, b) => a.domid - b.domid)) {
    if (d.building || d.dying || d.canBalloon === false) continue;
    const maxKiB = pagesToKiB(d.maxPages);
    const limit = held.get(d.domid);
    if (limit !== undefined && d.targetKiB > limit) {
      const increasePages = Math.max(0, kibToPagesCeil(d.targetKiB) - Math.max(d.totPages, kibToPagesFloor(limit)));
      if (increasePages > free) {
        refused.push({ domid: d.domid, name: d.name, increasePages });
        limits.push({ domid: d.domid, name: d.name, maxKiB, limitKiB: limit });
        continue;
      }
      free -= increasePages;
    }
    limits.push({ domid: d.domid, name: d.name, maxKiB, limitKiB: d.targetKiB });
  }
  // What the model counts from now on: each guest's growth up to its limit.
  const limitPages = new Map(limits.map((l) => [l.domid, kibToPagesFloor(l.limitKiB)]));
  const domains = model.state.domains.map((d) => {
    const limit = limitPages.get(d.domid);
    // (Xen keeps the lower of the limit and the guest's own max_pages: counting up to the limit never counts less.)
    return limit === undefined ? d : { ...d, maxPages: limit };
  });
  return { limits, refused, model: { ...model, state: { ...model.state, domains } } };
}

export type ReleaseCause = 'built' | 'gone';

export interface Reconciliation {
  model: HostModel;
  /** Reservations dropped: their domain finished building (its pages now count in tot_pages) or disappeared. */
  released: { id: string; cause: ReleaseCause }[];
  before: ModelBreakdown;
  after: ModelBreakdown;
  /**
   * after.freePages − before.freePages with the releases' own effect taken out: what the model did not predict
   * (positive: frees arrived, e.g. ballooning down; negative: an allocation it did not know about).
   */
  modelFreeDeltaPages: number;
}

/** Replaces the model's observation with a fresh one and drops the reservations that are settled. */
export function reconcile(model: HostModel, observation: ObservedState, policy: Partial<BalloonPolicy> = {}): Reconciliation {
  checkObservedState('reconcile', observation);
  const before = modelBreakdown(model, policy);
  const released: { id: string; cause: ReleaseCause }[] = [];
  const kept: Reservation[] = [];
  for (const reservation of model.reservations) {
    if (reservation.domid !== undefined) {
      const domain = domainOf(observation, reservation.domid);
      if (!domain || domain.dying) {
        released.push({ id: reservation.id, cause: 'gone' });
        continue;
      }
      if (!domain.building) {
        released.push({ id: reservation.id, cause: 'built' });
        continue;
      }
    }
    kept.push(reservation);
  }
  const unreleased = modelBreakdown({ state: observation, reservations: model.reservations }, policy);
  const next: HostModel = { state: observation, reservations: kept };
  const after = modelBreakdown(next, policy);
  return { model: next, released, before, after, modelFreeDeltaPages: unreleased.freePages - before.freePages };
}
