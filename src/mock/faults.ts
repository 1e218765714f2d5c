/**
 * Fault injection and call accounting for the mock host: "make the next N calls of this operation fail with this
 * code", and a count of every backend operation and every hypercall issued (for tests and the simulator's report).
 */
import { errnoOf, XenError } from '../errors.js';

export const BACKEND_OPS = [
  'physinfo', 'xenVersion', 'listDomains', 'getDomain', 'claimPages', 'setMaxMem', 'createEmptyDomain',
  'populatePhysmap', 'decreaseReservation', 'destroyDomain', 'pauseDomain', 'unpauseDomain', 'tmemFreeze', 'tmemThaw',
  'tmemSetCap', 'tmemFreeablePages', 'createGuest', 'destroyGuest', 'setMemoryTarget', 'needMemoryKiB',
  'freeMemoryKiB', 'setGuestMaxMem',
] as const;
export type BackendOp = (typeof BACKEND_OPS)[number];

/**
 * Steps inside slow operations and guest processes where a fault can be injected too: libxl's domain builder
 * (`build:*`), libxl_set_memory_target's setmaxmem, and a guest balloon driver's own hypercalls.
 */
export const INTERNAL_STEPS = [
  'build:createDomain', 'build:setMaxMem', 'build:pagingPool', 'build:claim', 'build:populate', 'build:unpause',
  'target:setMaxMem', 'balloon:populate', 'balloon:decrease',
] as const;
export type InternalStep = (typeof INTERNAL_STEPS)[number];
export type FaultPoint = BackendOp | InternalStep;

/** Hypercalls the toolstack side issues (directly or through libxl). */
export const HYPERCALLS = [
  'physinfo', 'version', 'getDomainInfo', 'claim', 'setMaxMem', 'createDomain', 'populate', 'decreaseReservation',
  'destroyDomain', 'pause', 'unpause', 'shadowAllocation', 'tmem', 'xenstoreWrite',
] as const;
export type Hypercall = (typeof HYPERCALLS)[number];

/** Hypercalls guests issue themselves (balloon drivers). */
export const GUEST_HYPERCALLS = ['populate', 'decreaseReservation'] as const;
export type GuestHypercall = (typeof GUEST_HYPERCALLS)[number];

export interface CallCounts {
  ops: Record<BackendOp, number>;
  hypercalls: Record<Hypercall, number>;
  guestHypercalls: Record<GuestHypercall, number>;
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of keys) out[k] = 0;
  return out;
}

export function newCallCounts(): CallCounts {
  return { ops: zeroes(BACKEND_OPS), hypercalls: zeroes(HYPERCALLS), guestHypercalls: zeroes(GUEST_HYPERCALLS) };
}

export function copyCallCounts(c: CallCounts): CallCounts {
  return { ops: { ...c.ops }, hypercalls: { ...c.hypercalls }, guestHypercalls: { ...c.guestHypercalls } };
}

const FAULT_POINTS = new Set<string>([...BACKEND_OPS, ...INTERNAL_STEPS]);

interface Armed {
  code: string;
  left: number;
}

export class FaultInjector {
  private readonly queues = new Map<string, Armed[]>();
  /** Faults still armed, all points together: the hot path checks only this. */
  armed = 0;

  inject(point: string, code: string, count: number): void {
    const op = 'control.injectFault';
    if (!FAULT_POINTS.has(point)) {
      throw new XenError(`${op}: op must be a backend method or one of ${INTERNAL_STEPS.join(', ')}, got ${JSON.stringify(point)}`, { code: 'EINVAL', op });
    }
    if (typeof code !== 'string' || !/^(E[A-Z0-9]+|ERROR_[A-Z_]+)$/.test(code)) {
      throw new XenError(`${op}: code must be an errno name (ENOMEM, EINVAL, …) or a libxl ERROR_* name, got ${String(code)}`, { code: 'EINVAL', op });
    }
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
      throw new XenError(`${op}: count must be an integer from 1 to 1000000, got ${String(count)}`, { code: 'EINVAL', op });
    }
    let queue = this.queues.get(point);
    if (!queue) this.queues.set(point, (queue = []));
    queue.push({ code, left: count });
    this.armed += count;
  }

  /** The injected failure for this call of `point`, if one is armed (and consumes it). */
  take(point: FaultPoint): XenError | undefined {
    if (this.armed === 0) return undefined;
    const queue = this.queues.get(point);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.left--;
    this.armed--;
    if (head.left === 0) queue.shift();
    const errno = errnoOf(head.code);
    return new XenError(`${point}: ${head.code} (injected fault)`, {
      code: head.code,
      op: point.includes(':') ? point.split(':')[0]! : point,
      errno,
      xenLog: [`mock: injected fault ${head.code} at ${point}`],
    });
  }

  clear(): void {
    this.queues.clear();
    this.armed = 0;
  }
}
