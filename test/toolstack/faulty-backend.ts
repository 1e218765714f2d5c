/**
 * A XenBackend that fails its k-th call (any method), as Xen or libxl refusing it: the call is counted and throws a
 * XenError before reaching the mock host, so the host is left exactly as a refused call leaves it.
 */
import type { XenBackend } from '../../src/backend.js';
import { errnoOf, XenError } from '../../src/errors.js';

const METHODS = new Set([
  'physinfo', 'xenVersion', 'listDomains', 'getDomain', 'claimPages', 'setMaxMem', 'createEmptyDomain', 'populatePhysmap',
  'decreaseReservation', 'destroyDomain', 'pauseDomain', 'unpauseDomain', 'tmemFreeze', 'tmemThaw', 'tmemSetCap',
  'tmemFreeablePages', 'createGuest', 'destroyGuest', 'setMemoryTarget', 'needMemoryKiB', 'freeMemoryKiB',
]);

export interface FaultyBackend {
  backend: XenBackend;
  /** Calls made so far, in order (method names). */
  calls: string[];
  /** The method that failed, if the k-th call happened. */
  failed: string | undefined;
}

export function failAtCall<T extends XenBackend>(inner: T, k: number, code: string): FaultyBackend {
  const state: FaultyBackend = { backend: undefined as unknown as XenBackend, calls: [], failed: undefined };
  state.backend = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !METHODS.has(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        state.calls.push(prop);
        if (state.calls.length === k) {
          state.failed = prop;
          return Promise.reject(new XenError(`${prop}: ${code} (injected at call ${k})`, { code, op: prop, errno: errnoOf(code) }));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return state;
}
