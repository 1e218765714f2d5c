/**
 * The conformance suite against real Xen through the native addon. Runs only in a Xen dom0 (the nested-Xen harness
 * runs it there); anywhere else it is skipped visibly, with the reason in its title.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { LibxlDomainConfig } from '../../src/backend.js';
import { openBackend } from '../../src/index.js';
import { defineConformanceSuite } from './suite.js';

/** The test-only page_pin_probe addon (test/native/page-pin), built next to xenclaim.node. */
interface PagePinProbe {
  pin(domid: number): number;
  unpin(handle: number): void;
}
const PROBE_PATH = join(import.meta.dirname, '..', '..', 'build', 'Release', 'page_pin_probe.node');

const PRIVCMD = '/dev/xen/privcmd';
const hasXen = existsSync(PRIVCMD);
/** A bootable PV kernel (and initramfs) for the guest tests, e.g. the nested-Xen harness's tiny guest. */
const guestKernel = process.env.XENCLAIM_TEST_GUEST_KERNEL;
const guestRamdisk = process.env.XENCLAIM_TEST_GUEST_RAMDISK;

function pvGuest(name: string, memoryMiB: number): LibxlDomainConfig {
  return {
    c_info: { type: 'pv', name },
    b_info: {
      max_vcpus: 1,
      target_memkb: memoryMiB * 1024,
      max_memkb: memoryMiB * 1024,
      kernel: guestKernel,
      ...(guestRamdisk ? { ramdisk: guestRamdisk } : {}),
      cmdline: 'console=hvc0',
    },
    on_poweroff: 'destroy',
    on_crash: 'destroy',
  };
}

defineConformanceSuite(
  'native backend conformance',
  async () => {
    const backend = await openBackend({ kind: 'native' });
    return {
      backend,
      wait: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      run: <T>(work: Promise<T>) => work,
      pinPage: async (domid: number) => {
        const probe = createRequire(import.meta.url)(PROBE_PATH) as PagePinProbe;
        const handle = probe.pin(domid);
        return async () => probe.unpin(handle);
      },
      close: () => backend.close(),
    };
  },
  {
    skip: hasXen ? undefined : `no ${PRIVCMD} — not a Xen dom0; run npm run test:xen`,
    settleTimeoutMs: 30_000,
    // Guest tests need a kernel to boot: set XENCLAIM_TEST_GUEST_KERNEL (and _RAMDISK) to run them.
    guestConfig: guestKernel ? pvGuest : undefined,
  },
);
