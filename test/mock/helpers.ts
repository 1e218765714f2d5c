import type { LibxlDomainConfig } from '../../src/backend.js';
import { VirtualClock } from '../../src/clock.js';
import { MockBackend, type MockHostSpec } from '../../src/mock/backend.js';

export const MiB = 256; // pages

export function mockHost(spec: Partial<MockHostSpec> = {}) {
  const clock = new VirtualClock();
  const backend = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024, ...spec }, clock });
  return { backend, clock, control: backend.control };
}

export function pv(name: string, memoryMiB: number, maxMiB = memoryMiB): LibxlDomainConfig {
  return { c_info: { type: 'pv', name }, b_info: { max_vcpus: 1, target_memkb: memoryMiB * 1024, max_memkb: maxMiB * 1024 } };
}

export function hvm(name: string, memoryMiB: number, extra: Record<string, unknown> = {}): LibxlDomainConfig {
  return { c_info: { type: 'hvm', name }, b_info: { max_vcpus: 2, target_memkb: memoryMiB * 1024, max_memkb: memoryMiB * 1024, ...extra } };
}

/** The accounting identity from public data: Σ live tot + free + Xen's pages + pending returns = total. */
export async function identityHolds(backend: MockBackend): Promise<boolean> {
  const p = await backend.physinfo();
  const domains = await backend.listDomains();
  const books = backend.control.accounting();
  const live = domains.filter((d) => !d.dying).reduce((n, d) => n + d.totPages, 0);
  const dying = domains.filter((d) => d.dying).reduce((n, d) => n + d.totPages, 0);
  const pools = books.pagingPoolPages;
  const pendingPools = books.pendingReturnPages - dying;
  return live + p.freePages + books.xenOverheadPages + pools + books.pendingReturnPages + books.tmemPages === p.totalPages
    && pendingPools >= 0 && books.imbalancePages === 0;
}
