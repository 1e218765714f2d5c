/**
 * The simulated host's description (MockHostSpec), guest behaviour profiles, their defaults and their validation.
 * Every bad field is refused with an EINVAL XenError naming the field and its accepted range.
 */
import { XenError } from '../errors.js';
import { kibToMiB, LIBXL_MIN_DOM0_KIB, PAGES_PER_MIB } from '../units.js';
import { checkBoolean, checkObject, checkOneOf, invalidArgument } from '../validate.js';

/** The Xen versions whose claim rules the mock host emulates where they differ (docs/claim-rules.md). */
export type MockXenVersion = '4.17' | '4.20' | '4.21' | '4.22';
export const MOCK_XEN_VERSIONS: readonly MockXenVersion[] = ['4.17', '4.20', '4.21', '4.22'];
/**
 * The patch release each emulated version stands for (xenVersion()'s `extra`): Debian 12's 4.17.7 and Debian 13's
 * 4.20.4, whose claim rules were observed on the real hypervisors (docs/xen-versions.md); 4.21.0 and 4.22.0.
 */
export const MOCK_XEN_EXTRA: Readonly<Record<MockXenVersion, string>> = { '4.17': '.7', '4.20': '.4', '4.21': '.0', '4.22': '.0' };

/** How a simulated guest behaves. Rates in MiB per second of virtual time, delays in seconds. */
export interface GuestProfile {
  /** How fast the domain builder populates this guest's memory. */
  buildMiBps: number;
  /** How fast its balloon driver gives memory back or takes it. */
  balloonMiBps: number;
  /** false: the balloon driver ignores targets (a stuck donor). */
  cooperative: boolean;
  /** The balloon driver stops for good after moving this many MiB (undefined: never). */
  stallAfterMiB: number | undefined;
  /** Time from unpause to a booted kernel; the balloon driver only runs once booted. */
  bootDelayS: number;
  /**
   * The balloon driver moves for movingS, then stops for stuckS, over and over, counted from time 0 (squeezed's
   * intermittently stuck VM); undefined: it never pauses.
   */
  intermittent: { movingS: number; stuckS: number } | undefined;
  /** The driver never takes the guest below this size, whatever its target (squeezed's hidden limit); MiB. */
  hiddenMinMiB: number | undefined;
  /** The driver never takes the guest above this size (squeezed's hidden upper limit); MiB. */
  hiddenMaxMiB: number | undefined;
  /** The driver stops this far short of its target, both ways (squeezed's inaccuracy); MiB, default 0. */
  inaccuracyMiB: number;
}

export const DEFAULT_GUEST_PROFILE: Readonly<GuestProfile> = Object.freeze({
  buildMiBps: 1024,
  balloonMiBps: 512,
  cooperative: true,
  stallAfterMiB: undefined,
  bootDelayS: 2,
  intermittent: undefined,
  hiddenMinMiB: undefined,
  hiddenMaxMiB: undefined,
  inaccuracyMiB: 0,
});

/** The host a MockBackend simulates; every field but memoryMiB has a default. EINVAL naming a bad field. */
export interface MockHostSpec {
  /** Physical memory of the host. Default 16384. */
  memoryMiB: number;
  /** Memory of dom0 (dom0_mem=X,max:X). Default 1024, at least 128 (libxl's dom0 minimum). */
  dom0MiB?: number;
  /** The Xen version emulated where the rules differ. Default '4.17'. */
  xenVersion?: MockXenVersion;
  /** Emulate a pre-4.13 host with tmem (an ephemeral pool whose freeable pages count as available). */
  tmem?: boolean;
  /** Mock-only: Xen's own memory (frame table, xenheap). Default: 1/128 of the host + 8 MiB, like a real 4.17. */
  xenOverheadMiB?: number;
  /** Mock-only: seconds between destroy and the first pages coming back to the heap. Default 0.5 (xl destroy). */
  destroyReturnDelayS?: number;
  /** Mock-only: how fast a dying domain's pages come back. Default 4096 MiB/s. */
  destroyReturnMiBps?: number;
  /** Mock-only: how long a balloon driver refused memory waits before retrying, once memory was freed. Default 1. */
  balloonRetryS?: number;
  /** Mock-only: profile of every guest (and dom0's balloon driver) unless overridden. */
  guestDefaults?: Partial<GuestProfile>;
  /**
   * Mock-only: at most this many domains are created per second (creations spaced 1/startsPerS apart: xenstored, the
   * device model and the toolstack's own work bound a host's start rate). Default: unlimited.
   */
  startsPerS?: number;
  /** Mock-only: what physinfo reports. Defaults 8 CPUs, 1 node, 2.4 GHz. */
  nrCpus?: number;
  cpuKhz?: number;
}

/** The spec with every default filled in. Sizes converted to pages where the heap needs them. */
export interface ResolvedHostSpec {
  memoryMiB: number;
  dom0MiB: number;
  xenVersion: MockXenVersion;
  tmem: boolean;
  xenOverheadPages: number;
  destroyReturnDelayS: number;
  destroyReturnMiBps: number;
  balloonRetryS: number;
  guestDefaults: GuestProfile;
  /** Milliseconds between two domain creations (0: unlimited). */
  startIntervalMs: number;
  nrCpus: number;
  cpuKhz: number;
}

/** Largest host the mock accepts: 64 TiB (Xen 4.17's x86 limit is 16 TiB without CONFIG_BIGMEM; we allow more). */
export const MAX_HOST_MIB = 64 * 1024 * 1024;
/** LIBXL_MIN_DOM0_MEM: libxl refuses a dom0 target below 128 MiB. */
export const MIN_DOM0_MIB = kibToMiB(LIBXL_MIN_DOM0_KIB);
const MAX_RATE_MIBPS = 1024 * 1024 * 1024;
const MAX_DELAY_S = 365 * 24 * 3600;

const SPEC_FIELDS = new Set([
  'memoryMiB', 'dom0MiB', 'xenVersion', 'tmem', 'xenOverheadMiB', 'destroyReturnDelayS', 'destroyReturnMiBps',
  'balloonRetryS', 'guestDefaults', 'startsPerS', 'nrCpus', 'cpuKhz',
]);
const PROFILE_FIELDS = new Set([
  'buildMiBps', 'balloonMiBps', 'cooperative', 'stallAfterMiB', 'bootDelayS', 'intermittent', 'hiddenMinMiB', 'hiddenMaxMiB',
  'inaccuracyMiB',
]);

/** A finite number in [min, max] (integer when asked). */
export function checkNumber(op: string, name: string, value: unknown, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw invalidArgument(op, name, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, value);
  }
  return value;
}

function optional<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

function rejectUnknownFields(op: string, prefix: string, object: Record<string, unknown>, known: Set<string>): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) {
      throw new XenError(`${op}: unknown field ${prefix}${key} (known: ${[...known].join(', ')})`, { code: 'EINVAL', op });
    }
  }
}

/** Validates a partial profile (every present field); `prefix` names it in errors, e.g. "host.guestDefaults.". */
export function checkProfile(op: string, prefix: string, value: unknown): Partial<GuestProfile> {
  const object = checkObject(op, prefix.replace(/\.$/, '') || 'profile', value);
  rejectUnknownFields(op, prefix, object, PROFILE_FIELDS);
  const out: Partial<GuestProfile> = {};
  if (object.buildMiBps !== undefined) out.buildMiBps = checkRate(op, `${prefix}buildMiBps`, object.buildMiBps);
  if (object.balloonMiBps !== undefined) out.balloonMiBps = checkRate(op, `${prefix}balloonMiBps`, object.balloonMiBps);
  if (object.cooperative !== undefined) out.cooperative = checkBoolean(op, `${prefix}cooperative`, object.cooperative, true);
  if ('stallAfterMiB' in object) {
    out.stallAfterMiB = object.stallAfterMiB === undefined
      ? undefined
      : checkNumber(op, `${prefix}stallAfterMiB`, object.stallAfterMiB, 0, MAX_HOST_MIB);
  }
  if (object.bootDelayS !== undefined) out.bootDelayS = checkNumber(op, `${prefix}bootDelayS`, object.bootDelayS, 0, MAX_DELAY_S);
  if ('intermittent' in object) {
    if (object.intermittent === undefined) out.intermittent = undefined;
    else {
      const cycle = checkObject(op, `${prefix}intermittent`, object.intermittent);
      rejectUnknownFields(op, `${prefix}intermittent.`, cycle, new Set(['movingS', 'stuckS']));
      const movingS = checkNumber(op, `${prefix}intermittent.movingS`, cycle.movingS, 0, MAX_DELAY_S);
      if (movingS === 0) throw invalidArgument(op, `${prefix}intermittent.movingS`, `a number above 0 and up to ${MAX_DELAY_S}`, 0);
      out.intermittent = { movingS, stuckS: checkNumber(op, `${prefix}intermittent.stuckS`, cycle.stuckS, 0, MAX_DELAY_S) };
    }
  }
  for (const key of ['hiddenMinMiB', 'hiddenMaxMiB'] as const) {
    if (key in object) out[key] = object[key] === undefined ? undefined : checkNumber(op, `${prefix}${key}`, object[key], 0, MAX_HOST_MIB);
  }
  if (object.inaccuracyMiB !== undefined) out.inaccuracyMiB = checkNumber(op, `${prefix}inaccuracyMiB`, object.inaccuracyMiB, 0, MAX_HOST_MIB);
  return out;
}

function checkRate(op: string, name: string, value: unknown): number {
  const rate = checkNumber(op, name, value, 0, MAX_RATE_MIBPS);
  if (rate === 0) throw invalidArgument(op, name, `a number above 0 and up to ${MAX_RATE_MIBPS}`, value);
  return rate;
}

/** Xen's own pages on a host of `memoryMiB`: the frame table (32 bytes per 4 KiB page = 1/128) plus 8 MiB of xenheap. */
export function defaultXenOverheadMiB(memoryMiB: number): number {
  return Math.ceil(memoryMiB / 128) + 8;
}

export function resolveHostSpec(value: unknown): ResolvedHostSpec {
  const op = 'MockBackend';
  const spec = value === undefined ? {} : checkObject(op, 'host', value);
  rejectUnknownFields(op, 'host.', spec, SPEC_FIELDS);
  const memoryMiB = checkNumber(op, 'host.memoryMiB', optional(spec.memoryMiB, 16384), 256, MAX_HOST_MIB, true);
  const xenOverheadMiB = checkNumber(
    op, 'host.xenOverheadMiB', optional(spec.xenOverheadMiB, defaultXenOverheadMiB(memoryMiB)), 0, memoryMiB - MIN_DOM0_MIB, true,
  );
  const dom0Limit = memoryMiB - xenOverheadMiB;
  const dom0MiB = checkNumber(op, 'host.dom0MiB', optional(spec.dom0MiB, Math.min(1024, dom0Limit)), MIN_DOM0_MIB, dom0Limit, true);
  const xenVersion = checkOneOf(op, 'host.xenVersion', optional(spec.xenVersion, '4.17'), MOCK_XEN_VERSIONS);
  const tmem = checkBoolean(op, 'host.tmem', spec.tmem, false);
  const guestDefaults: GuestProfile = {
    ...DEFAULT_GUEST_PROFILE,
    ...(spec.guestDefaults === undefined ? {} : checkProfile(op, 'host.guestDefaults.', spec.guestDefaults)),
  };
  return {
    memoryMiB,
    dom0MiB,
    xenVersion,
    tmem,
    xenOverheadPages: xenOverheadMiB * PAGES_PER_MIB,
    destroyReturnDelayS: checkNumber(op, 'host.destroyReturnDelayS', optional(spec.destroyReturnDelayS, 0.5), 0, MAX_DELAY_S),
    destroyReturnMiBps: checkRate(op, 'host.destroyReturnMiBps', optional(spec.destroyReturnMiBps, 4096)),
    balloonRetryS: checkNumber(op, 'host.balloonRetryS', optional(spec.balloonRetryS, 1), 0.001, MAX_DELAY_S),
    guestDefaults,
    startIntervalMs: spec.startsPerS === undefined ? 0 : 1000 / checkRate(op, 'host.startsPerS', spec.startsPerS),
    nrCpus: checkNumber(op, 'host.nrCpus', optional(spec.nrCpus, 8), 1, 4096, true),
    cpuKhz: checkNumber(op, 'host.cpuKhz', optional(spec.cpuKhz, 2_400_000), 1, 100_000_000, true),
  };
}
