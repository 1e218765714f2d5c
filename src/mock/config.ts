/**
 * Reading libxl's JSON domain config the way libxl's setdefault and libxl_domain_need_memory do (Xen 4.17,
 * tools/libs/light/libxl_create.c and libxl_mem.c). Pure: config in, build plan out; bad fields are EINVAL
 * naming their JSON path.
 */
import type { LibxlDomainConfig } from '../backend.js';
import { kibToPagesFloor } from '../units.js';
import { checkCount, checkInteger, checkObject, checkOneOf, invalidArgument, MAX_VCPUS } from '../validate.js';
import type { MockDomainType } from './domains.js';

/** LIBXL_PV_EXTRA_MEMORY / LIBXL_HVM_EXTRA_MEMORY (KiB), added by libxl_domain_need_memory. */
export const LIBXL_PV_EXTRA_MEMORY_KIB = 1024;
export const LIBXL_HVM_EXTRA_MEMORY_KIB = 2048;
/** libxl's default max_memkb when a config gives none. */
export const LIBXL_DEFAULT_MAX_MEMKB = 32 * 1024;
/** Default video RAM of an HVM guest (cirrus on qemu-xen). */
export const LIBXL_DEFAULT_HVM_VIDEO_MEMKB = 8 * 1024;
/** The HVM VGA hole (0xA0000–0xBFFFF) the domain builder leaves unpopulated: 32 pages. */
export const VGA_HOLE_PAGES = 32;
/** Default stub domain memory (LIBXL_DEVICE_MODEL stubdom), counted only for stubdom HVM guests. */
export const LIBXL_DEFAULT_STUBDOM_MEMKB = 128 * 1024;

export interface GuestPlan {
  name: string;
  type: MockDomainType;
  vcpus: number;
  targetKiB: number;
  maxKiB: number;
  videoKiB: number;
  shadowKiB: number;
  iommuKiB: number;
  stubdomKiB: number;
  claimMode: boolean;
  /** libxl_domain_need_memory's answer. */
  needKiB: number;
  /** Pages the domain builder populates (and claims): PV the target, HVM the target minus video RAM and VGA hole. */
  buildPages: number;
}

function optionalCount(op: string, path: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : checkCount(op, path, value);
}

function readClaimMode(op: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'True') return true;
  if (value === false || value === 'False') return false;
  throw invalidArgument(op, 'config.b_info.claim_mode', "true, false, 'True' or 'False'", value);
}

export function parseGuestConfig(op: string, config: unknown, claimOverride?: boolean): GuestPlan {
  const root = checkObject(op, 'config', config) as LibxlDomainConfig;
  const cInfo = checkObject(op, 'config.c_info', root.c_info);
  const bInfo = checkObject(op, 'config.b_info', root.b_info);
  const type = checkOneOf(op, 'config.c_info.type', cInfo.type, ['pv', 'pvh', 'hvm'] as const);
  const name = cInfo.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 64 || !/^[A-Za-z0-9_.:+-]+$/.test(name)) {
    throw invalidArgument(op, 'config.c_info.name', 'a name of 1 to 64 characters from A-Z a-z 0-9 _ . : + -', name);
  }
  const vcpus = bInfo.max_vcpus === undefined ? 1 : checkInteger(op, 'config.b_info.max_vcpus', bInfo.max_vcpus, 1, MAX_VCPUS);
  const maxKiB = optionalCount(op, 'config.b_info.max_memkb', bInfo.max_memkb, LIBXL_DEFAULT_MAX_MEMKB);
  const targetKiB = optionalCount(op, 'config.b_info.target_memkb', bInfo.target_memkb, maxKiB);
  if (targetKiB > maxKiB) {
    throw invalidArgument(op, 'config.b_info.target_memkb', `at most config.b_info.max_memkb (${maxKiB})`, targetKiB);
  }
  const videoKiB = type === 'hvm' ? optionalCount(op, 'config.b_info.video_memkb', bInfo.video_memkb, LIBXL_DEFAULT_HVM_VIDEO_MEMKB) : 0;
  const shadowKiB = optionalCount(op, 'config.b_info.shadow_memkb', bInfo.shadow_memkb, 0);
  const iommuKiB = optionalCount(op, 'config.b_info.iommu_memkb', bInfo.iommu_memkb, 0);
  const stubdom = type === 'hvm' && bInfo.device_model_stubdomain_override === true;
  const stubdomKiB = stubdom ? optionalCount(op, 'config.b_info.stubdomain_memkb', bInfo.stubdomain_memkb, LIBXL_DEFAULT_STUBDOM_MEMKB) : 0;
  const claimMode = claimOverride ?? readClaimMode(op, bInfo.claim_mode) ?? false;
  const hvmPages = kibToPagesFloor(targetKiB - videoKiB) - VGA_HOLE_PAGES;
  if (type === 'hvm' && hvmPages <= 0) {
    throw invalidArgument(op, 'config.b_info.target_memkb', `above video_memkb + 128 KiB for an HVM guest`, targetKiB);
  }
  const buildPages = type === 'hvm' ? hvmPages : kibToPagesFloor(targetKiB);
  if (buildPages === 0) throw invalidArgument(op, 'config.b_info.target_memkb', 'at least 4 (one page)', targetKiB);
  const plan: GuestPlan = {
    name, type, vcpus, targetKiB, maxKiB, videoKiB, shadowKiB, iommuKiB, stubdomKiB, claimMode, needKiB: 0, buildPages,
  };
  plan.needKiB = needMemoryKiB(plan);
  return plan;
}

/** libxl__domain_need_memory_calculate (4.17): target + shadow + iommu + extra (+ stubdom), rounded up to 2 MiB. */
export function needMemoryKiB(plan: Omit<GuestPlan, 'needKiB'>): number {
  let need = plan.targetKiB + plan.shadowKiB + plan.iommuKiB;
  if (plan.type === 'pv') need += LIBXL_PV_EXTRA_MEMORY_KIB;
  else need += LIBXL_HVM_EXTRA_MEMORY_KIB + (plan.stubdomKiB > 0 ? plan.stubdomKiB + plan.videoKiB : 0);
  const rest = need % 2048;
  return rest === 0 ? need : need + 2048 - rest;
}
