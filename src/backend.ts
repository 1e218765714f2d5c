/**
 * The XenBackend contract (docs/backend-contract.md). Everything above the backend — toolstack, strategies,
 * CLI, daemon, simulator — talks to a XenBackend and nothing else. The native addon and the mock host both
 * implement it and are held to it by the same conformance suite (test/conformance/).
 *
 * Units: hypervisor-level calls speak 4 KiB pages, libxl-level calls speak KiB; every name carries its unit
 * (src/units.ts).
 */
import type { Clock } from './clock.js';
import { XenError } from './errors.js';

/** xc_physinfo: the host's memory in 4 KiB pages and its CPUs (docs/backend-contract.md#queries). */
export interface Physinfo {
  totalPages: number;
  /** Free pages, INCLUDING pages claimed but not yet allocated (Xen's meaning). */
  freePages: number;
  /** Always 0 on Xen ≥ 4.3 physinfo: do not wait on it. */
  scrubPages: number;
  /** Host-wide total of outstanding claims. Real headroom is freePages − outstandingPages. */
  outstandingPages: number;
  nrCpus: number;
  nrNodes: number;
  cpuKhz: number;
}

/** xc_version: the hypervisor's version, e.g. 4.17 with extra ".3". */
export interface XenVersionInfo {
  major: number;
  minor: number;
  /** e.g. ".3" or "-unstable"; as xc_version(XENVER_extraversion) reports it. */
  extra: string;
}

/** Which families of calls a backend offers on this host. */
export interface BackendFeatures {
  /** The XENMEM_claim_pages hypercall is available. */
  claims: boolean;
  /** Transcendent memory exists (only before Xen 4.13, or on a mock host asked for it). */
  tmem: boolean;
  /** libxl-level calls (createGuest, setMemoryTarget, …) are available. */
  libxl: boolean;
}

/**
 * One domain as xc_domain_getinfolist reports it (counts in 4 KiB pages), with its name and balloon target where
 * libxl/xenstore know them (docs/claim-rules.md#rule-11).
 */
export interface DomainInfo {
  domid: number;
  totPages: number;
  maxPages: number;
  /** This domain's remaining claim, in pages. */
  outstandingPages: number;
  shrPages: number;
  pagedPages: number;
  dying: boolean;
  shutdown: boolean;
  paused: boolean;
  hvm: boolean;
  onlineVcpus: number;
  cpuTimeNs: number;
  /** Where libxl/xenstore know it. */
  name?: string;
  /** The balloon target, where libxl/xenstore know it. */
  targetKiB?: number;
}

/** The types of domain createEmptyDomain makes (xc_domain_create without libxl). */
export type EmptyDomainType = 'pv' | 'pvh';

/** createEmptyDomain's options. */
export interface CreateEmptyDomainOptions {
  type: EmptyDomainType;
  vcpus?: number;
}

/**
 * libxl's JSON domain configuration, as `libxl_domain_config_to_json` prints it (and `xl -N create` shows).
 * Only the fields the toolstack itself reads are typed; the rest passes through to libxl untouched.
 */
export interface LibxlDomainConfig {
  c_info: {
    type?: 'pv' | 'pvh' | 'hvm';
    name?: string;
    uuid?: string;
    [key: string]: unknown;
  };
  b_info: {
    max_vcpus?: number;
    max_memkb?: number;
    target_memkb?: number;
    claim_mode?: boolean | 'True' | 'False';
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** createGuest's options (libxl_domain_create_new). */
export interface CreateGuestOptions {
  /** Sets b_info.claim_mode: the domain builder claims its whole allocation before populating (default true). */
  claim?: boolean;
  /** Leave the new guest paused (default false). */
  paused?: boolean;
}

/** setMemoryTarget's options (libxl_set_memory_target's relative and enforce). */
export interface SetMemoryTargetOptions {
  /** targetKiB is added to the current target (may be negative) instead of replacing it. */
  relative?: boolean;
  /** Also set max_pages to the new target, so the guest cannot balloon above it (default true). */
  enforce?: boolean;
}

/**
 * The one contract everything above the backend talks to (docs/backend-contract.md): the native addon over real Xen
 * and the mock host both implement it. Pages for hypervisor-level calls, KiB for libxl-level calls; every argument is
 * checked and refused with an EINVAL XenError naming it; every failure is a rejected promise with a XenError.
 */
export interface XenBackend {
  readonly kind: 'native' | 'mock';
  readonly features: BackendFeatures;
  /**
   * The clock this host's time runs on when it is not the system's: the mock host's (virtual) clock. Absent on real
   * Xen, where time is the system clock's.
   */
  readonly clock?: Clock;

  physinfo(): Promise<Physinfo>;
  xenVersion(): Promise<XenVersionInfo>;
  listDomains(): Promise<DomainInfo[]>;
  /** Unknown domid → XenError ESRCH. */
  getDomain(domid: number): Promise<DomainInfo>;

  /** xc_domain_claim_pages: `pages` is the ABSOLUTE total the domain will reach; 0 cancels. */
  claimPages(domid: number, pages: number): Promise<void>;
  /** xc_domain_setmaxmem. No lower bound: it may go below tot_pages. */
  setMaxMem(domid: number, maxKiB: number): Promise<void>;
  /** xc_domain_create: an empty, paused domain with no memory. Returns its domid. */
  createEmptyDomain(options: CreateEmptyDomainOptions): Promise<number>;
  /** Give the domain `pages` more 4 KiB pages; refused by the allocation gate → ENOMEM. */
  populatePhysmap(domid: number, pages: number): Promise<void>;
  /** Hand `pages` of the domain's pages back to Xen. */
  decreaseReservation(domid: number, pages: number): Promise<void>;
  destroyDomain(domid: number): Promise<void>;
  pauseDomain(domid: number): Promise<void>;
  unpauseDomain(domid: number): Promise<void>;

  /** tmem: ENOSYS on every host without it (all Xen ≥ 4.13). */
  tmemFreeze(): Promise<void>;
  tmemThaw(): Promise<void>;
  tmemSetCap(pages: number): Promise<void>;
  tmemFreeablePages(): Promise<number>;

  /** libxl: build a guest from its JSON config. Returns its domid. A failed create leaves no domain behind. */
  createGuest(config: LibxlDomainConfig, options?: CreateGuestOptions): Promise<number>;
  destroyGuest(domid: number): Promise<void>;
  setMemoryTarget(domid: number, targetKiB: number, options?: SetMemoryTargetOptions): Promise<void>;
  /**
   * libxl_domain_setmaxmem (xl mem-max): refuses a maximum below the guest's memory/target with an EINVAL XenError
   * naming both (maxBelowTargetError), then sets max_pages to maxKiB + LIBXL_MAXMEM_CONSTANT (1 MiB), libxl's slack;
   * memory/static-max is left alone, as libxl leaves it. Unknown domid → ESRCH; a domain without memory/target
   * (not a libxl guest) → ERROR_FAIL. Source: tools/libs/light/libxl_mem.c. Limits the toolstack sets and lifts
   * itself use the raw setMaxMem.
   */
  setGuestMaxMem(domid: number, maxKiB: number): Promise<void>;
  /** libxl_domain_need_memory: what building this config takes, overheads included. */
  needMemoryKiB(config: LibxlDomainConfig): Promise<number>;
  /** libxl_get_free_memory: libxl's view, which does NOT subtract outstanding claims. */
  freeMemoryKiB(): Promise<number>;

  /** Releases handles and timers. The backend is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * libxl_domain_setmaxmem's refusal, worded once for both backends: a maximum below the current balloon target
 * would leave the guest above its own max_pages ("memory_static_max must be greater than or equal to
 * memory_dynamic_max"). EINVAL, naming the maximum asked and the target found (both KiB).
 */
export function maxBelowTargetError(op: string, domid: number, maxKiB: number, targetKiB: number): XenError {
  return new XenError(
    `${op}: maxKiB must be at least domain ${domid}'s current target of ${targetKiB} KiB, got ${maxKiB} KiB ` +
      '(libxl_domain_setmaxmem: a maximum below memory/target is refused; lower the target first with mem-set)',
    { code: 'EINVAL', op, xenLog: [`libxl: error: libxl_mem.c: libxl_domain_setmaxmem: Domain ${domid}:memory_static_max must be greater than or or equal to memory_dynamic_max`] },
  );
}
