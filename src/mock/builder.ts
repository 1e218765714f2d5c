/**
 * libxl's domain creation on the simulated host (libxl_domain_create_new with b_info.claim_mode), on virtual time:
 * create the domain, set maxmem to target + LIBXL_MAXMEM_CONSTANT, allocate the paging pool of shadow_memkb
 * (PVH/HVM; libxl__domain_set_paging_mempool_size), claim the builder's allocation (claim mode), populate at the
 * guest's build rate through the allocation gate, cancel the claim on the way out; then the HVM device model takes
 * its video RAM: qemu in dom0 populates it into the guest, or a stub domain (PV, NAME-dm) is built with
 * stubdomain_memkb + video_memkb (libxl__spawn_stub_dm); unpause. Any failure cancels the claim, destroys the
 * domain (and its stub domain) and throws like libxl does (ERROR_FAIL, errno ENOMEM when memory was refused,
 * libxl-style log lines).
 */
import { ERRNO, XenError } from '../errors.js';
import { domainInfo, notePauseChange, type MockDomain } from './domains.js';
import type { FaultPoint } from './faults.js';
import { EPERM, OK } from './heap.js';
import { TICK_MS, type MockHost } from './host.js';
import { GuestProcess } from './guest.js';
import { kibToPagesCeil, kibToPagesFloor, LIBXL_MAXMEM_CONSTANT_KIB, PAGES_PER_MIB } from '../units.js';
import type { GuestPlan } from './config.js';

const OP = 'createGuest';
const SUPERPAGE_PAGES = 512;

/** A build step refused: carries the errno and the log line libxl would print. */
class BuildFailure extends Error {
  constructor(readonly errno: number, readonly logLine: string, readonly injected?: XenError) {
    super(logLine);
  }
}

function strerror(errno: number): string {
  switch (errno) {
    case ERRNO.ENOMEM: return 'Cannot allocate memory';
    case ERRNO.EINVAL: return 'Invalid argument';
    case ERRNO.EPERM: return 'Operation not permitted';
    case ERRNO.ESRCH: return 'No such process';
    default: return `errno ${errno}`;
  }
}

function step(host: MockHost, point: FaultPoint, what: string): void {
  const fault = host.faults.take(point);
  if (fault) throw new BuildFailure(fault.errno ?? ERRNO.EIO, `libxl: error: ${what}: ${fault.code} (injected at ${point})`, fault);
}

export async function buildGuest(host: MockHost, plan: GuestPlan, paused: boolean): Promise<number> {
  const existing = host.domains.findByName(plan.name);
  if (existing && !existing.account.dying) {
    throw new XenError(`${OP}: ERROR_INVAL (domain with name "${plan.name}" already exists as domain ${existing.domid})`, {
      code: 'ERROR_INVAL', op: OP,
      xenLog: [`libxl: error: libxl_create.c: libxl__domain_make: Domain with name "${plan.name}" already exists.`],
    });
  }
  try {
    step(host, 'build:createDomain', 'libxl_create.c: libxl__domain_make: domain creation fail');
  } catch (failure) {
    throw toXenError(plan, undefined, failure as BuildFailure);
  }
  const domid = host.domains.nextDomid();
  if (domid === undefined) {
    throw new XenError(`${OP}: ERROR_FAIL (no free domid)`, { code: 'ERROR_FAIL', op: OP, errno: ERRNO.ENOSPC });
  }
  host.counts.hypercalls.createDomain++;
  const domain = host.domains.add(domid, plan.type, plan.vcpus, true, host.clock.now());
  host.counts.hypercalls.xenstoreWrite++;
  domain.guest = { name: plan.name, targetKiB: plan.targetKiB - plan.videoKiB, staticMaxKiB: plan.maxKiB, videoKiB: plan.videoKiB };
  const account = domain.account;
  let claimed = false;
  try {
    step(host, 'build:setMaxMem', `libxl_dom.c: libxl__build_pre: Couldn't set max memory`);
    host.counts.hypercalls.setMaxMem++;
    host.heap.setMaxPages(account, kibToPagesFloor(plan.targetKiB + LIBXL_MAXMEM_CONSTANT_KIB));

    if (plan.type !== 'pv' && plan.shadowKiB > 0) {
      step(host, 'build:pagingPool', 'libxl_x86.c: libxl__arch_domain_create: shadow allocation failed');
      host.counts.hypercalls.shadowAllocation++;
      const rc = host.heap.allocatePool(account, kibToPagesCeil(plan.shadowKiB));
      if (rc !== OK) throw new BuildFailure(rc, `libxl: error: libxl_x86.c: libxl__arch_domain_create: Domain ${domid}:Failed to set paging mempool size: ${strerror(rc)}`);
    }

    if (plan.claimMode) {
      step(host, 'build:claim', 'xc: error: xc_domain_claim_pages');
      host.counts.hypercalls.claim++;
      const rc = host.heap.claim(account, plan.buildPages);
      if (rc !== OK) {
        throw new BuildFailure(rc, `xc: error: Could not allocate memory for guest: claim of ${plan.buildPages} pages for domain ${domid} failed: ${strerror(rc)}`);
      }
      claimed = true;
    }
    host.changed(true);

    const profile = host.profileFor(plan.name);
    // Pages due per tick at the build rate; the fraction carries over so the rate is exact over time.
    const pagesPerTick = (profile.buildMiBps * PAGES_PER_MIB * TICK_MS) / 1000;
    let due = 0;
    let left = plan.buildPages;
    while (left > 0) {
      await host.sleep(TICK_MS);
      if (account.dying || host.closed) {
        throw new BuildFailure(ERRNO.ESRCH, `libxl: error: libxl_dom.c: libxl__build_dom: domain ${domid} was destroyed while being built`);
      }
      due += pagesPerTick;
      const pages = Math.min(Math.max(1, Math.floor(due)), left);
      due = Math.max(0, due - pages);
      step(host, 'build:populate', 'xc: error: xc_domain_populate_physmap');
      host.counts.hypercalls.populate++;
      populate(host, domain, pages);
      left -= pages;
      host.changed(true);
    }

    if (claimed) {
      host.counts.hypercalls.claim++;
      host.heap.claim(account, 0);
      claimed = false;
      host.memoryChanged();
    }

    if (plan.type === 'hvm') deviceModelMemory(host, plan, domain);

    const process = new GuestProcess(host, domain, profile, account.totPages - kibToPagesFloor(domain.guest.targetKiB), false);
    host.processes.set(domid, process);
    if (!paused) {
      step(host, 'build:unpause', 'libxl_domain.c: libxl_domain_unpause: unpausing domain');
      host.counts.hypercalls.unpause++;
      domain.pauseCount = 0;
      notePauseChange(domain, host.clock.now());
      process.onUnpaused();
    }
    host.changed(true);
    return domid;
  } catch (error) {
    const failure = error instanceof BuildFailure
      ? error
      : new BuildFailure(ERRNO.EIO, `libxl: error: unexpected: ${String(error)}`);
    if (claimed && !account.dying) {
      host.counts.hypercalls.claim++;
      host.heap.claim(account, 0);
    }
    if (!account.dying) {
      host.counts.hypercalls.destroyDomain++;
      host.beginDestroy(domain);
    }
    host.changed(true);
    // libxl_domain_create_new reports a failed build once libxl__destroy_domid is done: the memory is back by then.
    await untilGone(host, domid);
    throw toXenError(plan, domain, failure);
  }
}

/** Waits (on the host's time) until the domain, and any stub domain of it, has left the domain list. */
async function untilGone(host: MockHost, domid: number): Promise<void> {
  const stubdom = host.domains.get(domid)?.guest?.stubdomDomid;
  while (!host.closed && (host.domains.get(domid) !== undefined || (stubdom !== undefined && host.domains.get(stubdom) !== undefined))) {
    await host.sleep(TICK_MS);
  }
}

/**
 * The device model's memory, after the build (the claim is gone by then): qemu-xen in dom0 populates the video RAM
 * into the guest; with a stub domain, the stub domain holds the device model and its video RAM instead.
 */
function deviceModelMemory(host: MockHost, plan: GuestPlan, domain: MockDomain): void {
  if (!plan.stubdom) {
    step(host, 'build:populate', 'libxl_dm.c: device model video RAM');
    host.counts.hypercalls.populate++;
    populateOrFail(host, domain, kibToPagesFloor(plan.videoKiB), 0);
    return;
  }
  const domid = host.domains.nextDomid();
  if (domid === undefined) throw new BuildFailure(ERRNO.ENOSPC!, 'libxl: error: libxl_dm.c: libxl__spawn_stub_dm: no free domid for the stub domain');
  host.counts.hypercalls.createDomain++;
  const stub = host.domains.add(domid, 'pv', 1, true, host.clock.now());
  const stubKiB = plan.stubdomKiB + plan.videoKiB;
  stub.guest = { name: `${plan.name}-dm`, targetKiB: stubKiB, staticMaxKiB: stubKiB, videoKiB: 0 };
  domain.guest!.stubdomDomid = domid;
  host.counts.hypercalls.setMaxMem++;
  host.heap.setMaxPages(stub.account, kibToPagesFloor(stubKiB + LIBXL_MAXMEM_CONSTANT_KIB));
  host.counts.hypercalls.populate++;
  populateOrFail(host, stub, kibToPagesFloor(stubKiB), 0);
  host.counts.hypercalls.unpause++;
  stub.pauseCount = 0;
  notePauseChange(stub, host.clock.now());
}

/** populate_physmap for one build step: 2 MiB superpages for PVH/HVM, 4 KiB pages for PV (as xg_dom_x86 does). */
function populate(host: MockHost, domain: MockDomain, pages: number): void {
  const superpages = domain.type === 'pv' ? 0 : Math.floor(pages / SUPERPAGE_PAGES);
  populateOrFail(host, domain, superpages, 9);
  populateOrFail(host, domain, pages - superpages * SUPERPAGE_PAGES, 0);
}

/** `extents` extents of `order` through the allocation gate, or a BuildFailure saying why not. */
function populateOrFail(host: MockHost, domain: MockDomain, extents: number, order: 0 | 9): void {
  if (extents === 0) return;
  const result = host.heap.allocate(domain.account, extents, order);
  if (result.errno === OK) return;
  const info = domainInfo(domain, host.clock.now());
  const why = result.errno === EPERM
    ? `over max_pages (tot ${info.totPages} + ${extents << order} > max ${info.maxPages})`
    : `refused by the allocation gate (free ${host.heap.freePages}, outstanding ${host.heap.outstandingClaims}, own claim ${info.outstandingPages})`;
  throw new BuildFailure(result.errno, `xc: error: xc_domain_populate_physmap: failed to populate ${extents} extents of order ${order} for domain ${domain.domid}: ${why}: ${strerror(result.errno)}`);
}

function toXenError(plan: GuestPlan, domain: MockDomain | undefined, failure: BuildFailure): XenError {
  const who = domain ? `Domain ${domain.domid}:` : '';
  const lines = [
    ...(failure.injected ? failure.injected.xenLog : []),
    failure.logLine,
    `libxl: error: libxl_create.c: domcreate_rebuild_done: ${who}cannot (re-)build domain: -3`,
    ...(domain ? [`libxl: error: libxl_domain.c: libxl__destroy_domid: ${who}destroyed after failed build`] : []),
  ];
  const memory = failure.errno === ERRNO.ENOMEM;
  const code = failure.injected?.code.startsWith('ERROR_') ? failure.injected.code : 'ERROR_FAIL';
  return new XenError(
    `${OP}: ${code} (building "${plan.name}" failed${memory ? ': not enough memory' : ''}: ${failure.logLine})`,
    { code, op: OP, errno: failure.errno, xenLog: lines },
  );
}
