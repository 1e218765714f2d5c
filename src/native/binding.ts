/**
 * Loading the native addon (native/, built by `npm run build:native`) and the shape of its raw functions.
 *
 * The raw functions are thin and 1:1 over libxenctrl/libxenlight: they return promises settled from libuv worker
 * threads and reject with a RawXenError. Argument checks, units and error wording live in NativeBackend
 * (./backend.ts), never here and never in C++.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DomainInfo, Physinfo, XenVersionInfo } from '../backend.js';
import { XenError } from '../errors.js';

/** DomainInfo as the addon reports it (xc_domain_getinfolist): without what only libxl/xenstore know. */
export type RawDomainInfo = Omit<DomainInfo, 'name' | 'targetKiB'>;

/** Physinfo as the addon reports it (xc_physinfo), with the host's capability bits. */
export interface RawPhysinfo extends Physinfo {
  /** XEN_SYSCTL_PHYSCAP_* bits (hvm 1, pv 2, directio 4, hap 8, shadow 16, …). */
  capabilities: number;
}

/**
 * What a raw call rejects with: an Error carrying the failed library call, its errno name (or libxl ERROR_* name)
 * and the lines the Xen libraries logged while it ran.
 */
export interface RawXenError extends Error {
  /** `ENOENT`, `ENOMEM`, … or `ERROR_FAIL`, `ERROR_NOMEM`, … for libxl. */
  code: string;
  /** Present when the failure carries an errno. */
  errno?: number;
  /** libxl's (negative) ERROR_* value, when libxl reported the failure. */
  libxlCode?: number;
  /** The library function that failed, e.g. `xc_domain_claim_pages`. */
  xenCall: string;
  xenLog: string[];
  /** Lines given up because the capture was full (the newest are kept). */
  xenLogDropped?: number;
  /** populatePhysmap/decreaseReservation: pages already handled when the call failed. */
  pagesDone?: number;
}

/**
 * What the addon was compiled against (native/build_target.cc): constants, read without any Xen access. The tools
 * must match the hypervisor's Xen minor: a hypervisor of another minor refuses this build's domctls and sysctls.
 */
export interface AddonBuildTarget {
  /** pkg-config's version of libxenctrl at build time: "4.17.0" on Debian 12, "4.20.0" on Debian 13. */
  xenctrlVersion: string;
  /** pkg-config's version of libxenlight at build time. */
  xenlightVersion: string;
  /** XEN_DOMCTL_INTERFACE_VERSION of the headers: 0x15 for Xen 4.17, 0x17 for 4.19 and 4.20. */
  domctlInterfaceVersion: number;
  /** XEN_SYSCTL_INTERFACE_VERSION of the headers. */
  sysctlInterfaceVersion: number;
  /** The LIBXL_API_VERSION the addon pins (0x041400: the libxl API of Xen 4.14, offered by 4.17 and 4.20 alike). */
  libxlApiVersion: number;
  /** How one domain is read: xc_domain_getinfo_single (headers of Xen >= 4.18) or xc_domain_getinfolist. */
  domainInfoCall: 'xc_domain_getinfo_single' | 'xc_domain_getinfolist';
}

export interface RawCreateGuestOptions {
  claim: boolean;
  paused: boolean;
}

/** The raw addon (`build/Release/xenclaim.node`). Every domid/count is a checked non-negative safe integer. */
export interface NativeBinding {
  // libxenctrl
  physinfo(): Promise<RawPhysinfo>;
  xenVersion(): Promise<XenVersionInfo>;
  listDomains(): Promise<RawDomainInfo[]>;
  /** null when no such domain exists. */
  getDomainInfo(domid: number): Promise<RawDomainInfo | null>;
  claimPages(domid: number, pages: number): Promise<void>;
  setMaxMem(domid: number, maxKiB: number): Promise<void>;
  createEmptyDomain(type: 'pv' | 'pvh', vcpus: number): Promise<number>;
  /** Resolves with the pages Xen populated: fewer than asked means Xen refused the rest. */
  populatePhysmap(domid: number, pages: number): Promise<number>;
  /** Resolves with the pages Xen took back: fewer than asked means Xen refused the rest. */
  decreaseReservation(domid: number, pages: number): Promise<number>;
  destroyDomain(domid: number): Promise<void>;
  pauseDomain(domid: number): Promise<void>;
  unpauseDomain(domid: number): Promise<void>;
  /** Rejects with ENOSYS on every Xen without tmem (≥ 4.13). */
  tmemControl(op: 'freeze' | 'thaw' | 'setCap' | 'freeablePages'): Promise<number | void>;
  /** Compile time: the Xen headers still had tmem (Xen < 4.13). */
  readonly hasTmem: boolean;
  /** XEN_DOMCTL_INTERFACE_VERSION the addon was compiled against (0x15 for Xen 4.17, 0x17 for 4.20). */
  readonly domctlInterfaceVersion: number;
  /** What the addon was compiled against (absent from addons built before it was reported). */
  readonly buildTarget?: AddonBuildTarget;
  /** Lines the libraries logged outside any operation (never printed); taking them clears them. */
  takeUnattributedLog(): string[];

  // libxenlight (absent from an addon built without libxl support)
  createGuest?(configJson: string, options: RawCreateGuestOptions): Promise<number>;
  destroyGuest?(domid: number): Promise<void>;
  setMemoryTarget?(domid: number, targetKiB: number, relative: boolean, enforce: boolean): Promise<void>;
  needMemoryKiB?(configJson: string): Promise<number>;
  /** libxl_domain_setmaxmem (native/libxl_memory.cc). */
  setGuestMaxMem?(domid: number, maxKiB: number): Promise<void>;
  freeMemoryKiB?(): Promise<number>;
  /** name and balloon target where libxl/xenstore know them; null for either where unknown. */
  domainNamesAndTargets?(domids: number[]): Promise<Array<{ domid: number; name: string | null; targetKiB: number | null }>>;
}

export const BUILD_HINT = 'apt-get install -y pkg-config libxen-dev && npm run build:native';

/** The package root (holds package.json and build/), from src/native/ or dist/src/native/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'xenclaim') return dir;
      } catch {
        // not ours: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('xenclaim: cannot find the package root from ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const requireFromHere = createRequire(import.meta.url);

function notBuilt(detail: string, cause: unknown): XenError {
  return new XenError(
    `openBackend: the xenclaim native addon is not available (${detail}). Build it: ${BUILD_HINT}`,
    { code: 'ENOENT', op: 'openBackend', cause },
  );
}

function checkShape(value: unknown, origin: string): NativeBinding {
  const candidate = value as Partial<NativeBinding> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.physinfo !== 'function' ||
      typeof candidate.claimPages !== 'function') {
    throw new XenError(`openBackend: ${origin} is not the xenclaim native addon`, { code: 'EINVAL', op: 'openBackend' });
  }
  return candidate as NativeBinding;
}

/**
 * The addon: an already-loaded binding object, an explicit path to a .node file, or (default) the one
 * `bindings` finds under the package root (build/Release/xenclaim.node).
 */
export function loadNativeBinding(nativeBinding?: string | NativeBinding): NativeBinding {
  if (typeof nativeBinding === 'object' && nativeBinding !== null) return checkShape(nativeBinding, 'options.nativeBinding');
  if (typeof nativeBinding === 'string') {
    if (!existsSync(nativeBinding)) throw notBuilt(`no addon at ${nativeBinding}`, undefined);
    try {
      return checkShape(requireFromHere(nativeBinding), nativeBinding);
    } catch (error) {
      if (error instanceof XenError) throw error;
      throw notBuilt(`loading ${nativeBinding} failed: ${(error as Error).message}`, error);
    }
  }
  if (nativeBinding !== undefined) {
    throw new XenError('openBackend: options.nativeBinding must be a path or the loaded addon', { code: 'EINVAL', op: 'openBackend' });
  }
  const root = packageRoot();
  const bindings = requireFromHere('bindings') as (opts: { bindings: string; module_root: string }) => unknown;
  try {
    return checkShape(bindings({ bindings: 'xenclaim', module_root: root }), 'build/Release/xenclaim.node');
  } catch (error) {
    if (error instanceof XenError) throw error;
    const message = (error as Error).message;
    // bindings says "Could not locate the bindings file" when nothing was built; anything else is a load failure
    // (e.g. the Xen runtime libraries are missing: "libxenctrl.so.4.17: cannot open shared object file").
    const detail = /Could not locate the bindings file/.test(message)
      ? `no build/Release/xenclaim.node under ${root}`
      : `loading it failed: ${message.split('\n')[0]}`;
    throw notBuilt(detail, error);
  }
}
