/**
 * The one interface every admission strategy implements, what a request and its result look like, and the options
 * every executor shares. The executors are small imperative shells: they observe the backend, call the pure
 * decision modules (src/admission) and carry the decisions out through the XenBackend, with time from a Clock.
 */
import type { BalloonPolicy } from '../admission/balloon-plan.js';
import type { GiveUpReport } from '../admission/give-up.js';
import type { WaitConfig } from '../admission/progress.js';
import type { LibxlDomainConfig, XenBackend } from '../backend.js';
import type { Clock } from '../clock.js';
import type { AdmissionEvent } from './events.js';

export type StrategyName = 'claim-first' | 'limit-and-check' | 'model';
export const STRATEGIES: readonly StrategyName[] = Object.freeze(['claim-first', 'limit-and-check', 'model']);

/** One guest to create: its domain name and libxl JSON config (c_info.name must equal `name`). */
export interface GuestRequest {
  name: string;
  config: LibxlDomainConfig;
  /** Leave the guest paused once built (xl create -p). */
  paused?: boolean;
}

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

export interface StrategyOptions {
  backend: XenBackend;
  clock: Clock;
  /** Ballooning policy (dom0 floor, margins, …); excludedDomids is extended with donors found uncooperative. */
  policy?: Partial<BalloonPolicy>;
  /** Waiting policy: stall timeout per donor, wall-time budget (defaults 5 s and 60 s). */
  wait?: Partial<WaitConfig>;
  /** How often a wait observes the host (default 250 ms of clock time). */
  pollMs?: number;
  /**
   * Balloon floors by guest name, in KiB (a guest's `minMiB`). A guest without one is never asked to balloon,
   * except dom0, whose floor is the policy's dom0MinKiB (1 GiB unless configured) — xl's behaviour by default.
   */
  floorsKiB?: ReadonlyMap<string, number>;
  /** Progress events, for the terminal display and --json. Must not throw (errors are swallowed). */
  onEvent?: (event: AdmissionEvent) => void;
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
}

export const DEFAULT_POLL_MS = 250;
