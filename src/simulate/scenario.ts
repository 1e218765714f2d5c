/**
 * Reads a `xenclaim simulate` scenario (docs/scenario-format.md): parses the JSON, refuses anything wrong with a
 * ScenarioError naming the JSON path of the bad field and the accepted range, and returns a typed Scenario with
 * every default filled in. Nothing is simulated from an invalid scenario.
 *
 * Defaults (sizes in MiB, times in seconds of virtual time, rates in MiB/s):
 * - name: "unnamed scenario"
 * - host.memoryMiB: solved from host.freeMiB when only that is given (dom0, the guests and Xen's own memory added)
 * - host.dom0MiB: min(1024, what the host leaves after Xen's own memory) — the mock host's default
 * - host.xenVersion: "4.17" (Debian 12; the mock also emulates "4.20" — Debian 13 — "4.21" and "4.22")
 * - guests, demands: []
 * - guests[].minMiB: ⌈memoryMiB / 4⌉ — a guest that states no floor may be ballooned to a quarter of its size
 * - guests[].maxMiB: memoryMiB — it may not grow unless the scenario says how far
 * - guests[].balloonMiBps: 512, guests[].cooperative: true, guests[].stallAfterMiB: null (never stalls),
 *   guests[].canBalloon: true, guests[].intermittent / hiddenMinMiB / hiddenMaxMiB: none, guests[].inaccuracyMiB: 0
 *   (the mock host's guest profile defaults)
 * - guests[].state: "running" ("paused": its vCPUs and balloon driver do not run; "building": another toolstack is
 *   still building it, with a claim, at guests[].buildMiBps, default 1024) — neither is ever a donor while so
 * - host.startsPerS: null (the host creates domains as fast as it is asked)
 * - requests[].at: 0, requests[].buildMiBps: 1024 (the mock's default build rate)
 * - policy: the toolstack's defaults (reserve 64 MiB, margin 5 % and at least 1 MiB, stall timeout 5 s, no wall-time
 *   limit, target tolerance 1 MiB)
 * - strategies: all three, in the order claim-first, limit-and-check, model
 * A request larger than the host is valid: it is how the impossible request is played (it must fail fast).
 * Refused as what the simulator cannot play, naming the JSON path: anything beyond its horizon of one day of virtual
 * time (an arrival, a build, the host's start turns), a rate below one page per 100 ms tick (0.04 MiB/s: the mock
 * host moves whole pages each tick), and more guests than Xen has domids.
 */
import { XenError } from '../errors.js';
import { defaultXenOverheadMiB, MIN_DOM0_MIB, MOCK_XEN_VERSIONS, type MockXenVersion } from '../mock/spec.js';
import { readTextFile } from '../read-text-file.js';
import { MAX_DOMID } from '../validate.js';
import { ADMITTERS, STRATEGIES, type AdmitterName } from '../toolstack/strategy-name.js';

/** The simulated host: its memory and dom0's (MiB), and the Xen version emulated. */
export interface ScenarioHost {
  memoryMiB: number;
  dom0MiB: number;
  xenVersion: MockXenVersion;
  /** At most this many domains are created per second (null: no limit). */
  startsPerS: number | null;
  /** The free memory stated (host.freeMiB), when the host size was solved from it; null otherwise. */
  freeMiB: number | null;
}

/** running: up and ballooning; paused: its vCPUs (and balloon driver) stopped; building: another toolstack's build. */
export type ScenarioGuestState = 'running' | 'paused' | 'building';

/** A guest on the host when the scenario starts, with its floor and balloon driver's behaviour. */
export interface ScenarioGuest {
  name: string;
  memoryMiB: number;
  minMiB: number;
  maxMiB: number;
  balloonMiBps: number;
  cooperative: boolean;
  /** The balloon driver stops for good after moving this many MiB; null: never. */
  stallAfterMiB: number | null;
  state: ScenarioGuestState;
  /** How fast a guest in state "building" is populated. */
  buildMiBps: number;
  /** false: no balloon driver at all; the toolstack knows it and never asks (squeezed's can_balloon). */
  canBalloon: boolean;
  /** The driver moves movingS, then stops stuckS, over and over; null: never pauses. */
  intermittent: { movingS: number; stuckS: number } | null;
  /** The driver never goes below / above these sizes whatever its target (hidden limits); null: none. */
  hiddenMinMiB: number | null;
  hiddenMaxMiB: number | null;
  /** The driver stops this far short of its target. */
  inaccuracyMiB: number;
}

/** A guest to create at `at` s, its size (MiB) and build rate (MiB/s). */
export interface ScenarioRequest {
  at: number;
  name: string;
  /** The new guest's size (null for a pure reservation). */
  memoryMiB: number | null;
  /** A pure reservation of free memory (needMiB), with no build time; null for a guest. */
  needMiB: number | null;
  buildMiBps: number;
}

/** Scenario-level policy: the toolstack's settings this scenario is played with (null: the default). */
export interface ScenarioPolicy {
  reserveMiB: number | null;
  marginPercent: number | null;
  marginMinMiB: number | null;
  stallTimeoutS: number | null;
  /** A wall-time limit of a wait; null: none (the default). */
  maxWaitS: number | null;
  toleranceMiB: number | null;
  /** dom0 is never ballooned below this (the toolstack's default: 1 GiB). */
  dom0MinMiB: number | null;
}

/** A running guest asking to grow to targetMiB at `at` s. */
export interface ScenarioDemand {
  at: number;
  guest: string;
  targetMiB: number;
}

/** A scenario with every default filled in (docs/scenario-format.md); sizes in MiB, times in s, rates in MiB/s. */
export interface Scenario {
  name: string;
  host: ScenarioHost;
  guests: ScenarioGuest[];
  requests: ScenarioRequest[];
  demands: ScenarioDemand[];
  policy: ScenarioPolicy;
  /** What plays it, in order: strategies and peer models. */
  strategies: AdmitterName[];
}

/**
 * A scenario as written in the scenario format (docs/scenario-format.md), before validateScenario fills in the
 * defaults: what runScenario also takes. Every field but the host is optional; the host gives memoryMiB or freeMiB.
 */
export interface ScenarioDocument {
  name?: string;
  host: { memoryMiB?: number; freeMiB?: number; dom0MiB?: number; xenVersion?: MockXenVersion; startsPerS?: number | null };
  guests?: Array<Partial<ScenarioGuest> & { name: string; memoryMiB: number }>;
  requests?: Array<Partial<ScenarioRequest> & { at: number; name: string }>;
  demands?: ScenarioDemand[];
  policy?: Partial<ScenarioPolicy>;
  strategies?: AdmitterName[];
}

export const SCENARIO_DEFAULTS = Object.freeze({
  name: 'unnamed scenario',
  dom0MiB: 1024,
  xenVersion: '4.17' as MockXenVersion,
  guestMinFraction: 0.25,
  balloonMiBps: 512,
  cooperative: true,
  buildMiBps: 1024,
  requestAt: 0,
});

/** Largest size accepted anywhere: 64 TiB (the mock host's limit). */
export const MAX_SCENARIO_MIB = 64 * 1024 * 1024;
const MAX_RATE_MIBPS = 1024 * 1024 * 1024;
/** One year of virtual time. */
const MAX_TIME_S = 365 * 24 * 3600;
/** A reservation's build (requests[].needMiB) runs at this rate: its memory is taken in one step of the mock's builder. */
export const RESERVATION_MIBPS = 1024 * 1024 * 1024;
/** The simulator gives up on a run after this much virtual time (one day): nothing may need longer. */
export const SIMULATION_HORIZON_S = 24 * 3600;
/** The mock host moves whole pages per 100 ms tick: one page per tick (0.0390625 MiB/s) is the slowest rate it plays. */
export const MIN_RATE_MIBPS = 0.0390625;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A scenario that cannot be played: a XenError (code EINVAL, op `scenario`) naming the field and what is wrong. */
export class ScenarioError extends XenError {
  /** The JSON path of the bad field, e.g. `guests[2].memoryMiB` (`scenario` for the whole document). */
  readonly path: string;
  /** What is wrong with it. */
  readonly problem: string;

  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`, { code: 'EINVAL', op: 'scenario' });
    this.name = 'ScenarioError';
    this.path = path;
    this.problem = problem;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function fail(path: string, expected: string, value: unknown): never {
  throw new ScenarioError(path, `must be ${expected}, got ${describe(value)}`);
}

type Json = Record<string, unknown>;

function object(path: string, value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object', value);
  return value as Json;
}

function array(path: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

function join(path: string, key: string): string {
  return path === 'scenario' ? key : `${path}.${key}`;
}

function onlyKnownFields(path: string, value: Json, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new ScenarioError(join(path, key), `unknown field (known fields here: ${known.join(', ')})`);
    }
  }
}

function required(path: string, value: Json, key: string, what: string): unknown {
  if (value[key] === undefined) throw new ScenarioError(join(path, key), `is required (${what})`);
  return value[key];
}

/** A finite number in [min, max]; `minExclusive` refuses min itself. */
function number(
  path: string, value: unknown, min: number, max: number, opts: { integer?: boolean; minExclusive?: boolean; maxIs?: string } = {},
): number {
  const kind = opts.integer ? 'an integer' : 'a finite number';
  const range = `${opts.minExclusive ? '>' : '>='} ${min} and <= ${max}${opts.maxIs ? ` (${opts.maxIs})` : ''}`;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (opts.integer && !Number.isInteger(value)) ||
    value < min ||
    (opts.minExclusive && value === min) ||
    value > max
  ) {
    fail(path, `${kind} ${range}`, value);
  }
  return value;
}

const size = (path: string, value: unknown, min = 0): number => number(path, value, min, MAX_SCENARIO_MIB, { integer: true });
const positiveSize = (path: string, value: unknown): number =>
  number(path, value, 0, MAX_SCENARIO_MIB, { integer: true, minExclusive: true });
function rate(path: string, value: unknown): number {
  const checked = number(path, value, 0, MAX_RATE_MIBPS, { minExclusive: true });
  if (checked < MIN_RATE_MIBPS) {
    throw new ScenarioError(path, `must be at least ${MIN_RATE_MIBPS} MiB/s (one page per 100 ms tick: the simulator cannot play slower), got ${checked}`);
  }
  return checked;
}
const time = (path: string, value: unknown): number => number(path, value, 0, MAX_TIME_S);
/** When something happens (a request, a demand): within the simulator's horizon. */
const instant = (path: string, value: unknown): number => number(path, value, 0, SIMULATION_HORIZON_S, { maxIs: "the simulator's horizon" });

/** Refuses what would end beyond the simulator's horizon: `endS` is when `what` would be done. */
function within(path: string, endS: number, what: string): void {
  if (endS > SIMULATION_HORIZON_S) {
    throw new ScenarioError(
      path,
      `${what} would end at ${Math.round(endS)} s, beyond the simulator's horizon of ${SIMULATION_HORIZON_S} s (one day of virtual time)`,
    );
  }
}

function boolean(path: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(path, 'true or false', value);
  return value;
}

function domainName(path: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    fail(path, 'a name of 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit', value);
  }
  return value;
}

function host(value: unknown): Omit<ScenarioHost, 'memoryMiB'> & { memoryMiB: number | null } {
  const path = 'host';
  const spec = object(path, value);
  onlyKnownFields(path, spec, ['memoryMiB', 'freeMiB', 'dom0MiB', 'xenVersion', 'startsPerS']);
  if ((spec.memoryMiB === undefined) === (spec.freeMiB === undefined)) {
    throw new ScenarioError(
      spec.memoryMiB === undefined ? 'host.memoryMiB' : 'host.freeMiB',
      'exactly one of host.memoryMiB (the host\'s memory) and host.freeMiB (its free memory once the guests run) is required',
    );
  }
  let xenVersion = SCENARIO_DEFAULTS.xenVersion;
  if (spec.xenVersion !== undefined) {
    if (typeof spec.xenVersion !== 'string' || !(MOCK_XEN_VERSIONS as readonly string[]).includes(spec.xenVersion)) {
      fail('host.xenVersion', `one of ${MOCK_XEN_VERSIONS.map((v) => `"${v}"`).join(', ')}`, spec.xenVersion);
    }
    xenVersion = spec.xenVersion as MockXenVersion;
  }
  const startsPerS = spec.startsPerS === undefined || spec.startsPerS === null
    ? null
    : number('host.startsPerS', spec.startsPerS, 0, 1_000_000, { minExclusive: true });
  if (spec.freeMiB !== undefined) {
    const freeMiB = size('host.freeMiB', spec.freeMiB);
    const dom0MiB = spec.dom0MiB === undefined ? SCENARIO_DEFAULTS.dom0MiB : size('host.dom0MiB', spec.dom0MiB, MIN_DOM0_MIB);
    return { memoryMiB: null, freeMiB, dom0MiB, xenVersion, startsPerS };
  }
  const memoryMiB = size('host.memoryMiB', spec.memoryMiB, 256);
  const dom0Limit = memoryMiB - defaultXenOverheadMiB(memoryMiB);
  const dom0MiB =
    spec.dom0MiB === undefined
      ? Math.min(SCENARIO_DEFAULTS.dom0MiB, dom0Limit)
      : number('host.dom0MiB', spec.dom0MiB, MIN_DOM0_MIB, Math.max(MIN_DOM0_MIB, dom0Limit), { integer: true });
  return { memoryMiB, freeMiB: null, dom0MiB, xenVersion, startsPerS };
}

/**
 * The host size that leaves `freeMiB` free once dom0, the guests and Xen's own memory (the mock's default: 1/128 of
 * the host + 8 MiB) are taken: the fixed point of M = used + free + ⌈M/128⌉ + 8, which exists and is exact because
 * M − ⌈M/128⌉ never skips a value.
 */
export function hostSizeForFreeMiB(usedMiB: number, freeMiB: number): number {
  let memoryMiB = usedMiB + freeMiB + 8;
  for (;;) {
    const next = usedMiB + freeMiB + defaultXenOverheadMiB(memoryMiB);
    if (next === memoryMiB) return memoryMiB;
    memoryMiB = next;
  }
}

function guest(path: string, value: unknown, hostMiB: number): ScenarioGuest {
  const spec = object(path, value);
  onlyKnownFields(path, spec, [
    'name', 'memoryMiB', 'minMiB', 'maxMiB', 'balloonMiBps', 'cooperative', 'stallAfterMiB', 'state', 'buildMiBps', 'canBalloon',
    'intermittent', 'hiddenMinMiB', 'hiddenMaxMiB', 'inaccuracyMiB',
  ]);
  const name = domainName(`${path}.name`, required(path, spec, 'name', 'the guest\'s domain name'));
  const memoryMiB = positiveSize(`${path}.memoryMiB`, required(path, spec, 'memoryMiB', 'its current size in MiB'));
  if (memoryMiB > hostMiB) fail(`${path}.memoryMiB`, `at most host.memoryMiB (${hostMiB})`, memoryMiB);
  const minMiB =
    spec.minMiB === undefined
      ? Math.ceil(memoryMiB * SCENARIO_DEFAULTS.guestMinFraction)
      : size(`${path}.minMiB`, spec.minMiB);
  if (minMiB > memoryMiB) fail(`${path}.minMiB`, `at most memoryMiB (${memoryMiB})`, minMiB);
  const maxMiB = spec.maxMiB === undefined ? memoryMiB : size(`${path}.maxMiB`, spec.maxMiB);
  if (maxMiB < memoryMiB) fail(`${path}.maxMiB`, `at least memoryMiB (${memoryMiB})`, maxMiB);
  if (maxMiB > hostMiB) fail(`${path}.maxMiB`, `at most host.memoryMiB (${hostMiB})`, maxMiB);
  const balloonMiBps = spec.balloonMiBps === undefined ? SCENARIO_DEFAULTS.balloonMiBps : rate(`${path}.balloonMiBps`, spec.balloonMiBps);
  const cooperative = spec.cooperative === undefined ? SCENARIO_DEFAULTS.cooperative : boolean(`${path}.cooperative`, spec.cooperative);
  const stallAfterMiB =
    spec.stallAfterMiB === undefined || spec.stallAfterMiB === null
      ? null
      : number(`${path}.stallAfterMiB`, spec.stallAfterMiB, 0, MAX_SCENARIO_MIB);
  let state: ScenarioGuestState = 'running';
  if (spec.state !== undefined) {
    if (spec.state !== 'running' && spec.state !== 'paused' && spec.state !== 'building') {
      fail(`${path}.state`, 'one of "running", "paused", "building"', spec.state);
    }
    state = spec.state;
  }
  if (spec.buildMiBps !== undefined && state !== 'building') {
    throw new ScenarioError(`${path}.buildMiBps`, `is only for a guest in state "building" (this one is "${state}")`);
  }
  const buildMiBps = spec.buildMiBps === undefined ? SCENARIO_DEFAULTS.buildMiBps : rate(`${path}.buildMiBps`, spec.buildMiBps);
  if (state === 'building') within(`${path}.buildMiBps`, memoryMiB / buildMiBps, `building its ${memoryMiB} MiB at ${buildMiBps} MiB/s`);
  const canBalloon = spec.canBalloon === undefined ? true : boolean(`${path}.canBalloon`, spec.canBalloon);
  let intermittent: ScenarioGuest['intermittent'] = null;
  if (spec.intermittent !== undefined && spec.intermittent !== null) {
    const cycle = object(`${path}.intermittent`, spec.intermittent);
    onlyKnownFields(`${path}.intermittent`, cycle, ['movingS', 'stuckS']);
    intermittent = {
      movingS: number(`${path}.intermittent.movingS`, required(`${path}.intermittent`, cycle, 'movingS', 'seconds it moves'), 0, MAX_TIME_S, { minExclusive: true }),
      stuckS: time(`${path}.intermittent.stuckS`, required(`${path}.intermittent`, cycle, 'stuckS', 'seconds it then stops')),
    };
  }
  const optionalSize = (key: string): number | null =>
    spec[key] === undefined || spec[key] === null ? null : number(`${path}.${key}`, spec[key], 0, MAX_SCENARIO_MIB);
  const hiddenMinMiB = optionalSize('hiddenMinMiB');
  const hiddenMaxMiB = optionalSize('hiddenMaxMiB');
  if (hiddenMinMiB !== null && hiddenMaxMiB !== null && hiddenMinMiB > hiddenMaxMiB) {
    fail(`${path}.hiddenMinMiB`, `at most hiddenMaxMiB (${hiddenMaxMiB})`, hiddenMinMiB);
  }
  const inaccuracyMiB = spec.inaccuracyMiB === undefined ? 0 : number(`${path}.inaccuracyMiB`, spec.inaccuracyMiB, 0, MAX_SCENARIO_MIB);
  return {
    name, memoryMiB, minMiB, maxMiB, balloonMiBps, cooperative, stallAfterMiB, state, buildMiBps, canBalloon, intermittent, hiddenMinMiB,
    hiddenMaxMiB, inaccuracyMiB,
  };
}

function request(path: string, value: unknown): ScenarioRequest {
  const spec = object(path, value);
  onlyKnownFields(path, spec, ['at', 'name', 'memoryMiB', 'needMiB', 'buildMiBps']);
  const name = domainName(`${path}.name`, required(path, spec, 'name', 'the new guest\'s domain name'));
  if ((spec.memoryMiB === undefined) === (spec.needMiB === undefined)) {
    throw new ScenarioError(
      spec.memoryMiB === undefined ? `${path}.memoryMiB` : `${path}.needMiB`,
      'exactly one of memoryMiB (a new guest) and needMiB (a pure reservation of free memory) is required',
    );
  }
  const memoryMiB = spec.memoryMiB === undefined ? null : positiveSize(`${path}.memoryMiB`, spec.memoryMiB);
  const needMiB = spec.needMiB === undefined ? null : size(`${path}.needMiB`, spec.needMiB);
  const at = spec.at === undefined ? SCENARIO_DEFAULTS.requestAt : instant(`${path}.at`, spec.at);
  within(`${path}.at`, at, 'its arrival');
  const buildMiBps = spec.buildMiBps === undefined ? SCENARIO_DEFAULTS.buildMiBps : rate(`${path}.buildMiBps`, spec.buildMiBps);
  if (memoryMiB !== null) {
    within(`${path}.buildMiBps`, at + memoryMiB / buildMiBps, `arriving at ${at} s and building ${memoryMiB} MiB at ${buildMiBps} MiB/s`);
  }
  return { at, name, memoryMiB, needMiB, buildMiBps };
}

/** The policy; sizes at most the host's memory (`hostMiB`). */
function policy(value: unknown, hostMiB: number): ScenarioPolicy {
  const none: ScenarioPolicy = {
    reserveMiB: null, marginPercent: null, marginMinMiB: null, stallTimeoutS: null, maxWaitS: null, toleranceMiB: null, dom0MinMiB: null,
  };
  if (value === undefined) return none;
  const spec = object('policy', value);
  onlyKnownFields('policy', spec, Object.keys(none));
  const optional = (key: keyof ScenarioPolicy, min: number, max: number, minExclusive = false): number | null =>
    spec[key] === undefined || spec[key] === null ? null : number(`policy.${key}`, spec[key], min, max, { minExclusive });
  return {
    reserveMiB: optional('reserveMiB', 0, MAX_SCENARIO_MIB),
    marginPercent: optional('marginPercent', 0, 100),
    marginMinMiB: optional('marginMinMiB', 0, MAX_SCENARIO_MIB),
    stallTimeoutS: optional('stallTimeoutS', 0, MAX_TIME_S, true),
    maxWaitS: optional('maxWaitS', 0, MAX_TIME_S),
    toleranceMiB: optional('toleranceMiB', 0, hostMiB),
    dom0MinMiB: optional('dom0MinMiB', MIN_DOM0_MIB, hostMiB),
  };
}

function demand(path: string, value: unknown, guests: ReadonlyMap<string, ScenarioGuest>): ScenarioDemand {
  const spec = object(path, value);
  onlyKnownFields(path, spec, ['at', 'guest', 'targetMiB']);
  const at = instant(`${path}.at`, required(path, spec, 'at', 'when the guest asks, in seconds'));
  within(`${path}.at`, at, 'the demand');
  const guestName = required(path, spec, 'guest', 'the name of a running guest');
  if (typeof guestName !== 'string') fail(`${path}.guest`, 'the name of a guest in guests[]', guestName);
  const target = guests.get(guestName);
  if (!target) {
    const known = [...guests.keys()];
    throw new ScenarioError(
      `${path}.guest`,
      `names no guest in guests[] (${known.length > 0 ? `known: ${known.join(', ')}` : 'there are none'}), got ${describe(guestName)}`,
    );
  }
  const targetMiB = size(`${path}.targetMiB`, required(path, spec, 'targetMiB', 'the new balloon target in MiB'));
  if (targetMiB > target.maxMiB) fail(`${path}.targetMiB`, `at most guest "${target.name}"'s maxMiB (${target.maxMiB})`, targetMiB);
  if (targetMiB < target.minMiB) fail(`${path}.targetMiB`, `at least guest "${target.name}"'s minMiB (${target.minMiB})`, targetMiB);
  return { at, guest: guestName, targetMiB };
}

function strategies(value: unknown): AdmitterName[] {
  if (value === undefined) return [...STRATEGIES];
  const list = array('strategies', value);
  if (list.length === 0) fail('strategies', `a non-empty array of ${ADMITTERS.map((s) => `"${s}"`).join(', ')}`, value);
  const seen = new Set<string>();
  return list.map((item, i) => {
    const path = `strategies[${i}]`;
    if (typeof item !== 'string' || !(ADMITTERS as readonly string[]).includes(item)) {
      fail(path, `one of ${ADMITTERS.map((s) => `"${s}"`).join(', ')}`, item);
    }
    if (seen.has(item)) throw new ScenarioError(path, `duplicate strategy ${describe(item)}`);
    seen.add(item);
    return item as AdmitterName;
  });
}

/** The host's start turns for every request (one each, at least) must fit in the horizon. */
function checkStartTurns(host: ScenarioHost, requests: number): void {
  if (host.startsPerS === null) return;
  within('host.startsPerS', requests / host.startsPerS, `${requests} domain creations at ${host.startsPerS} per second`);
}

/**
 * Xen has MAX_DOMID domids for guests: the running guests and as many requests as could ever run at once (the
 * smallest first, in all the memory the host could ever give them: every guest at its floor, dom0 at libxl's minimum)
 * must fit. A request that cannot get memory fails without keeping a domid, so more requests than that are fine.
 */
function checkDomids(host: ScenarioHost, guests: readonly ScenarioGuest[], requests: readonly ScenarioRequest[]): void {
  // A guest that can balloon keeps at least its floor (or the driver's hidden floor); any other keeps its size.
  const kept = guests.reduce(
    (sum, g) => sum + (g.state === 'running' && g.canBalloon ? Math.max(g.minMiB, g.hiddenMinMiB ?? 0) : g.memoryMiB),
    0,
  );
  let room = host.memoryMiB - defaultXenOverheadMiB(host.memoryMiB) - MIN_DOM0_MIB - kept;
  // A pure reservation (needMiB) builds no domain: it takes no domid.
  const sizes = requests.flatMap((r) => (r.memoryMiB === null ? [] : [r.memoryMiB])).sort((a, b) => a - b);
  let atOnce = 0;
  while (atOnce < sizes.length && sizes[atOnce]! <= room) room -= sizes[atOnce++]!;
  if (guests.length + atOnce > MAX_DOMID) {
    throw new ScenarioError(
      atOnce === 0 ? 'guests' : 'requests',
      `${guests.length} guests and ${atOnce} requests that could be running at once beside them: more than Xen's ` +
        `${MAX_DOMID} domids for guests (the simulator cannot play it)`,
    );
  }
}

/** Validates a parsed scenario document and fills in the defaults. */
export function validateScenario(value: unknown): Scenario {
  // What this function returned is valid as it is: its filled-in fields (host.freeMiB: null, the policy's nulls) are
  // not the input format, so it is not read again.
  if (typeof value === 'object' && value !== null && VALIDATED.has(value)) return value as Scenario;
  const scenario = readScenario(value);
  VALIDATED.add(scenario);
  return scenario;
}

/** The Scenario objects validateScenario returned: passed back (runScenario after loadScenario), they are taken as they are. */
const VALIDATED = new WeakSet<object>();

function readScenario(value: unknown): Scenario {
  const doc = object('scenario', value);
  onlyKnownFields('scenario', doc, ['name', 'host', 'guests', 'requests', 'demands', 'policy', 'strategies']);
  let name: string = SCENARIO_DEFAULTS.name;
  if (doc.name !== undefined) {
    if (typeof doc.name !== 'string' || doc.name.trim() === '') fail('name', 'a non-empty string', doc.name);
    name = doc.name;
  }
  const parsedHost = host(required('scenario', doc, 'host', 'an object with memoryMiB (or freeMiB), dom0MiB, xenVersion'));
  const rawGuests = doc.guests === undefined ? [] : array('guests', doc.guests);
  // A host stated by its free memory is sized to leave exactly that once dom0 and the guests run.
  const usedMiB = parsedHost.dom0MiB + rawGuests.reduce<number>((sum, g) => {
    const memory = typeof g === 'object' && g !== null ? (g as Json).memoryMiB : undefined;
    return sum + (typeof memory === 'number' && Number.isFinite(memory) && memory > 0 ? memory : 0);
  }, 0);
  const theHost: ScenarioHost = {
    ...parsedHost,
    memoryMiB: parsedHost.memoryMiB ?? Math.max(256, hostSizeForFreeMiB(usedMiB, parsedHost.freeMiB ?? 0)),
  };
  if (theHost.memoryMiB > MAX_SCENARIO_MIB) fail('host.freeMiB', `small enough for a host of at most ${MAX_SCENARIO_MIB} MiB`, parsedHost.freeMiB);

  const names = new Map<string, string>([['Domain-0', 'dom0']]);
  const claimName = (path: string, guestName: string): void => {
    const other = names.get(guestName);
    if (other) throw new ScenarioError(path, `duplicate name ${describe(guestName)} (also ${other})`);
    names.set(guestName, path);
  };

  const guests = rawGuests.map((g, i) => {
    const parsed = guest(`guests[${i}]`, g, theHost.memoryMiB);
    claimName(`guests[${i}].name`, parsed.name);
    return parsed;
  });
  const overheadMiB = defaultXenOverheadMiB(theHost.memoryMiB);
  let used = theHost.dom0MiB + overheadMiB;
  guests.forEach((g, i) => {
    used += g.memoryMiB;
    if (used > theHost.memoryMiB) {
      throw new ScenarioError(
        `guests[${i}].memoryMiB`,
        `the running guests up to this one need ${used - theHost.dom0MiB - overheadMiB} MiB, more than host.memoryMiB ` +
          `(${theHost.memoryMiB}) leaves after dom0 (${theHost.dom0MiB}) and Xen's own memory (${overheadMiB})`,
      );
    }
  });

  const requests = array('requests', required('scenario', doc, 'requests', 'an array of creation requests')).map((r, i) => {
    const parsed = request(`requests[${i}]`, r);
    claimName(`requests[${i}].name`, parsed.name);
    return parsed;
  });

  checkStartTurns(theHost, requests.length);
  checkDomids(theHost, guests, requests);

  const byName = new Map(guests.map((g) => [g.name, g]));
  const demands = (doc.demands === undefined ? [] : array('demands', doc.demands)).map((d, i) =>
    demand(`demands[${i}]`, d, byName),
  );
  return { name, host: theHost, guests, requests, demands, policy: policy(doc.policy, theHost.memoryMiB), strategies: strategies(doc.strategies) };
}

/** Reads a scenario file: a XenError with its errno (ENOENT, EACCES, …) when it cannot be read, else parseScenario's. */
export async function loadScenario(path: string): Promise<Scenario> {
  return parseScenario(await readTextFile(path, 'simulate'));
}

/** Parses scenario JSON text; a syntax error is a ScenarioError on the whole document. */
export function parseScenario(text: string): Scenario {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError('scenario', `is not valid JSON (${(error as Error).message})`);
  }
  return validateScenario(value);
}
