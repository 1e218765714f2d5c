/**
 * What a request and its result look like, the one interface every admission strategy implements, and the tuning
 * every strategy shares. The strategies are small imperative shells: they observe the backend, call the pure
 * decision modules (src/admission) and carry the decisions out through the mutation port, with time from a Clock.
 */
import type { BalloonPolicy } from '../admission/balloon-plan.js';
import type { GiveUpReport } from '../admission/give-up.js';
import type { WaitConfig } from '../admission/progress.js';
import type { ObservedState } from '../admission/state.js';
import type { LibxlDomainConfig } from '../backend.js';
import { eventError, type EventError } from './events.js';
import type { StrategyName } from './strategy-name.js';

/** One guest to create: its domain name and libxl JSON config (c_info.name must equal `name`). */
export interface GuestRequest {
  name: string;
  config: LibxlDomainConfig;
  /** Leave the guest paused once built (xl create -p). */
  paused?: boolean;
}

/**
 * One request's outcome: running as `domid` (`ok`), or failed with `error` (a XenError; an AdmissionError with a
 * GiveUpReport in `report` when the guest could not fit), with the clock times (ms) of each step.
 */
export interface AdmissionResult {
  name: string;
  ok: boolean;
  domid: number | null;
  /** Why it failed (an AdmissionError carries a GiveUpReport in `.report`). */
  error: Error | null;
  /** Set when the strategy gave up waiting for memory. */
  report: GiveUpReport | null;
  /** Clock times (ms): when it was asked for, when its successful build began, when it ran, when it failed. */
  requestedAtMs: number;
  admittedAtMs: number | null;
  runningAtMs: number | null;
  failedAtMs: number | null;
}

/** How a host's strategy balloons and waits; every field has a default. */
export interface AdmissionTuning {
  /** Ballooning policy (dom0 floor, margins, …); its excludedDomids are extended with donors found uncooperative. */
  policy?: Partial<BalloonPolicy>;
  /** Waiting policy: stall timeout per donor (default 5 s), optional wall-time limit (default none), tolerance. */
  wait?: Partial<WaitConfig>;
  /** How often a wait observes the host, in ms of clock time (default 250). */
  pollMs?: number;
}

export interface AdmissionStrategy {
  readonly name: StrategyName;
  /** Admits and builds one guest. Never rejects: the outcome, failure included, is in the result. */
  admit(request: GuestRequest): Promise<AdmissionResult>;
  /**
   * Resolves once nothing is in flight: every admitted request settled and every cleanup (limits removed,
   * donors restored) done.
   */
  idle(): Promise<void>;
  /**
   * Pages this strategy has promised out of the headroom of `state` that Xen does not account for yet: the needs of
   * requests waiting for memory, and of builds whose memory is not claimed or populated yet. A growth request may
   * not take them (capacity.ts's admitGrowth).
   */
  promisedPages(state: ObservedState): number;
}

export const DEFAULT_POLL_MS = 250;

/** An AdmissionResult as plain JSON (for --json): the error as {code, errno, message}, the give-up report as is. */
export function resultJson(result: AdmissionResult): Omit<AdmissionResult, 'error'> & { error: EventError | null } {
  return { ...result, error: result.error === null ? null : eventError(result.error) };
}
