/**
 * squeezed's balancer, as pure decisions (the xapi peer model, src/peers/xapi.ts, carries them out). Follows
 * xapi-project/xen-api's ocaml/squeezed/lib/squeeze.ml (master of 2026-08, commit e2ee48d688) — Proportional,
 * Stuckness_monitor and Squeezer.one_iteration — and the constants of ocaml/squeezed/src/squeeze_xen.ml:
 *
 * - every active domain (it can balloon and is not stuck) gets target = dynamic_min + γ·(dynamic_max − dynamic_min)
 *   with one γ ∈ [0, 1] for all: the surplus (host free + what every active domain frees at dynamic_min, less the
 *   host target) shared in proportion to each range (`allocate_memory_in_proportion`);
 * - targets are set in two phases: while some domain must free memory, only the freeing targets are set;
 * - a domain asked to move that has not moved toward its target for more than 5 s is stuck (inactive) and left out
 *   of the next γ (`assume_balloon_driver_stuck_after`);
 * - success when every active domain has hit its target (within its inaccuracy, 4 KiB) and free memory meets the
 *   condition; failure when they all have and it does not (the inactive ones that could balloon are blamed).
 * The host free memory squeezed aims to keep is the slush: low_mem_emergency_pool (64 MiB) + extra_mem_to_keep
 * (8 MiB) = 72 MiB.
 */

/** squeeze_xen.ml: target_host_free_mem_kib = 64 MiB + 8 MiB. */
export const SQUEEZED_SLUSH_KIB = 72 * 1024;
/** squeeze_xen.ml: free_memory_tolerance_kib. */
export const SQUEEZED_TOLERANCE_KIB = 512;
/** squeeze_xen.ml: every domain's inaccuracy_kib. */
export const SQUEEZED_INACCURACY_KIB = 4;
/** Stuckness_monitor.assume_balloon_driver_stuck_after, in ms. */
export const SQUEEZED_STUCK_AFTER_MS = 5000;
/** change_host_free_memory waits `io.wait 1.` between iterations, in ms. */
export const SQUEEZED_ITERATION_MS = 1000;
/** squeezed.ml: balance_check_interval, in ms. */
export const SQUEEZED_BALANCE_INTERVAL_MS = 10_000;

/** One domain as squeezed's make_host sees it (KiB). */
export interface SqueezeDomain {
  domid: number;
  name: string;
  /** It has a balloon driver that has booted (squeezed: feature-balloon): only such a domain is asked. */
  canBalloon: boolean;
  dynamicMinKiB: number;
  dynamicMaxKiB: number;
  targetKiB: number;
  /** tot_pages in KiB. */
  actualKiB: number;
}

/** squeeze.ml's min_freeable: what the domain frees at dynamic_min, less twice its inaccuracy. */
export function minFreeableKiB(d: SqueezeDomain): number {
  return Math.max(0, d.actualKiB - d.dynamicMinKiB - 2 * SQUEEZED_INACCURACY_KIB);
}

function hasHitTarget(actualKiB: number, targetKiB: number): boolean {
  return Math.abs(actualKiB - targetKiB) <= SQUEEZED_INACCURACY_KIB;
}

/** Proportional.compute_target_adjustments: each active domain's target for a host free memory target. */
export function proportionalTargets(freeKiB: number, hostTargetKiB: number, active: readonly SqueezeDomain[]): Map<number, number> {
  const maximumFreeKiB = active.reduce((sum, d) => sum + minFreeableKiB(d), freeKiB);
  const surplusKiB = Math.max(0, maximumFreeKiB - hostTargetKiB);
  const totalRange = active.reduce((sum, d) => sum + Math.max(0, d.dynamicMaxKiB - d.dynamicMinKiB), 0);
  const gamma = totalRange === 0 ? 0 : Math.min(1, Math.max(0, surplusKiB / totalRange));
  return new Map(active.map((d) => [d.domid, d.dynamicMinKiB + Math.floor(gamma * Math.max(0, d.dynamicMaxKiB - d.dynamicMinKiB))]));
}

/** Stuckness_monitor's memory of one domain. */
export interface Stuckness {
  lastActualKiB: number;
  lastProgressMs: number;
  stuck: boolean;
}

/**
 * Stuckness_monitor.update: progress is moving toward the target; a domain with a request (not at its target) and
 * no progress for more than 5 s is stuck. A domain seen for the first time is making progress now.
 */
export function updateStuckness(previous: ReadonlyMap<number, Stuckness>, domains: readonly SqueezeDomain[], nowMs: number): Map<number, Stuckness> {
  const next = new Map<number, Stuckness>();
  for (const d of domains) {
    const before = previous.get(d.domid) ?? { lastActualKiB: d.actualKiB, lastProgressMs: nowMs, stuck: false };
    const delta = d.actualKiB - before.lastActualKiB;
    const progressing = (delta < 0 && d.targetKiB < d.actualKiB) || (delta > 0 && d.targetKiB > d.actualKiB);
    const state = progressing ? { lastActualKiB: d.actualKiB, lastProgressMs: nowMs, stuck: false } : { ...before, lastActualKiB: d.actualKiB };
    if (!hasHitTarget(d.actualKiB, d.targetKiB) && nowMs - state.lastProgressMs > SQUEEZED_STUCK_AFTER_MS) state.stuck = true;
    next.set(d.domid, state);
  }
  return next;
}

export type SqueezeAction =
  | { kind: 'success' }
  /** Every active domain hit its target and it is still short: these inactive domains did not cooperate. */
  | { kind: 'failed'; blamed: number[] }
  | { kind: 'adjust'; targets: { domid: number; name: string; fromKiB: number; toKiB: number }[] };

/**
 * Squeezer.one_iteration: from one view of the host (free memory as squeezed counts it, KiB) and which domains are
 * stuck, the targets to set, or success, or failure. `succeeded(freeKiB)` is the caller's success condition.
 */
export function squeezeIteration(
  freeKiB: number,
  hostTargetKiB: number,
  domains: readonly SqueezeDomain[],
  stuckness: ReadonlyMap<number, Stuckness>,
  succeeded: (freeKiB: number) => boolean,
): SqueezeAction {
  const active = domains.filter((d) => d.canBalloon && !stuckness.get(d.domid)?.stuck);
  const targets = proportionalTargets(freeKiB, hostTargetKiB, active);
  const moves = active.map((d) => ({ d, to: targets.get(d.domid)! }));
  const freeing = moves.filter(({ d, to }) => !hasHitTarget(d.actualKiB, to) && to < d.actualKiB);
  // Two phases: while anyone must free memory, nobody is asked to take any.
  const phase = freeing.length > 0 ? freeing : moves;
  const changes = phase.filter(({ d, to }) => d.targetKiB !== to);
  const allReached = active.every((d) => hasHitTarget(d.actualKiB, d.targetKiB));
  if (!allReached || changes.length > 0) {
    return { kind: 'adjust', targets: changes.map(({ d, to }) => ({ domid: d.domid, name: d.name, fromKiB: d.targetKiB, toKiB: to })) };
  }
  if (succeeded(freeKiB)) return { kind: 'success' };
  const blamed = domains.filter((d) => d.canBalloon && stuckness.get(d.domid)?.stuck).map((d) => d.domid);
  return { kind: 'failed', blamed };
}

/**
 * xapi's memory check before a start (xapi's host free memory "with maximum compression"): what the host could free
 * if every domain that can balloon went to its dynamic_min, less the slush. A request above it fails at once.
 */
export function maximumFreeKiB(freeKiB: number, domains: readonly SqueezeDomain[]): number {
  return domains.filter((d) => d.canBalloon).reduce((sum, d) => sum + minFreeableKiB(d), freeKiB) - SQUEEZED_SLUSH_KIB;
}
