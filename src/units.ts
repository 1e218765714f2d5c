/**
 * Memory units and the libxl constants every layer shares, defined once. Xen's hypervisor counters speak 4 KiB pages
 * (x86), libxl speaks KiB, operators speak MiB; every field name carries its unit (`totPages`, `targetKiB`,
 * `memoryMiB`). See docs/backend-contract.md#units.
 */

/** One x86 page (XEN_PAGE_SIZE), in KiB. */
export const PAGE_SIZE_KIB = 4;
/** One x86 page, in bytes (what `xl info` prints as xen_pagesize). */
export const PAGE_SIZE_BYTES = 4096;
/** Binary units, as Xen and libxl count them: KiB in a MiB. */
export const KIB_PER_MIB = 1024;
/** MiB in a GiB. */
export const MIB_PER_GIB = 1024;
/** KiB in a GiB. */
export const KIB_PER_GIB = KIB_PER_MIB * MIB_PER_GIB;
/** 256 pages of 4 KiB to the MiB. */
export const PAGES_PER_MIB = KIB_PER_MIB / PAGE_SIZE_KIB;

/**
 * LIBXL_MAXMEM_CONSTANT (tools/libs/light/libxl_internal.h): libxl__build_pre and libxl_set_memory_target set
 * max_pages to the target plus this slack, in KiB.
 */
export const LIBXL_MAXMEM_CONSTANT_KIB = 1024;
/** libxl_set_memory_target refuses to set dom0 below 128 MiB (tools/libs/light/libxl_mem.c), in KiB. */
export const LIBXL_MIN_DOM0_KIB = 128 * KIB_PER_MIB;

/** KiB → whole pages, rounding UP (a need is never under-counted). */
export function kibToPagesCeil(kib: number): number {
  return Math.ceil(kib / PAGE_SIZE_KIB);
}

/** KiB → whole pages, rounding DOWN (what can be taken is never over-counted; XEN_DOMCTL_max_mem's KiB >> 2). */
export function kibToPagesFloor(kib: number): number {
  return Math.floor(kib / PAGE_SIZE_KIB);
}

/** Pages → KiB (exact). */
export function pagesToKiB(pages: number): number {
  return pages * PAGE_SIZE_KIB;
}

/** MiB → pages, rounding up (fractional MiB allowed). */
export function mibToPages(mib: number): number {
  return Math.ceil(mib * PAGES_PER_MIB);
}

/** Pages → MiB, fractional. */
export function pagesToMiB(pages: number): number {
  return pages / PAGES_PER_MIB;
}

/** MiB → KiB (exact for whole MiB). */
export function mibToKiB(mib: number): number {
  return mib * KIB_PER_MIB;
}

/** KiB → MiB, fractional. */
export function kibToMiB(kib: number): number {
  return kib / KIB_PER_MIB;
}
