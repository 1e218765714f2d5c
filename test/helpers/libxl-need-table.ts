/**
 * A table of guest configs and what Xen 4.17's libxl_domain_need_memory answers for xl's JSON of each: the
 * differential check of the mock's memory model (src/mock/config.ts) against libxl.
 *
 * Where the answers come from: measured in dom0 by test/xen/need-memory.test.ts under `npm run test:xen` on
 * 2026-11-29 (run 20261129T142337Z: Xen 4.17.7, Debian 12's libxenlight 4.17.7+13-g2445b30a44-0+deb12u1, a QEMU
 * host with HAP and no shadow paging or IOMMU — xl info virt_caps "pv hvm hap gnttab-v1 gnttab-v2"). That test checks
 * the native needMemoryKiB against these values and the mock's against the native; the mock tests
 * (test/mock/need-memory.test.ts) check the mock against them everywhere. A config libxl refuses records its code.
 * Each comment gives libxl's arithmetic: target + paging reservation (4 KiB × (256 per vCPU + 1 per MiB of maxmem,
 * 2 without HAP)) + IOMMU + 1 MiB (PV) or 2 MiB (PVH/HVM) + a stub domain's memory and video RAM.
 */
import type { LibxlDomainConfig, XenBackend } from '../../src/backend.js';
import { isXenError } from '../../src/errors.js';

export interface NeedCase {
  name: string;
  /** xl.cfg text (read as `xenclaim config` reads it) or libxl JSON. */
  config: string;
  /** libxl_domain_need_memory's answer in KiB, or the libxl error it fails with. */
  libxl: { needKiB: number } | { error: 'ERROR_INVAL' };
  /** Why the case is in the table. */
  why: string;
}

const pv = (extra: string): string => `name = "need"\nkernel = "/boot/vmlinuz"\n${extra}`;
const pvh = (extra: string): string => `name = "need"\ntype = "pvh"\nkernel = "/boot/vmlinuz"\n${extra}`;
const hvm = (extra: string): string => `name = "need"\ntype = "hvm"\n${extra}`;

export const NEED_TABLE: readonly NeedCase[] = [
  { name: 'pv-512', config: pv('memory = 512\n'), libxl: { needKiB: 528384 }, why: 'PV: paging reservation of 4 KiB per MiB and 1 MiB per vCPU (the mock was 2 MiB short)' }, // 512 MiB + 4 * 512 + 1 MiB, rounded up to 2 MiB
  { name: 'pvh-512', config: pvh('memory = 512\n'), libxl: { needKiB: 528384 }, why: 'PVH: paging pool from maxmem and vCPUs (the mock was 2 MiB short)' }, // 512 MiB + 4 * 512 + 2 MiB
  { name: 'hvm-512', config: hvm('memory = 512\n'), libxl: { needKiB: 528384 }, why: 'HVM with HAP' }, // 512 MiB + 4 * 512 + 2 MiB
  { name: 'hvm-15g-4vcpu', config: hvm('memory = 15190\nvcpus = 4\n'), libxl: { needKiB: 15622144 }, why: 'the large-hvm-overhead field case (libxl: 15256 MiB)' }, // 15190 MiB + 4 * (4 * 256 + 15190) + 2 MiB, rounded up to 2 MiB
  { name: 'hvm-shadow-stdvga-stubdom', config: hvm('memory = 1024\nshadow_memory = 64\nstdvga = 1\nvideoram = 32\ndevice_model_stubdomain_override = 1\n'), libxl: { needKiB: 1177600 }, why: 'shadow_memory given; a MiniOS stub domain (28 MiB) and its video RAM are counted' }, // 1024 MiB + 64 MiB (shadow_memory) + 2 MiB + 28 MiB (MiniOS stub domain) + 32 MiB (videoram)
  { name: 'hvm-stubdom-qemu-xen', config: hvm('memory = 2048\nvcpus = 2\ndevice_model_stubdomain_override = 1\ndevice_model_version = "qemu-xen"\n'), libxl: { needKiB: 2248704 }, why: 'a Linux stub domain (128 MiB) and cirrus video RAM (8 MiB)' }, // 2048 * 1024 + 2048 * 4 + 2 * 1024 + 2048 + 128 * 1024 + 8 * 1024, rounded up to 2 MiB
  { name: 'hvm-qxl-no-stubdom', config: hvm('memory = 1024\nvga = "qxl"\ndevice_model_version = "qemu-xen"\n'), libxl: { needKiB: 1054720 }, why: 'video RAM is not counted without a stub domain; no vcpus key: no per-vCPU reservation (libxl sizes it before defaulting to 1 vCPU)' }, // 1024 * 1024 + 4 * 1024 + 2048, rounded up to 2 MiB
  { name: 'hvm-stdvga-too-little-videoram', config: hvm('memory = 1024\nstdvga = 1\nvideoram = 8\ndevice_model_version = "qemu-xen"\n'), libxl: { error: 'ERROR_INVAL' }, why: 'libxl refuses stdvga with less than 16 MiB on qemu-xen' },
  { name: 'hvm-hap-off', config: hvm('memory = 1024\nvcpus = 2\nhap = 0\n'), libxl: { needKiB: 1060864 }, why: 'without HAP libxl reserves 2 pages per MiB' }, // 1024 * 1024 + 4 * (2 * 256 + 2 * 1024) + 2048, rounded up to 2 MiB
  { name: 'pv-32vcpu', config: pv('memory = 2048\nvcpus = 32\n'), libxl: { needKiB: 2140160 }, why: 'many vCPUs: 1 MiB each' }, // 2048 * 1024 + 4 * (32 * 256 + 2048) + 1024 + 1024, rounded up to 2 MiB
  { name: 'pv-64g-8vcpu', config: pv('memory = 65536\nvcpus = 8\n'), libxl: { needKiB: 67381248 }, why: 'large memory' }, // 65536 * 1024 + 4 * (8 * 256 + 65536) + 2048, rounded up to 2 MiB
  { name: 'pvh-maxmem', config: pvh('memory = 1024\nmaxmem = 4096\nvcpus = 2\n'), libxl: { needKiB: 1069056 }, why: 'the paging pool follows maxmem, not memory' }, // 1024 * 1024 + 4 * (2 * 256 + 4096) + 2048, rounded up to 2 MiB
  { name: 'pvh-stubdom', config: pvh('memory = 512\ndevice_model_stubdomain_override = 1\n'), libxl: { needKiB: 659456 }, why: 'libxl counts a stub domain for PVH too (Linux stub domain by default)' }, // 512 * 1024 + 4 * 512 + 2048 + 128 * 1024, rounded up to 2 MiB
  { name: 'pv-stubdom-ignored', config: pv('memory = 512\ndevice_model_stubdomain_override = 1\n'), libxl: { needKiB: 528384 }, why: 'but not for PV' }, // as pv-512
  { name: 'hvm-pci', config: hvm('memory = 1024\npci = [ "01:00.0" ]\n'), libxl: { error: 'ERROR_INVAL' }, why: 'passthrough without an IOMMU: libxl refuses it' },
  { name: 'hvm-sync-pt', config: hvm('memory = 1024\npassthrough = "sync_pt"\n'), libxl: { error: 'ERROR_INVAL' }, why: 'passthrough mode without devices, still no IOMMU' },
  { name: 'hvm-passthrough-disabled', config: hvm('memory = 1024\npassthrough = "disabled"\n'), libxl: { needKiB: 1054720 }, why: 'passthrough disabled: no IOMMU reservation' }, // 1024 * 1024 + 4 * 1024 + 2048, rounded up to 2 MiB
  {
    name: 'json-iommu-memkb',
    config: JSON.stringify({ c_info: { type: 'hvm', name: 'need' }, b_info: { max_vcpus: 1, max_memkb: 1048576, target_memkb: 1048576, iommu_memkb: 4096, 'type.hvm': {} } }),
    libxl: { needKiB: 1060864 }, // 1048576 + 4 * (256 + 1024) + 4096 + 2048, rounded up to 2 MiB
    why: 'libxl JSON with iommu_memkb given: counted as given',
  },
  {
    name: 'json-no-vcpus',
    config: JSON.stringify({ c_info: { type: 'pv', name: 'need' }, b_info: { max_memkb: 262144, target_memkb: 262144, kernel: '/boot/vmlinuz', 'type.pv': {} } }),
    libxl: { needKiB: 264192 }, // 262144 + 4 * 256 + 1024, rounded up to 2 MiB
    why: 'no max_vcpus: libxl sizes the paging reservation before defaulting to 1 vCPU',
  },
];

/** The backend's needMemoryKiB for `config`, or the code of the XenError it fails with (as the table records it). */
export async function needOrError(backend: XenBackend, config: LibxlDomainConfig): Promise<number | string> {
  try {
    return await backend.needMemoryKiB(config);
  } catch (error) {
    if (isXenError(error)) return error.code;
    throw error;
  }
}
