/**
 * What a XenHost is opened with, and the check that runs before anything else: every option is refused up front
 * with an EINVAL XenError naming it (`wait.maxWaitMs`, `floorsKiB.web1`) and the accepted range, so
 * a typo or a negative timeout never surfaces later as a failure deep inside a ballooning round.
 */
import { resolveBalloonPolicy, type BalloonPolicy } from '../admission/balloon-plan.js';
import { resolveWaitConfig, type WaitConfig } from '../admission/progress.js';
import type { XenBackend } from '../backend.js';
import type { Clock } from '../clock.js';
import { XenError } from '../errors.js';
import type { MutationRecorder } from '../toolstack/mutations.js';
import { STRATEGIES, type StrategyName } from '../toolstack/strategy-name.js';
import { DEFAULT_POLL_MS, type AdmissionTuning } from '../toolstack/types.js';
import { checkDomainName, checkObject, checkOneOf, invalidArgument, quote } from '../validate.js';

/**
 * Balloon floors by guest name, in KiB: a Map, or a plain object (`{ web1: 524288 }`, handy from JSON). Each name
 * follows the domain-name rule, each floor is a finite number of KiB >= 0.
 */
export type FloorsKiB = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** What a XenHost is opened with; only the backend is required. */
export interface HostOptions extends AdmissionTuning {
  /** The Xen host to admit guests on: what openBackend returns (or a MockBackend). */
  backend: XenBackend;
  /** Default: the backend's own clock (the mock host's), otherwise the system clock. */
  clock?: Clock;
  /** How guests are admitted (default 'claim-first'; docs/architecture.md#strategies). */
  strategy?: StrategyName;
  /**
   * Balloon floors by guest name, in KiB (a guest's minMiB × 1024). A guest without one is never asked to balloon,
   * except dom0, whose floor is policy.dom0MinKiB (1 GiB unless configured) — xl's behaviour by default. A Map or a
   * plain object; setFloor changes them later.
   */
  floorsKiB?: FloorsKiB;
  /**
   * Sees every mutation's intent before it is made and its outcome after (where a journal plugs in); told when each
   * request settles and when the host is idle.
   */
  recorder?: MutationRecorder;
  /**
   * How long a guest this host built stays out of ballooning after it started running, in ms of the host's clock
   * (its kernel and balloon driver are still coming up: docs/claim-rules.md#lesson-9). Without it (the default) it
   * stays out until no admission is in flight — under a constant stream of requests a daemon needs the bound. A
   * paused guest is never a donor, whatever this says.
   */
  donorGraceMs?: number;
  /**
   * Names of guests without a balloon driver (an HVM guest without PV drivers, say): never asked to balloon, their
   * max_pages never limited. Each follows the domain-name rule.
   */
  withoutBalloonDriver?: readonly string[];
}

/** HostOptions after the check: defaults filled in, floors as a Map. */
export interface CheckedHostOptions {
  backend: XenBackend;
  clock: Clock | undefined;
  strategy: StrategyName;
  floorsKiB: Map<string, number>;
  recorder: MutationRecorder | undefined;
  donorGraceMs: number | undefined;
  withoutBalloonDriver: string[];
  policy: Partial<BalloonPolicy>;
  wait: Partial<WaitConfig> | undefined;
  pollMs: number;
}

const HOST_OPTION_KEYS = ['backend', 'clock', 'strategy', 'floorsKiB', 'recorder', 'donorGraceMs', 'withoutBalloonDriver', 'policy', 'wait', 'pollMs'] as const;

/** Every XenBackend method a host (and the operator's calls through it) may use. */
const BACKEND_METHODS = [
  'physinfo', 'xenVersion', 'listDomains', 'getDomain', 'claimPages', 'setMaxMem', 'createEmptyDomain', 'populatePhysmap',
  'decreaseReservation', 'destroyDomain', 'pauseDomain', 'unpauseDomain', 'tmemFreeze', 'tmemThaw', 'tmemSetCap',
  'tmemFreeablePages', 'createGuest', 'destroyGuest', 'setMemoryTarget', 'setGuestMaxMem', 'needMemoryKiB', 'freeMemoryKiB', 'close',
] as const;

const CLOCK_METHODS = ['now', 'sleep', 'setTimer', 'run'] as const;

/** Longest poll interval accepted: one hour, in ms. */
export const MAX_POLL_MS = 3_600_000;

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const object = value as Record<string, unknown>;
  return names.every((name) => typeof object[name] === 'function');
}

/** Refuses options of `object` that are not in `known`, naming the first one and listing the accepted ones. */
export function rejectUnknownOptions(op: string, object: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new XenError(`${op}: unknown option ${quote(key)} (known: ${known.join(', ')})`, { code: 'EINVAL', op });
    }
  }
}

/** A guest's balloon floor, in KiB: a finite number >= 0. EINVAL naming `name` otherwise. */
export function checkFloorKiB(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArgument(op, name, 'a finite number of KiB >= 0', value);
  }
  return value;
}

/** Floors given as a Map or a plain object, each checked; a copy as a Map. */
export function checkFloors(op: string, name: string, value: unknown): Map<string, number> {
  const floors = new Map<string, number>();
  if (value === undefined) return floors;
  let entries: Iterable<[unknown, unknown]>;
  if (value instanceof Map) {
    entries = value.entries();
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(Symbol.iterator in value)) {
    entries = Object.entries(value);
  } else {
    throw invalidArgument(op, name, 'a Map or a plain object of guest name → KiB', value);
  }
  for (const [guest, kib] of entries) {
    const guestName = checkDomainName(op, `${name} key`, guest);
    floors.set(guestName, checkFloorKiB(op, `${name}.${guestName}`, kib));
  }
  return floors;
}

/** The poll interval in ms: a finite number > 0, at most an hour. */
export function checkPollMs(op: string, name: string, value: unknown): number {
  if (value === undefined) return DEFAULT_POLL_MS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_POLL_MS) {
    throw invalidArgument(op, name, `a finite number > 0 and at most ${MAX_POLL_MS} (ms)`, value);
  }
  return value;
}

/** The tuning shared by a host and a simulated run (policy, wait, pollMs), each checked. */
export function checkTuning(op: string, options: Record<string, unknown>): Pick<CheckedHostOptions, 'policy' | 'wait' | 'pollMs'> {
  const policy = options.policy === undefined ? {} : (checkObject(op, 'policy', options.policy) as Partial<BalloonPolicy>);
  resolveBalloonPolicy(op, policy);
  const wait = options.wait === undefined ? undefined : (checkObject(op, 'wait', options.wait) as Partial<WaitConfig>);
  if (wait !== undefined) resolveWaitConfig(wait, op, 'wait');
  return { policy, wait, pollMs: checkPollMs(op, 'pollMs', options.pollMs) };
}

/**
 * Checks a XenHost's options (see HostOptions); `extraKeys` are other options the caller takes itself (createGuests'
 * onEvent). EINVAL naming the first bad option: not an object, an unknown key, a backend or clock without the
 * methods of its contract, an unknown strategy, a bad floor, recorder, donorGraceMs, withoutBalloonDriver, policy, wait or pollMs.
 */
export function checkHostOptions(op: string, options: unknown, extraKeys: readonly string[] = []): CheckedHostOptions {
  const given = checkObject(op, 'options', options);
  rejectUnknownOptions(op, given, [...HOST_OPTION_KEYS, ...extraKeys]);
  if (!hasMethods(given.backend, BACKEND_METHODS)) {
    throw invalidArgument(op, 'backend', 'a XenBackend (what openBackend returns)', given.backend);
  }
  if (given.clock !== undefined && !hasMethods(given.clock, CLOCK_METHODS)) {
    throw invalidArgument(op, 'clock', `a Clock (${CLOCK_METHODS.join(', ')})`, given.clock);
  }
  if (given.recorder !== undefined && !hasMethods(given.recorder, ['before', 'after'])) {
    throw invalidArgument(op, 'recorder', 'a MutationRecorder (before, after)', given.recorder);
  }
  if (given.donorGraceMs !== undefined && (typeof given.donorGraceMs !== 'number' || !Number.isFinite(given.donorGraceMs) || given.donorGraceMs < 0)) {
    throw invalidArgument(op, 'donorGraceMs', 'a finite number of ms >= 0', given.donorGraceMs);
  }
  const withoutBalloonDriver = given.withoutBalloonDriver ?? [];
  if (!Array.isArray(withoutBalloonDriver)) {
    throw invalidArgument(op, 'withoutBalloonDriver', 'an array of guest names', withoutBalloonDriver);
  }
  return {
    backend: given.backend as XenBackend,
    clock: given.clock as Clock | undefined,
    strategy: checkOneOf(op, 'strategy', given.strategy ?? 'claim-first', STRATEGIES),
    floorsKiB: checkFloors(op, 'floorsKiB', given.floorsKiB),
    recorder: given.recorder as MutationRecorder | undefined,
    donorGraceMs: given.donorGraceMs as number | undefined,
    withoutBalloonDriver: withoutBalloonDriver.map((name: unknown, i) => checkDomainName(op, `withoutBalloonDriver[${i}]`, name)),
    ...checkTuning(op, given),
  };
}
