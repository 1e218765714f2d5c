/**
 * Progress events: what a terminal display draws (claimed, building, ballooning donors with a progress bar,
 * running) and what `--json` prints, one object per line. Every event has `type`, `atMs` (the executor's clock)
 * and `request` (the guest name, or null for host-wide steps such as limits). Plain data: JSON.stringify-able.
 */
import type { GiveUpReport } from '../admission/give-up.js';
import type { LimitReason } from './mutations.js';
import type { StrategyName } from './strategy-name.js';

/** A donor's balloon target, before and after a round (KiB). */
export interface DonorTarget {
  domid: number;
  name: string;
  fromKiB: number;
  toKiB: number;
}

/** limit-and-check: a domain's max_pages limit set or removed (KiB). */
export interface LimitChange {
  domid: number;
  name: string;
  /** max_pages before, in KiB. */
  fromKiB: number;
  toKiB: number;
}

/** An error in an event, as plain JSON: its code, errno and message. */
export interface EventError {
  code: string | null;
  errno: number | null;
  message: string;
  /** The Xen/libxl log lines the failing call captured (XenError.xenLog), when there are any: why libxl said no. */
  xenLog?: string[];
}

interface Base {
  atMs: number;
  strategy: StrategyName;
}

/** A host's progress events: plain JSON, each with `type`, `atMs`, `strategy` and `request` (docs/architecture.md#events). */
export type AdmissionEvent =
  /** A request entered the strategy; needKiB is libxl_domain_need_memory's answer. */
  | (Base & { type: 'requested'; request: string; needKiB: number })
  /** A build started: `claim` says whether the builder claims first; attempt counts from 1. */
  | (Base & { type: 'building'; request: string; claim: boolean; attempt: number })
  /** The hypervisor accepted the build's claim (seen as the domain's outstanding pages), or the pool/model admitted it. */
  | (Base & { type: 'admitted'; request: string; via: 'claim' | 'pool' | 'model' })
  /** The build's claim was refused with ENOMEM: the fallback starts. */
  | (Base & { type: 'claim-refused'; request: string; error: EventError })
  /**
   * A build without a claim (limit-and-check, model) was refused memory by the hypervisor while it populated (the
   * allocation gate or max_pages): the model takes the request back to its queue.
   */
  | (Base & { type: 'build-refused'; request: string; error: EventError })
  /**
   * New balloon targets were set (lowered, or an earlier ask given back by a replan); `round` counts ballooning
   * rounds on this host from 1; `method` is how the planner weighed the donors (balloon-plan.ts).
   */
  | (Base & {
      type: 'ballooning';
      request: string | null;
      round: number;
      method: 'proportional' | 'by-rate';
      shortfallKiB: number;
      donors: DonorTarget[];
    })
  /** A watched donor's size: `fraction` is how much of what it was asked it has given (0..1), for a progress bar. */
  | (Base & {
      type: 'donor-progress';
      request: string | null;
      domid: number;
      name: string;
      totKiB: number;
      targetKiB: number;
      fraction: number;
    })
  /** A donor made no progress for the stall timeout: it is never asked again on this host (while its domain lives). */
  | (Base & { type: 'donor-uncooperative'; request: string | null; domid: number; name: string })
  /** Donors' targets were raised back by what a failed admission had asked of them. */
  | (Base & { type: 'donors-restored'; request: string | null; donors: DonorTarget[] })
  /**
   * max_pages limits set (limit-and-check's batch, a donor's limit following its lowered target, the model's) and
   * lifted; `request` is the request they are held for (null: a strategy's batch or queue).
   */
  | (Base & { type: 'limits-set'; request: string | null; reason: LimitReason; limits: LimitChange[] })
  | (Base & { type: 'limits-removed'; request: string | null; limits: LimitChange[] })
  | (Base & { type: 'running'; request: string; domid: number })
  | (Base & { type: 'gave-up'; request: string; report: GiveUpReport; message: string })
  | (Base & { type: 'failed'; request: string; error: EventError })
  /** A cleanup step failed even after a retry (the host may need an operator): never silent. */
  | (Base & { type: 'cleanup-failed'; request: string | null; step: string; error: EventError });

/** The `type` of an AdmissionEvent: 'requested', 'building', 'admitted', …, 'cleanup-failed'. */
export type AdmissionEventType = AdmissionEvent['type'];

export function eventError(error: unknown): EventError {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; errno?: unknown; xenLog?: unknown };
    const xenLog = Array.isArray(e.xenLog) && e.xenLog.length > 0 ? e.xenLog.map(String) : undefined;
    return {
      code: typeof e.code === 'string' ? e.code : null,
      errno: typeof e.errno === 'number' ? e.errno : null,
      message: e.message,
      ...(xenLog === undefined ? {} : { xenLog }),
    };
  }
  return { code: null, errno: null, message: String(error) };
}

/** Distributive Omit, so each variant keeps its own fields. */
export type EventBody = AdmissionEvent extends infer E ? (E extends AdmissionEvent ? Omit<E, 'atMs' | 'strategy'> : never) : never;
