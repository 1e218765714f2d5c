/** A simulated host with running guests, requests for new ones, and a strategy to admit them, on virtual time. */
import type { LibxlDomainConfig } from '../../src/backend.js';
import { VirtualClock } from '../../src/clock.js';
import { MockBackend, type RunningGuestSpec } from '../../src/mock/backend.js';
import { XenHost, type HostOptions } from '../../src/host/xen-host.js';
import { pagesToMiB } from '../../src/units.js';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { STRATEGIES, type StrategyName } from '../../src/toolstack/strategy-name.js';
import type { AdmissionResult, GuestRequest } from '../../src/toolstack/types.js';
import { checkHostInvariants, snapshotMaxPages } from '../../src/simulate/invariants.js';

export const ALL: StrategyName[] = [...STRATEGIES];

export function pvConfig(name: string, memoryMiB: number): LibxlDomainConfig {
  return { c_info: { type: 'pv', name }, b_info: { max_memkb: memoryMiB * 1024, target_memkb: memoryMiB * 1024 } };
}

/**
 * libxl_domain_need_memory of pvConfig(…, memoryMiB), in pages: the target, libxl's paging reservation (4 KiB per MiB
 * of maxmem for PV; pvConfig gives no max_vcpus, so no per-vCPU part: libxl sizes it before defaulting vCPUs) and
 * LIBXL_PV_EXTRA_MEMORY (1 MiB), rounded up to 2 MiB (libxl_mem.c, libxl_create.c).
 */
export function pvNeedPages(memoryMiB: number): number {
  return Math.ceil((memoryMiB * 1024 + 4 * memoryMiB + 1024) / 2048) * 512;
}

export function request(name: string, memoryMiB: number): GuestRequest {
  return { name, config: pvConfig(name, memoryMiB) };
}

export interface TestHost {
  backend: MockBackend;
  clock: VirtualClock;
  domids: Map<string, number>;
  floorsKiB: Map<string, number>;
  baseline: Map<number, number>;
}

export function makeHost(memoryMiB: number, dom0MiB: number, guests: (RunningGuestSpec & { minMiB?: number })[]): TestHost {
  const clock = new VirtualClock();
  const backend = new MockBackend({ host: { memoryMiB, dom0MiB }, clock });
  const domids = new Map<string, number>();
  const floorsKiB = new Map<string, number>();
  for (const guest of guests) {
    domids.set(guest.name, backend.control.addRunningGuest(guest));
    if (guest.minMiB !== undefined) floorsKiB.set(guest.name, guest.minMiB * 1024);
  }
  return { backend, clock, domids, floorsKiB, baseline: new Map() };
}

export interface Run {
  results: AdmissionResult[];
  events: AdmissionEvent[];
  xen: XenHost;
}

/** Admits every request at once, runs virtual time until all settle and the host is quiet, checks the invariants. */
export async function admitAll(
  host: TestHost,
  strategyName: StrategyName,
  requests: GuestRequest[],
  options: Partial<HostOptions> = {},
): Promise<Run> {
  const events: AdmissionEvent[] = [];
  host.baseline = await snapshotMaxPages(host.backend);
  const xen = new XenHost({ backend: host.backend, clock: host.clock, strategy: strategyName, floorsKiB: host.floorsKiB, ...options });
  xen.subscribe((e) => events.push(e));
  const results = await host.clock.run(
    (async () => {
      const all = await Promise.all(requests.map((r) => xen.admit(r)));
      await xen.idle();
      return all;
    })(),
  );
  await host.backend.control.settle();
  return { results, events, xen };
}

/** The invariants must hold after every run; returns the violations (expected to be []). */
export async function violations(host: TestHost): Promise<string[]> {
  return checkHostInvariants(host.backend, host.baseline);
}

export function mib(pages: number): number {
  return pagesToMiB(pages);
}
