/**
 * What a strategy works with: the state of the one long-lived host it runs on (owned by src/host's XenHost) — the
 * host lock, the guests being built, the donors found uncooperative, the floors, the event stream, the mutation port
 * — and the tuning it shares with every admission there. See docs/architecture.md#the-host.
 */
import { reservePagesOf, resolveBalloonPolicy, type BalloonPolicy } from '../admission/balloon-plan.js';
import type { DonorLedger } from '../admission/donor-ledger.js';
import { resolveWaitConfig, type WaitConfig } from '../admission/progress.js';
import type { XenBackend } from '../backend.js';
import type { Clock } from '../clock.js';
import type { EventBody } from './events.js';
import type { HostLock } from './host-lock.js';
import type { MaxPagesLimits } from './max-pages-limits.js';
import type { MutationPort } from './mutations.js';
import type { StrategyName } from './strategy-name.js';

/** The host's state as a strategy sees it; XenHost builds one per strategy it runs. */
export interface StrategyContext {
  /** The strategy events are stamped with. */
  readonly strategy: StrategyName;
  /** For queries only (physinfo, listDomains, needMemoryKiB): every change goes through `mutations`. */
  readonly backend: XenBackend;
  readonly mutations: MutationPort;
  readonly clock: Clock;
  /** How often a wait observes the host, in ms of clock time (> 0). */
  readonly pollMs: number;
  /** Ballooning policy; its excludedDomids are extended with `uncooperative` (planPolicy). */
  readonly policy: Partial<BalloonPolicy>;
  /** Waiting policy (stall timeout, budget); defaults filled in by resolveWaitConfig. */
  readonly wait: Partial<WaitConfig> | undefined;
  /** One brain per host: every ballooning decision of claim-first is taken under it. */
  readonly lock: HostLock;
  /** Names of guests this host is building, or built and not yet handed back as donors: never donors. */
  readonly building: Set<string>;
  /** Domids found uncooperative: never asked again on this host. */
  readonly uncooperative: Set<number>;
  /** Names of guests without a balloon driver: never asked, their max_pages never limited. */
  readonly withoutBalloonDriver: ReadonlySet<string>;
  /** Every max_pages limit this host holds, by guest and holder (one book for every strategy). */
  readonly limits: MaxPagesLimits;
  /**
   * What a failed claim-first request had asked of donors when another request was already waiting for the host
   * lock: the next one adopts it instead of it being handed back (its donors' gains stay where they are needed).
   */
  readonly handover: DonorLedger;
  /** Balloon floors by guest name, in KiB, as they are now. */
  floorsKiB(): ReadonlyMap<string, number>;
  /** Publishes an event, stamped with the clock and the strategy. Never throws. */
  emit(body: EventBody): void;
  /** Counts one more ballooning round on this host; returns its number, from 1. */
  nextBalloonRound(): number;
  /** A guest this host built is running: the host decides when it becomes an ordinary donor. */
  started(name: string): void;
}

/**
 * The ballooning policy with every donor found uncooperative excluded, and the wait's target tolerance (how short of
 * its target a donor may stop) for the planner to allow for.
 */
export function planPolicy(ctx: StrategyContext): Partial<BalloonPolicy> {
  return {
    ...ctx.policy,
    excludedDomids: [...(ctx.policy.excludedDomids ?? []), ...ctx.uncooperative],
    tolerancePages: resolveWaitConfig(ctx.wait).targetTolerancePages,
  };
}

/** The reserve kept free for Xen (the policy's reserveKiB), in pages. */
export function reservePages(ctx: StrategyContext): number {
  return reservePagesOf(resolveBalloonPolicy('reserve', ctx.policy));
}

/** Sleeps on the clock for the poll interval (or less, to wake at `untilMs`). */
export async function pause(ctx: StrategyContext, untilMs?: number): Promise<void> {
  const now = ctx.clock.now();
  const ms = untilMs === undefined ? ctx.pollMs : Math.max(0, Math.min(ctx.pollMs, untilMs - now));
  await ctx.clock.sleep(ms === 0 ? ctx.pollMs : ms);
}
