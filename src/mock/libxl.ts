/**
 * libxl's memory calls on the simulated host (Xen 4.17 tools/libs/light/libxl_mem.c): libxl_set_memory_target and
 * libxl_domain_destroy. Arguments arrive already checked by the backend.
 */
import { maxBelowTargetError } from '../backend.js';
import { XenError } from '../errors.js';
import { kibToPagesFloor, LIBXL_MAXMEM_CONSTANT_KIB, LIBXL_MIN_DOM0_KIB } from '../units.js';
import type { MockHost } from './host.js';
import { GuestProcess } from './guest.js';

function libxlError(op: string, code: string, message: string, logLine: string): XenError {
  return new XenError(`${op}: ${code} (${message})`, { code, op, xenLog: [`libxl: error: ${logLine}`] });
}

/**
 * libxl_set_memory_target: relative targets add to memory/target (never below 0); absolute ones have the video RAM
 * taken off. Above memory/static-max → ERROR_INVAL, whatever `enforce` says; dom0 below 128 MiB → ERROR_INVAL;
 * enforce sets maxmem to target + video + LIBXL_MAXMEM_CONSTANT first. The guest's balloon driver follows.
 */
export function setMemoryTarget(host: MockHost, domid: number, targetKiB: number, relative: boolean, enforce: boolean): void {
  const op = 'setMemoryTarget';
  const d = host.getOrThrow(op, domid);
  const guest = d.guest;
  if (!guest || d.account.dying) {
    throw libxlError(op, 'ERROR_FAIL', `domain ${domid} has no memory/target in xenstore (not a libxl guest)`,
      `libxl_mem.c: libxl_set_memory_target: Domain ${domid}:Cannot get target memory info from /local/domain/${domid}/memory/target`);
  }
  let newTarget: number;
  if (relative) newTarget = targetKiB < 0 && -targetKiB > guest.targetKiB ? 0 : guest.targetKiB + targetKiB;
  else newTarget = targetKiB - guest.videoKiB;
  if (newTarget < 0 || newTarget > guest.staticMaxKiB) {
    throw libxlError(op, 'ERROR_INVAL', `target ${newTarget} KiB is above memory/static-max ${guest.staticMaxKiB} KiB`,
      `libxl_mem.c: libxl_set_memory_target: Domain ${domid}:memory_dynamic_max must be less than or equal to memory_static_max`);
  }
  if (domid === 0 && newTarget < LIBXL_MIN_DOM0_KIB) {
    throw libxlError(op, 'ERROR_INVAL', `dom0 target ${newTarget} KiB is below libxl's minimum of ${LIBXL_MIN_DOM0_KIB} KiB`,
      `libxl_mem.c: libxl_set_memory_target: Domain 0:New target ${newTarget} for dom0 is below the minimum threshold`);
  }
  if (enforce) {
    const fault = host.faults.take('target:setMaxMem');
    host.counts.hypercalls.setMaxMem++;
    if (fault) {
      throw new XenError(`${op}: ERROR_FAIL (xc_domain_setmaxmem failed: ${fault.code})`, {
        code: 'ERROR_FAIL', op, errno: fault.errno,
        xenLog: [...fault.xenLog, `libxl: error: libxl_mem.c: libxl_set_memory_target: Domain ${domid}:xc_domain_setmaxmem memkb=${newTarget + guest.videoKiB + LIBXL_MAXMEM_CONSTANT_KIB} failed rc=-1`],
      });
    }
    host.heap.setMaxPages(d.account, kibToPagesFloor(newTarget + guest.videoKiB + LIBXL_MAXMEM_CONSTANT_KIB));
  }
  host.counts.hypercalls.xenstoreWrite++;
  guest.targetKiB = newTarget;
  const process = host.processes.get(domid);
  if (process instanceof GuestProcess) process.targetChanged();
  host.memoryChanged();
}

/**
 * libxl_domain_setmaxmem: reads memory/target (ERROR_FAIL without one), refuses a maximum below it (EINVAL naming
 * both), then sets max_pages to maxKiB + LIBXL_MAXMEM_CONSTANT. memory/static-max is not touched.
 */
export function setGuestMaxMem(host: MockHost, domid: number, maxKiB: number): void {
  const op = 'setGuestMaxMem';
  const d = host.getOrThrow(op, domid);
  const guest = d.guest;
  if (!guest || d.account.dying) {
    throw libxlError(op, 'ERROR_FAIL', `domain ${domid} has no memory/target in xenstore (not a libxl guest)`,
      `libxl_mem.c: libxl_domain_setmaxmem: Domain ${domid}:Cannot get memory info from /local/domain/${domid}/memory/target`);
  }
  if (maxKiB < guest.targetKiB) throw maxBelowTargetError(op, domid, maxKiB, guest.targetKiB);
  host.counts.hypercalls.setMaxMem++;
  host.heap.setMaxPages(d.account, kibToPagesFloor(maxKiB + LIBXL_MAXMEM_CONSTANT_KIB));
  host.memoryChanged();
}

/** libxl_domain_destroy: dom0 cannot be destroyed; a dying domain is already going. */
export function destroyGuest(host: MockHost, domid: number): void {
  const op = 'destroyGuest';
  if (domid === 0) {
    throw libxlError(op, 'ERROR_INVAL', 'cannot destroy the privileged domain 0', 'libxl_domain.c: libxl_domain_destroy: Cannot destroy domain 0');
  }
  const d = host.getOrThrow(op, domid);
  if (d.account.dying) return;
  host.counts.hypercalls.destroyDomain++;
  host.beginDestroy(d);
}
