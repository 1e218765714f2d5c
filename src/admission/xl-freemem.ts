/**
 * xl's autoballoon, as pure decisions (the xl peer model, src/peers/xl.ts, carries them out). Follows Xen 4.17's
 * `freemem()` in tools/xl/xl_vmcontrol.c and `libxl_wait_for_memory_target()` / `libxl_set_memory_target()` in
 * tools/libs/light/libxl_mem.c (RELEASE-4.17.5):
 *
 * - freemem: read libxl_get_free_memory (physinfo's free pages in KiB — outstanding claims NOT subtracted); enough
 *   for libxl_domain_need_memory → done; the 30 s wall-clock credit spent → fail; otherwise lower dom0's target by
 *   the shortfall (relative, enforce 0: max_pages left alone) and wait for dom0 to reach it, charging the credit
 *   with the time waited. A dom0 target below the floor fails libxl_set_memory_target (ERROR_INVAL), and freemem
 *   with it. Only dom0 is ever ballooned.
 * - libxl_wait_for_memory_target(dom0, 10 s): every 2 s read dom0's tot_pages + outstanding pages; a rise fails it;
 *   no change spends 2 s of its 10; progress waits for free; it ends when dom0 is at or below its target.
 *
 * One deviation, so that every admitter works from the same memory: dom0's floor here is the scenario's (the policy's
 * dom0MinKiB, 1 GiB by default), not libxl's LIBXL_MIN_DOM0_MEM (128 MiB).
 */

/** xl's wall-clock credit for freemem, in ms (`double credit = 30`). */
export const XL_FREEMEM_CREDIT_MS = 30_000;
/** libxl_wait_for_memory_target's poll (`sleep(2)`) and xl's budget for it (`wait_secs` = 10), in ms. */
export const XL_WAIT_POLL_MS = 2000;
export const XL_WAIT_BUDGET_MS = 10_000;

export interface XlFreememInput {
  /** libxl_get_free_memory: physinfo free pages in KiB (claims not subtracted). */
  freeKiB: number;
  /** libxl_domain_need_memory of the new guest, in KiB. */
  needKiB: number;
  /** dom0's memory/target now, in KiB. */
  dom0TargetKiB: number;
  /** The lowest target dom0 may be given, in KiB. */
  dom0FloorKiB: number;
  /** What is left of the 30 s credit, in ms. */
  creditMs: number;
}

export type XlFreememStep =
  | { kind: 'enough' }
  | { kind: 'credit-spent' }
  | { kind: 'balloon-dom0'; targetKiB: number }
  | { kind: 'below-dom0-floor'; targetKiB: number };

/** One turn of freemem's loop. */
export function xlFreememStep(input: XlFreememInput): XlFreememStep {
  if (input.freeKiB >= input.needKiB) return { kind: 'enough' };
  if (input.creditMs <= 0) return { kind: 'credit-spent' };
  // libxl_set_memory_target(ctx, 0, free - need, relative 1, enforce 0): a decrease beyond the target gives 0.
  const decrease = input.needKiB - input.freeKiB;
  const targetKiB = decrease > input.dom0TargetKiB ? 0 : input.dom0TargetKiB - decrease;
  if (targetKiB < input.dom0FloorKiB) return { kind: 'below-dom0-floor', targetKiB };
  return { kind: 'balloon-dom0', targetKiB };
}

/** libxl_wait_for_memory_target's state between its 2 s polls. */
export interface XlTargetWait {
  /** dom0's current + outstanding at the last poll (KiB), or null before the first. */
  previousKiB: number | null;
  /** What is left of its 10 s: spent 2 s per poll without change. */
  leftMs: number;
}

export type XlTargetWaitStep =
  | { kind: 'reached' }
  | { kind: 'rose' }
  | { kind: 'timed-out' }
  | { kind: 'wait'; state: XlTargetWait };

export function startXlTargetWait(): XlTargetWait {
  return { previousKiB: null, leftMs: XL_WAIT_BUDGET_MS };
}

/** One poll of libxl_wait_for_memory_target: dom0's current + outstanding (KiB) against its target (KiB). */
export function xlTargetWaitStep(state: XlTargetWait, currentKiB: number, targetKiB: number): XlTargetWaitStep {
  if (state.previousKiB !== null && currentKiB > state.previousKiB) return { kind: 'rose' };
  const leftMs = state.previousKiB !== null && currentKiB === state.previousKiB ? state.leftMs - XL_WAIT_POLL_MS : state.leftMs;
  if (currentKiB <= targetKiB) return { kind: 'reached' };
  if (leftMs <= 0) return { kind: 'timed-out' };
  return { kind: 'wait', state: { previousKiB: currentKiB, leftMs } };
}
