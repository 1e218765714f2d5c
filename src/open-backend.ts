/**
 * openBackend: the real host where Xen is reachable, the simulated one elsewhere (docs/backend-contract.md#entry-points).
 */
import { existsSync } from 'node:fs';
import type { XenBackend } from './backend.js';
import type { Clock } from './clock.js';
import { MockBackend, type MockHostSpec } from './mock/backend.js';
import { openNativeBackend, PRIVCMD_PATH, type NativeBinding } from './native/backend.js';
import { checkObject, checkOneOf } from './validate.js';

export { PRIVCMD_PATH };

/** Which host openBackend opens: real Xen, the simulated host, or real Xen where /dev/xen/privcmd exists. */
export type BackendKind = 'native' | 'mock' | 'auto';

/** openBackend's options; only `kind` is required. */
export interface OpenBackendOptions {
  kind: BackendKind;
  /** Mock only: the simulated host (defaults: 16384 MiB, 1024 MiB dom0, Xen 4.17, no tmem). */
  host?: MockHostSpec;
  /**
   * Mock only: the clock the simulated host runs on. Default: a fresh AutoClock (simulated time that passes by
   * itself); pass a VirtualClock to drive time yourself.
   */
  clock?: Clock;
  /** Native only: a path to the addon, or the loaded addon itself (better-sqlite3's nativeBinding pattern). */
  nativeBinding?: string | NativeBinding;
  /** Where one-time notices go (auto's "no Xen here, using the mock host"); default stderr. */
  notice?: (line: string) => void;
  /** For tests: the privcmd path auto probes. */
  privcmdPath?: string;
}

let mockNoticeGiven = false;

/**
 * 'native': the real host (a XenError saying why in an operator's words where Xen is not reachable); 'mock': a
 * simulated host; 'auto': native where /dev/xen/privcmd exists, otherwise the mock host, saying so once.
 * EINVAL for options that are not an object or an unknown kind.
 */
export async function openBackend(options: OpenBackendOptions): Promise<XenBackend> {
  checkObject('openBackend', 'options', options);
  const kind = checkOneOf('openBackend', 'options.kind', options.kind, ['native', 'mock', 'auto'] as const);
  if (kind === 'native') return openNativeBackend({ nativeBinding: options.nativeBinding });
  if (kind === 'mock') return new MockBackend({ host: options.host, clock: options.clock });

  const privcmd = options.privcmdPath ?? PRIVCMD_PATH;
  if (existsSync(privcmd)) return openNativeBackend({ nativeBinding: options.nativeBinding });
  if (!mockNoticeGiven) {
    mockNoticeGiven = true;
    const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
    notice(`xenclaim: no Xen here (${privcmd} is missing): using the simulated (mock) host`);
  }
  return new MockBackend({ host: options.host, clock: options.clock });
}
