/**
 * Qubes' qmemman, as pure decisions (the qmemman peer model, src/peers/qmemman.ts, carries them out). Follows
 * QubesOS/qubes-core-admin's qubes/qmemman/systemstate.py (`do_balloon`, `get_free_xen_mem`) and
 * qubes/qmemman/algo.py (`balloon`) as of 2026-01 (commit 19d3e509):
 *
 * - free memory as qmemman sees it: physinfo's free memory × 1/1.00781 (MEM_OVERHEAD_FACTOR), less what domains were
 *   assigned but do not use yet (Σ max(0, last target − current));
 * - a start request of `memSize` succeeds once that is ≥ memSize + 25 MiB (XEN_FREE_MEM_MIN);
 * - otherwise each donor (a managed domain whose memory is above its preferred size and that did not stall) gives
 *   (actual − pref) × memSize' / available × 1.05 (REQ_SAFETY_NET_FACTOR), where memSize' = memSize + 50 MiB
 *   (XEN_FREE_MEM_LEFT) − free and available = Σ (actual − pref); when available < memSize' the request fails;
 * - every 0.1 s (BALLOON_DELAY) it looks again; a donor whose size did not change since its last target was set is
 *   out for the rest of the request (no_progress); the request fails when free memory grew by less than 300 MiB over
 *   the last 3 s (CHECK_PERIOD_S × CHECK_MB_S).
 * One deviation, so that every admitter works from the same memory: a donor's preferred size is the scenario's floor
 * (qmemman's pref_mem comes from the guest's own meminfo report), and a target is never set below it (qmemman's
 * ×1.05 can go up to 5 % of the range below pref_mem).
 */
import { KIB_PER_MIB } from '../units.js';

/** systemstate.py BALLOON_DELAY, in ms. */
export const QMEMMAN_POLL_MS = 100;
/** XEN_FREE_MEM_MIN and XEN_FREE_MEM_LEFT, in KiB. */
export const QMEMMAN_FREE_MIN_KIB = 25 * KIB_PER_MIB;
export const QMEMMAN_FREE_LEFT_KIB = 50 * KIB_PER_MIB;
/** algo.py REQ_SAFETY_NET_FACTOR. */
export const QMEMMAN_SAFETY_FACTOR = 1.05;
/** MEM_OVERHEAD_FACTOR = 1 / 1.00781. */
export const QMEMMAN_OVERHEAD_FACTOR = 1 / 1.00781;
/** CHECK_PERIOD_S / BALLOON_DELAY polls, and CHECK_DELTA = 3 s × 100 MiB/s, in KiB. */
export const QMEMMAN_CHECK_POLLS = 30;
export const QMEMMAN_CHECK_DELTA_KIB = 3 * 100 * KIB_PER_MIB;

/** A domain qmemman manages (KiB). */
export interface QmemmanDomain {
  domid: number;
  name: string;
  /** tot_pages. */
  currentKiB: number;
  /** The target qmemman last set (or the one it found). */
  lastTargetKiB: number;
  /** pref_mem: where it is not asked to go below. */
  prefKiB: number;
  /** It did not move after its last target (no_progress): not a donor for the rest of this request. */
  noProgress: boolean;
}

/** mem_actual = max(current, last target): what the domain uses or may use. */
export function memActualKiB(d: QmemmanDomain): number {
  return Math.max(d.currentKiB, d.lastTargetKiB);
}

/** get_free_xen_mem: physinfo free (KiB) × the overhead factor, less what was assigned but is not used yet. */
export function qmemmanFreeKiB(physinfoFreeKiB: number, domains: readonly QmemmanDomain[]): number {
  const assignedButUnused = domains.reduce((sum, d) => sum + Math.max(0, d.lastTargetKiB - d.currentKiB), 0);
  return Math.floor(physinfoFreeKiB * QMEMMAN_OVERHEAD_FACTOR) - assignedButUnused;
}

/** algo.balloon: the donors' new targets to add `memSizeKiB` to free memory, or [] when they cannot. */
export function qmemmanBalloon(memSizeKiB: number, domains: readonly QmemmanDomain[]): { domid: number; name: string; toKiB: number }[] {
  const donors = domains.filter((d) => !d.noProgress && d.prefKiB < memActualKiB(d));
  const available = donors.reduce((sum, d) => sum + (memActualKiB(d) - d.prefKiB), 0);
  if (available < memSizeKiB || donors.length === 0) return [];
  const scale = memSizeKiB / available;
  return donors.map((d) => {
    const borrowed = (memActualKiB(d) - d.prefKiB) * scale * QMEMMAN_SAFETY_FACTOR;
    return { domid: d.domid, name: d.name, toKiB: Math.max(d.prefKiB, Math.floor(memActualKiB(d) - borrowed)) };
  });
}

/** do_balloon's state between its polls. */
export interface QmemmanRequest {
  memSizeKiB: number;
  polls: number;
  /** Free memory at each of the last 30 polls (the ring of do_balloon). */
  ring: number[];
  /** Each donor's mem_actual when its target was last set. */
  asked: Map<number, number>;
}

export type QmemmanStep =
  | { kind: 'ok' }
  | { kind: 'too-slow'; gainedKiB: number }
  | { kind: 'no-donors' }
  | { kind: 'set-targets'; targets: { domid: number; name: string; toKiB: number }[] };

export function startQmemmanRequest(memSizeKiB: number): QmemmanRequest {
  return { memSizeKiB, polls: 0, ring: new Array<number>(QMEMMAN_CHECK_POLLS).fill(0), asked: new Map() };
}

/**
 * One pass of do_balloon's loop on a fresh view (`domains` with their noProgress as it stands). Marks the donors that
 * did not move (returned in `stalled`), then decides. The caller sets the targets, replaces `asked` with the donors just
 * asked and their mem_actual at this view (do_balloon's prev_mem_actual), and sleeps 0.1 s.
 */
export function qmemmanStep(request: QmemmanRequest, freeKiB: number, domains: readonly QmemmanDomain[]): { step: QmemmanStep; stalled: number[] } {
  if (freeKiB >= request.memSizeKiB + QMEMMAN_FREE_MIN_KIB) return { step: { kind: 'ok' }, stalled: [] };
  const slot = request.polls % QMEMMAN_CHECK_POLLS;
  if (request.polls >= QMEMMAN_CHECK_POLLS && freeKiB < request.ring[slot]! + QMEMMAN_CHECK_DELTA_KIB) {
    return { step: { kind: 'too-slow', gainedKiB: freeKiB - request.ring[slot]! }, stalled: [] };
  }
  request.ring[slot] = freeKiB;
  const stalled = domains.filter((d) => !d.noProgress && request.asked.get(d.domid) === memActualKiB(d)).map((d) => d.domid);
  const stalledSet = new Set(stalled);
  const view = domains.map((d) => (stalledSet.has(d.domid) ? { ...d, noProgress: true } : d));
  const targets = qmemmanBalloon(request.memSizeKiB + QMEMMAN_FREE_LEFT_KIB - freeKiB, view);
  return { step: targets.length === 0 ? { kind: 'no-donors' } : { kind: 'set-targets', targets }, stalled };
}
