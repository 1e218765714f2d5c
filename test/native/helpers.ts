/**
 * Shared helpers for the native addon tests: where the addon is, whether real Xen is here, and a recording wrapper
 * that proves a check happened before any addon call.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect } from 'vitest';
import { XenError } from '../../src/errors.js';
import type { NativeBinding } from '../../src/native/binding.js';

export const PRIVCMD = '/dev/xen/privcmd';
export const hasXen = existsSync(PRIVCMD);
export const NO_XEN_REASON = `skipped: no ${PRIVCMD} — runs in the nested-Xen harness, npm run test:xen`;

export const ROOT = join(import.meta.dirname, '..', '..');
export const ADDON_PATH = join(ROOT, 'build', 'Release', 'xenclaim.node');

export function loadAddon(): NativeBinding {
  return createRequire(import.meta.url)(ADDON_PATH) as NativeBinding;
}

/** The addon behind a proxy that records every function it is asked to run. */
export function recordingBinding(binding: NativeBinding): { binding: NativeBinding; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(binding, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { binding: proxy, calls };
}

/** The XenError `run` rejects with (fails the test when it resolves or rejects with anything else). */
export async function rejection(run: () => Promise<unknown>): Promise<XenError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(XenError);
    return error as XenError;
  }
  throw new Error('expected a rejection');
}
