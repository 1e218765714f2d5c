/**
 * NativeBackend: the XenBackend contract over the real Xen libraries (the addon in native/), for a Xen dom0 with the
 * libxen-dev of Debian 12 (Xen 4.17) or Debian 13 (Xen 4.20).
 *
 * Every argument is checked here, before any addon call, with an EINVAL XenError naming it and its range. Raw addon
 * failures become XenError with the backend operation as `op` and the Xen libraries' own lines as `xenLog`.
 */
import { existsSync } from 'node:fs';
import type {
  BackendFeatures,
  CreateEmptyDomainOptions,
  CreateGuestOptions,
  DomainInfo,
  LibxlDomainConfig,
  Physinfo,
  SetMemoryTargetOptions,
  XenBackend,
  XenVersionInfo,
} from '../backend.js';
import { maxBelowTargetError } from '../backend.js';
import { XenError } from '../errors.js';
import {
  MAX_VCPUS,
  checkBoolean,
  checkCount,
  checkDomainName,
  checkDomid,
  checkInteger,
  checkObject,
  checkOneOf,
  checkSignedCount,
  invalidArgument,
} from '../validate.js';
import { loadNativeBinding, type AddonBuildTarget, type NativeBinding, type RawDomainInfo, type RawXenError } from './binding.js';

export { loadNativeBinding, BUILD_HINT, type AddonBuildTarget, type NativeBinding, type RawXenError } from './binding.js';

/** Where the Xen privileged-command device lives in a dom0 (its absence means: not a Xen dom0). */
export const PRIVCMD_PATH = '/dev/xen/privcmd';

/** XENMEM_claim_pages arrived in Xen 4.3. */
const CLAIMS_SINCE = { major: 4, minor: 3 };

export interface OpenNativeBackendOptions {
  /** A path to the addon, or the loaded addon itself (better-sqlite3's nativeBinding pattern). */
  nativeBinding?: string | NativeBinding | undefined;
  /** For tests: where the privileged-command device is looked for. */
  privcmdPath?: string | undefined;
}

function isRawXenError(value: unknown): value is RawXenError {
  return value instanceof Error && typeof (value as Partial<RawXenError>).code === 'string' &&
    typeof (value as Partial<RawXenError>).xenCall === 'string';
}

/** A raw addon rejection (or a stray exception) as the XenError of backend operation `op`. */
export function toXenError(op: string, error: unknown): XenError {
  if (error instanceof XenError) return error;
  if (isRawXenError(error)) {
    const errno = typeof error.errno === 'number' ? error.errno : undefined;
    const code = error.code;
    return new XenError(`${op}: ${code} (${error.message})`, { code, op, errno, xenLog: error.xenLog, cause: error });
  }
  // The addon's own argument guards (TypeError/RangeError) only fire when the checks here were bypassed.
  if (error instanceof TypeError || error instanceof RangeError) {
    return new XenError(`${op}: EINVAL (${error.message})`, { code: 'EINVAL', op, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new XenError(`${op}: ERROR_FAIL (${message})`, { code: 'ERROR_FAIL', op, cause: error });
}

function toDomainInfo(raw: RawDomainInfo): DomainInfo {
  return {
    domid: raw.domid,
    totPages: raw.totPages,
    maxPages: raw.maxPages,
    outstandingPages: raw.outstandingPages,
    shrPages: raw.shrPages,
    pagedPages: raw.pagedPages,
    dying: raw.dying,
    shutdown: raw.shutdown,
    paused: raw.paused,
    hvm: raw.hvm,
    onlineVcpus: raw.onlineVcpus,
    cpuTimeNs: raw.cpuTimeNs,
  };
}

/**
 * What the backend's addon was compiled against (`xenclaim info`, the daemon's GET /v1/host); undefined for a
 * backend that is not the native one (the mock has no addon).
 */
export function addonBuildTarget(backend: XenBackend): AddonBuildTarget | undefined {
  return backend instanceof NativeBackend ? backend.buildTarget : undefined;
}

export class NativeBackend implements XenBackend {
  readonly kind = 'native' as const;
  readonly features: BackendFeatures;
  /** What the addon was compiled against (libxenctrl/libxenlight versions, interface versions); `xenclaim info` prints it. */
  readonly buildTarget: AddonBuildTarget | undefined;
  private closed = false;

  /**
   * Wraps a loaded addon. No Xen access happens here: tests use this to reach the addon (and its real
   * xc_interface_open failure) without openNativeBackend's /dev/xen/privcmd check.
   */
  constructor(
    private readonly binding: NativeBinding,
    version?: XenVersionInfo,
  ) {
    const claims = version === undefined ||
      version.major > CLAIMS_SINCE.major || (version.major === CLAIMS_SINCE.major && version.minor >= CLAIMS_SINCE.minor);
    this.features = Object.freeze({
      claims,
      tmem: binding.hasTmem === true,
      libxl: typeof binding.createGuest === 'function',
    });
    this.buildTarget = binding.buildTarget;
  }

  private async call<T>(op: string, run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new XenError(`${op}: EBADF (the native backend is closed)`, { code: 'EBADF', op });
    try {
      return await run();
    } catch (error) {
      throw toXenError(op, error);
    }
  }

  private libxl<K extends keyof NativeBinding>(op: string, name: K): NonNullable<NativeBinding[K]> {
    const fn = this.binding[name];
    if (typeof fn !== 'function') {
      throw new XenError(`${op}: ENOSYS (this build of the addon has no libxl support)`, { code: 'ENOSYS', op });
    }
    return (fn as (...args: unknown[]) => unknown).bind(this.binding) as NonNullable<NativeBinding[K]>;
  }

  physinfo(): Promise<Physinfo> {
    return this.call('physinfo', async () => {
      const raw = await this.binding.physinfo();
      return {
        totalPages: raw.totalPages,
        freePages: raw.freePages,
        scrubPages: raw.scrubPages,
        outstandingPages: raw.outstandingPages,
        nrCpus: raw.nrCpus,
        nrNodes: raw.nrNodes,
        cpuKhz: raw.cpuKhz,
      };
    });
  }

  xenVersion(): Promise<XenVersionInfo> {
    return this.call('xenVersion', () => this.binding.xenVersion());
  }

  listDomains(): Promise<DomainInfo[]> {
    return this.call('listDomains', async () => {
      const domains = (await this.binding.listDomains()).map(toDomainInfo);
      await this.addNamesAndTargets(domains);
      return domains;
    });
  }

  async getDomain(domid: number): Promise<DomainInfo> {
    const op = 'getDomain';
    checkDomid(op, domid);
    return this.call(op, async () => {
      const raw = await this.binding.getDomainInfo(domid);
      if (raw === null) throw XenError.fromErrno(op, 3, `domain ${domid} does not exist`);
      const domain = toDomainInfo(raw);
      await this.addNamesAndTargets([domain]);
      return domain;
    });
  }

  /** name and targetKiB from libxl/xenstore, where the addon has libxl and they are known; best effort. */
  private async addNamesAndTargets(domains: DomainInfo[]): Promise<void> {
    const lookup = this.binding.domainNamesAndTargets;
    if (typeof lookup !== 'function' || domains.length === 0) return;
    let known: Awaited<ReturnType<NonNullable<NativeBinding['domainNamesAndTargets']>>>;
    try {
      known = await lookup.call(this.binding, domains.map((d) => d.domid));
    } catch {
      return; // no xenstore / libxl here: the hypervisor's view is still complete
    }
    const byDomid = new Map(known.map((k) => [k.domid, k]));
    for (const domain of domains) {
      const extra = byDomid.get(domain.domid);
      if (extra?.name != null) domain.name = extra.name;
      if (extra?.targetKiB != null) domain.targetKiB = extra.targetKiB;
    }
  }

  async claimPages(domid: number, pages: number): Promise<void> {
    const op = 'claimPages';
    checkDomid(op, domid);
    checkCount(op, 'pages', pages);
    return this.call(op, () => this.binding.claimPages(domid, pages));
  }

  async setMaxMem(domid: number, maxKiB: number): Promise<void> {
    const op = 'setMaxMem';
    checkDomid(op, domid);
    checkCount(op, 'maxKiB', maxKiB);
    return this.call(op, () => this.binding.setMaxMem(domid, maxKiB));
  }

  async createEmptyDomain(options: CreateEmptyDomainOptions): Promise<number> {
    const op = 'createEmptyDomain';
    checkObject(op, 'options', options);
    const type = checkOneOf(op, 'options.type', options.type, ['pv', 'pvh'] as const);
    const vcpus = options.vcpus === undefined ? 1 : checkInteger(op, 'options.vcpus', options.vcpus, 1, MAX_VCPUS);
    return this.call(op, () => this.binding.createEmptyDomain(type, vcpus));
  }

  async populatePhysmap(domid: number, pages: number): Promise<void> {
    const op = 'populatePhysmap';
    checkDomid(op, domid);
    checkCount(op, 'pages', pages);
    return this.call(op, async () => {
      const done = await this.binding.populatePhysmap(domid, pages);
      if (done < pages) throw await this.explainPopulateShortfall(op, domid, pages, done);
    });
  }

  /**
   * XENMEM_populate_physmap says only how many pages it populated, not why it stopped. Of the reasons
   * (docs/claim-rules.md#rule-7), max_pages is visible afterwards; otherwise it was the allocation gate.
   */
  private async explainPopulateShortfall(op: string, domid: number, pages: number, done: number): Promise<XenError> {
    const info = await this.binding.getDomainInfo(domid);
    const got = `Xen populated ${done} of ${pages} pages`;
    if (info === null) return XenError.fromErrno(op, 3, `${got}: domain ${domid} no longer exists`);
    if (info.dying) return XenError.fromErrno(op, 3, `${got}: domain ${domid} is dying`);
    const remaining = pages - done;
    if (info.totPages + remaining > info.maxPages) {
      return XenError.fromErrno(op, 7, `${got}: domain ${domid} would exceed max_pages ${info.maxPages} (tot_pages ${info.totPages})`);
    }
    return XenError.fromErrno(op, 12,
      `${got}: refused by the allocation gate (unclaimed free memory and domain ${domid}'s own claim of ` +
      `${info.outstandingPages} pages are each too small)`);
  }

  async decreaseReservation(domid: number, pages: number): Promise<void> {
    const op = 'decreaseReservation';
    checkDomid(op, domid);
    checkCount(op, 'pages', pages);
    return this.call(op, async () => {
      const done = await this.binding.decreaseReservation(domid, pages);
      if (done < pages) {
        const info = await this.binding.getDomainInfo(domid);
        const got = `Xen took back ${done} of ${pages} pages`;
        throw info === null
          ? XenError.fromErrno(op, 3, `${got}: domain ${domid} no longer exists`)
          : XenError.fromErrno(op, 22, `${got} from domain ${domid}`);
      }
    });
  }

  async destroyDomain(domid: number): Promise<void> {
    const op = 'destroyDomain';
    checkDomid(op, domid);
    return this.call(op, () => this.binding.destroyDomain(domid));
  }

  async pauseDomain(domid: number): Promise<void> {
    const op = 'pauseDomain';
    checkDomid(op, domid);
    return this.call(op, () => this.binding.pauseDomain(domid));
  }

  async unpauseDomain(domid: number): Promise<void> {
    const op = 'unpauseDomain';
    checkDomid(op, domid);
    return this.call(op, () => this.binding.unpauseDomain(domid));
  }

  async tmemFreeze(): Promise<void> {
    return this.call('tmemFreeze', async () => {
      await this.binding.tmemControl('freeze');
    });
  }

  async tmemThaw(): Promise<void> {
    return this.call('tmemThaw', async () => {
      await this.binding.tmemControl('thaw');
    });
  }

  async tmemSetCap(pages: number): Promise<void> {
    const op = 'tmemSetCap';
    checkCount(op, 'pages', pages);
    return this.call(op, async () => {
      await this.binding.tmemControl('setCap');
    });
  }

  async tmemFreeablePages(): Promise<number> {
    return this.call('tmemFreeablePages', async () => Number(await this.binding.tmemControl('freeablePages')));
  }

  /**
   * `options.claim` wins; without it the config's own b_info.claim_mode; without that, claim (the contract's
   * default, and xl's since Xen 4.4).
   */
  async createGuest(config: LibxlDomainConfig, options: CreateGuestOptions = {}): Promise<number> {
    const op = 'createGuest';
    checkObject(op, 'options', options);
    const explicitClaim = options.claim === undefined ? undefined : checkBoolean(op, 'options.claim', options.claim, true);
    const paused = checkBoolean(op, 'options.paused', options.paused, false);
    const { json, claimMode } = checkLibxlConfig(op, config, explicitClaim);
    // The addon sets b_info.claim_mode from `claim` after parsing, whatever the JSON says.
    const claim = explicitClaim ?? claimMode ?? true;
    const createGuest = this.libxl(op, 'createGuest');
    return this.call(op, () => createGuest(json, { claim, paused }));
  }

  /**
   * libxl answers a domid that does not exist with whatever step failed first (ERROR_LOCK_FAIL from its userdata
   * lock, for instance); asking Xen first gives the operator ESRCH. A domain that vanishes in between still gets
   * libxl's own code.
   */
  private async requireDomain(op: string, domid: number): Promise<void> {
    if ((await this.binding.getDomainInfo(domid)) === null) throw XenError.fromErrno(op, 3, `domain ${domid} does not exist`);
  }

  async destroyGuest(domid: number): Promise<void> {
    const op = 'destroyGuest';
    checkDomid(op, domid);
    const destroyGuest = this.libxl(op, 'destroyGuest');
    return this.call(op, async () => {
      await this.requireDomain(op, domid);
      await destroyGuest(domid);
    });
  }

  async setMemoryTarget(domid: number, targetKiB: number, options: SetMemoryTargetOptions = {}): Promise<void> {
    const op = 'setMemoryTarget';
    checkDomid(op, domid);
    checkObject(op, 'options', options);
    const relative = checkBoolean(op, 'options.relative', options.relative, false);
    const enforce = checkBoolean(op, 'options.enforce', options.enforce, true);
    // libxl takes an int64 target; only a relative target may be negative.
    if (relative) checkSignedCount(op, 'targetKiB', targetKiB);
    else checkCount(op, 'targetKiB', targetKiB);
    const setMemoryTarget = this.libxl(op, 'setMemoryTarget');
    return this.call(op, async () => {
      await this.requireDomain(op, domid);
      await setMemoryTarget(domid, targetKiB, relative, enforce);
    });
  }

  /**
   * libxl_domain_setmaxmem. The target is read first so that a maximum below it is refused with the same EINVAL
   * as on the mock host, naming both; libxl checks again under its own lock (a refusal there is ERROR_INVAL).
   */
  async setGuestMaxMem(domid: number, maxKiB: number): Promise<void> {
    const op = 'setGuestMaxMem';
    checkDomid(op, domid);
    checkCount(op, 'maxKiB', maxKiB);
    const setGuestMaxMem = this.libxl(op, 'setGuestMaxMem');
    return this.call(op, async () => {
      const domain = await this.getDomain(domid);
      if (domain.targetKiB !== undefined && maxKiB < domain.targetKiB) throw maxBelowTargetError(op, domid, maxKiB, domain.targetKiB);
      await setGuestMaxMem(domid, maxKiB);
    });
  }

  async needMemoryKiB(config: LibxlDomainConfig): Promise<number> {
    const op = 'needMemoryKiB';
    const { json } = checkLibxlConfig(op, config);
    const needMemoryKiB = this.libxl(op, 'needMemoryKiB');
    return this.call(op, () => needMemoryKiB(json));
  }

  async freeMemoryKiB(): Promise<number> {
    const op = 'freeMemoryKiB';
    const freeMemoryKiB = this.libxl(op, 'freeMemoryKiB');
    return this.call(op, () => freeMemoryKiB());
  }

  async close(): Promise<void> {
    // The addon's handles are process-wide and live as long as the process (libxl's ctx cannot be freed while
    // another backend in this process may use it); closing makes this object refuse further calls.
    this.closed = true;
  }
}

const DOMAIN_TYPES = ['pv', 'pvh', 'hvm'] as const;

/** libxl's JSON spells a libxl_defbool as one of these strings (a JSON boolean is refused by libxl's parser). */
type Defbool = 'True' | 'False' | '<default>';

export interface CheckedLibxlConfig {
  /** The config as libxl_domain_config_from_json takes it. */
  json: string;
  /** b_info.claim_mode as the config gives it: undefined when absent or '<default>'. */
  claimMode: boolean | undefined;
}

/**
 * The checks on libxl's JSON domain config that are ours to make (libxl checks the rest and logs why): an object
 * with c_info and b_info objects, a known type and a name, sane memory and vCPU counts, and claim_mode absent, a
 * boolean, or a libxl defbool string. The JSON handed on gets b_info's "type.<type>" key where it lacks one, and
 * `claim`, when given, as b_info.claim_mode; the caller's object is not modified.
 */
export function checkLibxlConfig(op: string, config: unknown, claim?: boolean): CheckedLibxlConfig {
  const root = checkObject(op, 'config', config);
  const cInfo = checkObject(op, 'config.c_info', root.c_info);
  const bInfo = checkObject(op, 'config.b_info', root.b_info);
  const type = checkOneOf(op, 'config.c_info.type', cInfo.type, DOMAIN_TYPES);
  const name = cInfo.name;
  checkDomainName(op, 'config.c_info.name', name); // the rule the mock host applies too
  const maxKiB = bInfo.max_memkb === undefined ? undefined : checkCount(op, 'config.b_info.max_memkb', bInfo.max_memkb);
  const targetKiB = bInfo.target_memkb === undefined ? undefined : checkCount(op, 'config.b_info.target_memkb', bInfo.target_memkb);
  if (maxKiB !== undefined && targetKiB !== undefined && targetKiB > maxKiB) {
    // libxl refuses this too (ERROR_INVAL, "target memory is higher than max memory").
    throw invalidArgument(op, 'config.b_info.target_memkb', `at most config.b_info.max_memkb (${maxKiB})`, targetKiB);
  }
  if (bInfo.max_vcpus !== undefined) checkInteger(op, 'config.b_info.max_vcpus', bInfo.max_vcpus, 1, MAX_VCPUS);

  // libxl's JSON gives b_info its type through a "type.<type>" key (libxl_domain_build_info's keyed union); without
  // one libxl says "invalid domain type". xl derives it from c_info.type, and so do we.
  const unionKeys = Object.keys(bInfo).filter((key) => key.startsWith('type.'));
  if (unionKeys.some((key) => key !== `type.${type}`)) {
    throw invalidArgument(op, 'config.b_info', `no type key other than "type.${type}" (c_info.type is '${type}')`, unionKeys.join(', '));
  }
  const typeUnion = unionKeys.length === 0 ? { [`type.${type}`]: {} } : {};

  const given = bInfo.claim_mode;
  let claimMode: boolean | undefined;
  if (given === true || given === 'True') claimMode = true;
  else if (given === false || given === 'False') claimMode = false;
  else if (given !== undefined && given !== '<default>') {
    throw invalidArgument(op, 'config.b_info.claim_mode', "true, false, 'True', 'False' or '<default>'", given);
  }
  const effective = claim ?? claimMode;
  const defbool: Defbool | undefined = effective === undefined ? (given === undefined ? undefined : '<default>') : effective ? 'True' : 'False';
  const normalised = {
    ...root,
    b_info: { ...bInfo, ...typeUnion, ...(defbool === undefined ? {} : { claim_mode: defbool }) },
  };
  let json: string;
  try {
    json = JSON.stringify(normalised);
  } catch (error) {
    throw invalidArgument(op, 'config', 'JSON-serialisable', (error as Error).message);
  }
  return { json, claimMode };
}

function unreachable(reason: string, cause: XenError | undefined, code: string, errno?: number): XenError {
  return new XenError(`openBackend: Xen is not reachable: ${reason}`, {
    code,
    op: 'openBackend',
    errno,
    xenLog: cause?.xenLog,
    cause,
  });
}

/**
 * The real host. Says in an operator's words why Xen is unreachable: not a dom0, not root, or the addon not built.
 */
export async function openNativeBackend(options: OpenNativeBackendOptions = {}): Promise<XenBackend> {
  const privcmd = options.privcmdPath ?? PRIVCMD_PATH;
  if (!existsSync(privcmd)) {
    throw unreachable(`not a Xen dom0 (no ${privcmd}). Run xenclaim as root in the dom0 of a Xen host, ` +
      "or use openBackend({ kind: 'mock' }) for the simulated host", undefined, 'ENOENT', 2);
  }
  const binding = loadNativeBinding(options.nativeBinding);
  const probe = new NativeBackend(binding);
  let version: XenVersionInfo;
  try {
    version = await probe.xenVersion();
  } catch (error) {
    const cause = toXenError('openBackend', error);
    if (cause.code === 'EACCES' || cause.code === 'EPERM') {
      throw unreachable(`must run as root (opening the Xen control interface gave ${cause.code})`, cause, cause.code, cause.errno);
    }
    if (cause.code === 'ENOENT' || cause.code === 'ENODEV') {
      throw unreachable(`not a Xen dom0 (${privcmd} exists but the Xen control interface cannot be opened: ${cause.code})`,
        cause, cause.code, cause.errno);
    }
    throw unreachable(cause.message.replace(/^openBackend: /, ''), cause, cause.code, cause.errno);
  }
  return new NativeBackend(binding, version);
}
