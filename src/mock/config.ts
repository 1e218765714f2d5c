/**
 * Reading libxl's JSON domain config the way Xen 4.17's libxl defaults it and sizes its memory:
 * libxl__domain_config_setdefault, libxl__domain_create_info_setdefault and libxl__domain_build_info_setdefault
 * (tools/libs/light/libxl_create.c), libxl__arch_passthrough_mode_setdefault (libxl_x86.c) and
 * libxl__domain_need_memory_calculate (libxl_mem.c), field names from libxl_types.idl. Pure: config and host
 * capabilities in, build plan out. A malformed field is EINVAL naming its JSON path; a config libxl's setdefault
 * refuses is ERROR_INVAL with libxl's log line, as libxl_domain_need_memory and libxl_domain_create_new fail.
 */
import type { LibxlDomainConfig } from '../backend.js';
import { XenError } from '../errors.js';
import { kibToPagesFloor } from '../units.js';
import { checkCount, checkDomainName, checkInteger, checkObject, checkOneOf, invalidArgument, MAX_VCPUS } from '../validate.js';
import type { MockDomainType } from './domains.js';

/** LIBXL_PV_EXTRA_MEMORY / LIBXL_HVM_EXTRA_MEMORY (KiB), added by libxl_domain_need_memory. */
export const LIBXL_PV_EXTRA_MEMORY_KIB = 1024;
export const LIBXL_HVM_EXTRA_MEMORY_KIB = 2048;
/** libxl's default max_memkb when a config gives none. */
export const LIBXL_DEFAULT_MAX_MEMKB = 32 * 1024;
/** The HVM VGA hole (0xA0000–0xBFFFF) the domain builder leaves unpopulated: 32 pages. */
export const VGA_HOLE_PAGES = 32;
/** Stub domain memory by its kind: LIBXL_LINUX_STUBDOM_MEM (qemu-xen) and MiniOS's 28 MiB (qemu-xen-traditional). */
export const LIBXL_LINUX_STUBDOM_MEMKB = 128 * 1024;
export const LIBXL_MINIOS_STUBDOM_MEMKB = 28 * 1024;
/** HVM_MAX_VCPUS: libxl refuses an avail_vcpus bitmap larger than this. */
const HVM_MAX_VCPUS = 128;

/** What libxl asks physinfo while defaulting a config (cap_hap, cap_shadow, cap_hvm_directio, …). */
export interface LibxlHostCaps {
  /** Hardware-assisted paging (cap_hap). */
  hap: boolean;
  /** Shadow paging (cap_shadow; Debian's Xen 4.17 is built without it). */
  shadow: boolean;
  /** An IOMMU for passthrough (cap_hvm_directio). */
  iommu: boolean;
  /** IOMMU page tables shared with HAP (cap_iommu_hap_pt_share). */
  iommuHapPtShare: boolean;
  /** A virtual PMU (cap_vpmu). */
  vpmu: boolean;
}

/** The mock host's capabilities by default: those of Xen 4.17 under QEMU (scripts/nested-xen): HAP only. */
export const DEFAULT_HOST_CAPS: Readonly<LibxlHostCaps> = Object.freeze({ hap: true, shadow: false, iommu: false, iommuHapPtShare: false, vpmu: false });

export type DeviceModelVersion = 'qemu_xen' | 'qemu_xen_traditional';

export interface GuestPlan {
  name: string;
  type: MockDomainType;
  vcpus: number;
  targetKiB: number;
  maxKiB: number;
  /** b_info.video_memkb after libxl's defaults (per vga kind and device model). */
  videoKiB: number;
  /** b_info.shadow_memkb after libxl's defaults: the paging pool of a PVH/HVM guest. */
  shadowKiB: number;
  /** b_info.iommu_memkb after libxl's defaults: IOMMU page tables for sync_pt passthrough. */
  iommuKiB: number;
  /** b_info.stubdomain_memkb after libxl's defaults (0 without a stub domain). */
  stubdomKiB: number;
  /** b_info.device_model_stubdomain: an HVM guest's device model runs in a stub domain (counted for PVH too). */
  stubdom: boolean;
  deviceModelVersion: DeviceModelVersion;
  claimMode: boolean;
  /** libxl_domain_need_memory's answer. */
  needKiB: number;
  /** Pages the domain builder populates (and claims): PV/PVH the target, HVM the target minus video RAM and VGA hole. */
  buildPages: number;
}

type Fields = Record<string, unknown>;

function optionalCount(op: string, path: string, value: unknown): number | undefined {
  return value === undefined ? undefined : checkCount(op, path, value);
}

/** A libxl_defbool in JSON: "True"/"False" (as libxl prints it), true/false, or "<default>"/absent. */
function defbool(op: string, path: string, value: unknown): boolean | undefined {
  if (value === undefined || value === '<default>') return undefined;
  if (value === true || value === 'True') return true;
  if (value === false || value === 'False') return false;
  throw invalidArgument(op, path, "true, false, 'True' or 'False'", value);
}

/** A libxl enum in JSON: its name, read case-insensitively as libxl_*_from_string reads it. */
function enumName<T extends string>(op: string, path: string, value: unknown, names: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const lower = typeof value === 'string' ? value.toLowerCase() : value;
  return checkOneOf(op, path, lower, names);
}

function object(op: string, path: string, value: unknown): Fields {
  return value === undefined ? {} : checkObject(op, path, value);
}

function listLength(op: string, path: string, value: unknown): number {
  if (value === undefined) return 0;
  if (!Array.isArray(value)) throw invalidArgument(op, path, 'a list', value);
  return value.length;
}

/** libxl refused the config (setdefault's ERROR_INVAL), with its log line. */
function libxlInval(op: string, message: string): XenError {
  return new XenError(`${op}: ERROR_INVAL (${message})`, {
    code: 'ERROR_INVAL',
    op,
    xenLog: [`libxl: error: libxl_create.c: ${message}`],
  });
}

/** libxl__get_required_paging_memory, in C's unsigned long arithmetic (maxmem may still be LIBXL_MEMKB_DEFAULT). */
export function requiredPagingMemoryKiB(maxMemKiB: bigint, vcpus: number, type: MockDomainType, hap: boolean): bigint {
  const perMiB = BigInt((type !== 'pv' ? 1 : 0) + (hap ? 0 : 1));
  return (4n * (256n * BigInt(vcpus) + perMiB * (maxMemKiB / 1024n))) % 2n ** 64n;
}

/** libxl__get_required_iommu_memory: a 4-level table of 512 entries per level over maxmem's pages. */
export function requiredIommuMemoryKiB(maxMemKiB: bigint): bigint {
  let pages = 0n;
  let memPages = maxMemKiB / 4n;
  for (let level = 0; level < 4; level++) {
    memPages = (memPages + 511n) / 512n;
    pages += memPages;
  }
  return pages * 4n;
}

/** libxl's video_memkb default and checks for an HVM guest's vga kind and device model. */
function videoMemory(op: string, kind: string, version: DeviceModelVersion, given: number | undefined): number {
  const minimum = (min: number, message: string): number => {
    const v = given ?? min;
    if (v < min) throw libxlInval(op, message);
    return v;
  };
  if (kind === 'none') return given ?? 0;
  if (version === 'qemu_xen_traditional') {
    if (kind === 'qxl') throw libxlInval(op, 'qemu upstream required for qxl vga');
    // CIRRUS on qemu-xen-traditional: anything but 4 MiB is ignored with a warning, and kept.
    return kind === 'std' ? minimum(8 * 1024, 'videoram must be at least 8 MB for STDVGA on QEMU_XEN_TRADITIONAL') : given ?? 4 * 1024;
  }
  if (kind === 'qxl') return minimum(128 * 1024, '128 Mib videoram is the minimum for qxl default');
  if (kind === 'std') return minimum(16 * 1024, 'videoram must be at least 16 MB for STDVGA on QEMU_XEN');
  return minimum(8 * 1024, 'videoram must be at least 8 MB for CIRRUS on QEMU_XEN');
}

const MEMKB_DEFAULT = 2n ** 64n - 1n;
const memkb = (v: number | undefined): bigint => (v === undefined ? MEMKB_DEFAULT : BigInt(v));

/**
 * libxl__domain_config_setdefault and libxl_domain_need_memory for `config` on a host with `caps`.
 * `claimOverride` replaces b_info.claim_mode (createGuest's `claim` option).
 */
export function parseGuestConfig(op: string, config: unknown, claimOverride?: boolean, caps: LibxlHostCaps = DEFAULT_HOST_CAPS): GuestPlan {
  const root = checkObject(op, 'config', config) as LibxlDomainConfig;
  const cInfo = checkObject(op, 'config.c_info', root.c_info);
  const bInfo = checkObject(op, 'config.b_info', root.b_info);
  const type = checkOneOf(op, 'config.c_info.type', cInfo.type, ['pv', 'pvh', 'hvm'] as const);
  const name = checkDomainName(op, 'config.c_info.name', cInfo.name);
  const hvm = object(op, 'config.b_info.type.hvm', bInfo['type.hvm']);
  const vcpusGiven = bInfo.max_vcpus === undefined ? 0 : checkInteger(op, 'config.b_info.max_vcpus', bInfo.max_vcpus, 1, MAX_VCPUS);
  const maxGiven = optionalCount(op, 'config.b_info.max_memkb', bInfo.max_memkb);
  const targetGiven = optionalCount(op, 'config.b_info.target_memkb', bInfo.target_memkb);
  const shadowGiven = optionalCount(op, 'config.b_info.shadow_memkb', bInfo.shadow_memkb);
  const iommuGiven = optionalCount(op, 'config.b_info.iommu_memkb', bInfo.iommu_memkb);
  const videoGiven = optionalCount(op, 'config.b_info.video_memkb', bInfo.video_memkb);
  const stubGiven = optionalCount(op, 'config.b_info.stubdomain_memkb', bInfo.stubdomain_memkb);
  const claimMode = claimOverride ?? defbool(op, 'config.b_info.claim_mode', bInfo.claim_mode) ?? false;

  // libxl__domain_create_info_setdefault: the paging mode of a PVH/HVM guest from the host's capabilities.
  let hap = defbool(op, 'config.c_info.hap', cInfo['hap']);
  if (type !== 'pv' && hap === undefined) {
    if (caps.hap) hap = true;
    else if (caps.shadow) hap = false;
    else throw libxlInval(op, 'neither hap nor shadow paging available');
  }

  // Passthrough: enabled by PCI or device-tree devices, then sync_pt or share_pt (libxl_x86.c).
  const passthroughNames = ['default', 'disabled', 'enabled', 'sync_pt', 'share_pt'] as const;
  let passthrough = enumName(op, 'config.c_info.passthrough', cInfo['passthrough'], passthroughNames) ?? 'default';
  const needPt = listLength(op, 'config.pcidevs', root['pcidevs']) + listLength(op, 'config.dtdevs', root['dtdevs']) > 0;
  if (passthrough === 'default') passthrough = needPt ? 'enabled' : 'disabled';
  if (passthrough !== 'disabled' && !caps.iommu) throw libxlInval(op, 'passthrough not supported on this platform');
  if (passthrough === 'disabled' && needPt) throw libxlInval(op, 'passthrough disabled but devices are specified');
  if (passthrough !== 'disabled' && type === 'pvh') throw libxlInval(op, 'passthrough not yet supported for x86 PVH guests');
  const sharePt = type !== 'pv' && caps.iommuHapPtShare && hap === true;
  if (passthrough === 'enabled') passthrough = sharePt ? 'share_pt' : 'sync_pt';
  if (passthrough === 'share_pt' && !sharePt) throw libxlInval(op, 'passthrough="share_pt" not valid here');

  // Before build_info_setdefault, so an unset max_memkb is still LIBXL_MEMKB_DEFAULT here, as in libxl.
  const podEnabled = type !== 'pv' && memkb(targetGiven) < memkb(maxGiven);
  const vnuma = listLength(op, 'config.b_info.vnuma_nodes', bInfo['vnuma_nodes']) > 0;
  if (podEnabled && passthrough !== 'disabled') throw libxlInval(op, 'IOMMU required for device passthrough but not supported together with PoD');
  if (podEnabled && vnuma) throw libxlInval(op, 'Cannot enable PoD and vNUMA at the same time');
  if (type === 'pv' && vnuma) throw libxlInval(op, 'PV vNUMA is not yet supported');
  const shadow = shadowGiven !== undefined ? BigInt(shadowGiven) : requiredPagingMemoryKiB(memkb(maxGiven), vcpusGiven, type, type !== 'pv' && hap === true);
  const iommu = iommuGiven !== undefined ? BigInt(iommuGiven) : passthrough === 'sync_pt' ? requiredIommuMemoryKiB(memkb(maxGiven)) : 0n;

  // libxl__domain_build_info_setdefault (assuming qemu-xen is installed, so it stays the default device model).
  const stubdom = defbool(op, 'config.b_info.device_model_stubdomain', bInfo['device_model_stubdomain']) ?? false;
  const versionGiven = enumName(op, 'config.b_info.device_model_version', bInfo['device_model_version'], ['unknown', 'qemu_xen_traditional', 'qemu_xen'] as const);
  const deviceModelVersion: DeviceModelVersion = versionGiven !== undefined && versionGiven !== 'unknown' ? versionGiven : type === 'hvm' && stubdom ? 'qemu_xen_traditional' : 'qemu_xen';
  if (type === 'hvm') {
    const bios = enumName(op, 'config.b_info.type.hvm.bios', hvm['bios'], ['unknown', 'rombios', 'seabios', 'ovmf'] as const);
    if (deviceModelVersion === 'qemu_xen_traditional' && bios !== undefined && bios !== 'unknown' && bios !== 'rombios') throw libxlInval(op, 'qemu-xen-traditional requires bios=rombios.');
    if (deviceModelVersion === 'qemu_xen' && bios === 'rombios') throw libxlInval(op, 'qemu-xen does not support bios=rombios.');
    if (bInfo['kernel'] === undefined && (bInfo['ramdisk'] !== undefined || bInfo['cmdline'] !== undefined)) throw libxlInval(op, 'direct boot parameters specified but kernel missing');
  }
  const vcpus = vcpusGiven || 1;
  const avail = bInfo['avail_vcpus'];
  if (Array.isArray(avail) && avail.length > 0 && Number(avail[avail.length - 1]) + 1 > HVM_MAX_VCPUS) {
    throw new XenError(`${op}: ERROR_FAIL (avail_vcpus bitmap contains too many VCPUS)`, { code: 'ERROR_FAIL', op, xenLog: ['libxl: error: libxl_create.c: avail_vcpus bitmap contains too many VCPUS'] });
  }
  const maxKiB = maxGiven ?? LIBXL_DEFAULT_MAX_MEMKB;
  const targetKiB = targetGiven ?? maxKiB;
  if (targetKiB > maxKiB) throw invalidArgument(op, 'config.b_info.target_memkb', `at most config.b_info.max_memkb (${maxKiB})`, targetKiB);
  const linuxStubdom = stubdom && deviceModelVersion === 'qemu_xen';
  const stubdomKiB = stubGiven ?? (stubdom ? (linuxStubdom ? LIBXL_LINUX_STUBDOM_MEMKB : LIBXL_MINIOS_STUBDOM_MEMKB) : 0);
  let videoKiB = 0;
  if (type === 'hvm') {
    const vga = object(op, 'config.b_info.type.hvm.vga', hvm['vga']);
    const kind = enumName(op, 'config.b_info.type.hvm.vga.kind', vga['kind'], ['unknown', 'cirrus', 'std', 'none', 'qxl'] as const);
    videoKiB = videoMemory(op, kind === undefined || kind === 'unknown' ? 'cirrus' : kind, deviceModelVersion, videoGiven);
    usbChecks(op, hvm);
  } else {
    videoKiB = videoGiven ?? 0;
  }
  altp2mChecks(op, type, bInfo, hvm, podEnabled);
  if (defbool(op, 'config.b_info.vpmu', bInfo['vpmu']) === true && !caps.vpmu) throw libxlInval(op, 'vPMU not supported on this platform');

  const hvmPages = kibToPagesFloor(targetKiB - videoKiB) - VGA_HOLE_PAGES;
  if (type === 'hvm' && hvmPages <= 0) {
    throw invalidArgument(op, 'config.b_info.target_memkb', `above video_memkb + 128 KiB for an HVM guest`, targetKiB);
  }
  const buildPages = type === 'hvm' ? hvmPages : kibToPagesFloor(targetKiB);
  if (buildPages === 0) throw invalidArgument(op, 'config.b_info.target_memkb', 'at least 4 (one page)', targetKiB);
  const plan: GuestPlan = {
    name, type, vcpus, targetKiB, maxKiB, videoKiB,
    shadowKiB: Number(shadow), iommuKiB: Number(iommu), stubdomKiB, stubdom, deviceModelVersion, claimMode,
    needKiB: 0, buildPages,
  };
  plan.needKiB = needMemoryKiB(plan);
  return plan;
}

/** setdefault's USB checks: usbversion or spice USB redirection cannot be combined with usb/usbdevice. */
function usbChecks(op: string, hvm: Fields): void {
  const spice = object(op, 'config.b_info.type.hvm.spice', hvm['spice']);
  const spiceEnabled = defbool(op, 'config.b_info.type.hvm.spice.enable', spice['enable']) ?? false;
  let redirection = spice['usbredirection'] === undefined ? 0 : checkInteger(op, 'config.b_info.type.hvm.spice.usbredirection', spice['usbredirection'], -(2 ** 31), 2 ** 31 - 1);
  if (!spiceEnabled && redirection > 0) redirection = 0;
  const usbversion = hvm['usbversion'] === undefined ? 0 : checkInteger(op, 'config.b_info.type.hvm.usbversion', hvm['usbversion'], -(2 ** 31), 2 ** 31 - 1);
  const usb = defbool(op, 'config.b_info.type.hvm.usb', hvm['usb']) ?? false;
  if ((usbversion !== 0 || redirection !== 0) && (usb || hvm['usbdevice_list'] !== undefined || hvm['usbdevice'] !== undefined)) {
    throw libxlInval(op, 'usbversion and/or usbredirection cannot be enabled with usb and/or usbdevice parameters.');
  }
}

/** setdefault's altp2m checks: not with nested HVM, not with PoD (target below max). */
function altp2mChecks(op: string, type: MockDomainType, bInfo: Fields, hvm: Fields, podEnabled: boolean): void {
  if (type === 'pv') return;
  const mode = enumName(op, 'config.b_info.altp2m', bInfo['altp2m'], ['disabled', 'mixed', 'external', 'limited'] as const) ?? 'disabled';
  const altp2m = (type === 'hvm' && defbool(op, 'config.b_info.type.hvm.altp2m', hvm['altp2m']) === true) || mode !== 'disabled';
  const nested = defbool(op, 'config.b_info.nested_hvm', bInfo['nested_hvm']) ?? false;
  if (nested && altp2m) throw libxlInval(op, 'nestedhvm and altp2mhvm cannot be used together');
  if (altp2m && podEnabled) throw libxlInval(op, 'Cannot enable PoD and ALTP2M at the same time');
}

/**
 * libxl__domain_need_memory_calculate (4.17): target + shadow + iommu + the type's extra (1 MiB PV, 2 MiB PVH/HVM)
 * + for an HVM guest with a stub domain its memory and video RAM, rounded up to 2 MiB.
 */
export function needMemoryKiB(plan: Omit<GuestPlan, 'needKiB'>): number {
  let need = plan.targetKiB + plan.shadowKiB + plan.iommuKiB;
  if (plan.type === 'pv') need += LIBXL_PV_EXTRA_MEMORY_KIB;
  else need += LIBXL_HVM_EXTRA_MEMORY_KIB + (plan.stubdom ? plan.stubdomKiB + plan.videoKiB : 0);
  // libxl's arithmetic is uint64_t; a need beyond 2^53 KiB is far beyond any host anyway.
  const rest = need % 2048;
  return rest === 0 ? need : need + 2048 - rest;
}
