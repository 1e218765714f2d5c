/**
 * Where the real-Xen end-to-end tests run, and the helpers they share: opening the native backend, reading what
 * `xl` prints (the independent witness the tests compare the backend with), bounded polling, and the harness's test
 * guest (its config, its console log, and why it cannot boot here).
 *
 * Off Xen these tests skip visibly with the reason. Inside the nested-Xen harness (XENCLAIM_NESTED=1, set by
 * scripts/nested-xen/dom0-run.sh) a missing /dev/xen/privcmd is a failure, never a skip.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LibxlDomainConfig, XenBackend } from '../../src/backend.js';
import { isXenError } from '../../src/errors.js';

const execFileAsync = promisify(execFile);

export const PRIVCMD = '/dev/xen/privcmd';
export const IN_NESTED_HARNESS = process.env.XENCLAIM_NESTED === '1';

/** Why the real-Xen tests cannot run here, or undefined when they can. */
export function xenSkipReason(): string | undefined {
  if (existsSync(PRIVCMD)) return undefined;
  if (IN_NESTED_HARNESS) return undefined; // the tests then fail on openBackend: the harness must never skip them
  return `no ${PRIVCMD}: not a Xen dom0 — \`npm run test:xen\` runs these in Xen 4.17 or 4.20 under QEMU`;
}

/** Says once per file, on the test output, why its real-Xen tests are skipped (a skip is never silent). */
export function announceSkip(file: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`SKIPPED real-Xen tests in ${file}: ${reason}`);
}

export async function openXen(): Promise<XenBackend> {
  // Imported here, not at the top, so that a machine without Xen only skips and never loads the addon.
  const { openBackend } = await import('../../src/index.js');
  return openBackend({ kind: 'native' });
}

export async function xl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('xl', args, { timeout: 60_000 });
  return stdout;
}

/** `xl info` as key → value (values trimmed; numbers left as strings). */
export async function xlInfo(): Promise<Map<string, string>> {
  const info = new Map<string, string>();
  for (const line of (await xl('info')).split('\n')) {
    const at = line.indexOf(':');
    if (at > 0) info.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return info;
}

export function xlInfoNumber(info: Map<string, string>, key: string): number {
  const text = info.get(key);
  if (text === undefined || !/^\d+$/.test(text)) throw new Error(`xl info has no numeric ${key} (got ${text})`);
  return Number(text);
}

export interface XlListRow {
  name: string;
  domid: number;
  memMiB: number;
  vcpus: number;
  state: string;
}

/** `xl list`: Name ID Mem VCPUs State Time(s). Names may contain spaces only in theory: split from the right. */
export async function xlList(): Promise<XlListRow[]> {
  const lines = (await xl('list')).split('\n').filter((line) => line.trim() !== '');
  if (!/^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time/.test(lines[0] ?? '')) {
    throw new Error(`unexpected xl list header: ${lines[0]}`);
  }
  return lines.slice(1).map((line) => {
    const fields = line.trim().split(/\s+/);
    const [domid, mem, vcpus, state] = fields.slice(-5, -1);
    return {
      name: fields.slice(0, -5).join(' '),
      domid: Number(domid),
      memMiB: Number(mem),
      vcpus: Number(vcpus),
      state: state ?? '',
    };
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value `done` accepts, or fails after `timeoutMs` with the last value seen. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
    last = await probe();
  }
  return last;
}

export const PAGES_PER_MIB = 256;

/**
 * The harness's test guest (scripts/nested-xen/image): a PV kernel with a busybox initramfs that prints
 * "xenclaim-guest: up" on its console once booted; xenconsoled logs that console to
 * XENCLAIM_GUEST_CONSOLE_DIR/guest-NAME.log.
 */
export const GUEST_KERNEL = process.env.XENCLAIM_GUEST_KERNEL;
export const GUEST_RAMDISK = process.env.XENCLAIM_GUEST_RAMDISK;
const GUEST_CONSOLE_DIR = process.env.XENCLAIM_GUEST_CONSOLE_DIR ?? '/var/log/xen/console';

/** Why the test guest's kernel/ramdisk are missing here, or undefined. In the nested harness that is a failure. */
export function guestImageSkipReason(): string | undefined {
  if (GUEST_KERNEL === undefined || GUEST_RAMDISK === undefined || !existsSync(GUEST_KERNEL) || !existsSync(GUEST_RAMDISK)) {
    const why = `no test guest kernel/ramdisk (XENCLAIM_GUEST_KERNEL=${GUEST_KERNEL}, XENCLAIM_GUEST_RAMDISK=${GUEST_RAMDISK})`;
    if (IN_NESTED_HARNESS) throw new Error(`${why}: the nested-Xen image must provide them`);
    return `${why}: \`npm run test:xen\` provides them`;
  }
  return undefined;
}

/**
 * Why tests that build the test guest through libxl cannot run here, or undefined: no Xen, an addon without its
 * libxl part, or no guest image (in the nested harness the last is a failure).
 */
export function guestSkipReason(xen: XenBackend | undefined): string | undefined {
  const noXen = xenSkipReason();
  if (noXen !== undefined) return noXen;
  if (xen !== undefined && !xen.features.libxl) {
    return 'the native addon was built without its libxl part (features.libxl is false): no createGuest yet';
  }
  return guestImageSkipReason();
}

/** The guest types the tests boot: PV, and PVH (an HVM container without a device model; needs HAP). */
export type GuestType = 'pv' | 'pvh';

/**
 * The test guest as a libxl config: one vCPU, `memoryMiB` of memory, destroyed whenever it stops. The same kernel
 * and initramfs boot as PV or as PVH (direct kernel boot); both talk on the PV console, hvc0.
 */
export function guestConfig(name: string, memoryMiB: number, type: GuestType = 'pv'): LibxlDomainConfig {
  return {
    c_info: { type, name },
    b_info: {
      max_vcpus: 1,
      max_memkb: memoryMiB * 1024,
      target_memkb: memoryMiB * 1024,
      kernel: GUEST_KERNEL,
      ramdisk: GUEST_RAMDISK,
      cmdline: 'console=hvc0 loglevel=4',
      [`type.${type}`]: {},
    },
    on_poweroff: 'destroy',
    on_reboot: 'destroy',
    on_crash: 'destroy',
  };
}

/** What the guest `name` has printed on its console so far ('' before xenconsoled has logged anything). */
export function guestConsoleLog(name: string): string {
  const file = join(GUEST_CONSOLE_DIR, `guest-${name}.log`);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Destroys a guest a test created; one that is already gone is fine. */
export async function destroyGuestIfPresent(xen: XenBackend | undefined, domid: number): Promise<void> {
  await xen?.destroyGuest(domid).catch((error: unknown) => {
    if (!isXenError(error, 'ESRCH') && !isXenError(error, 'ERROR_DOMAIN_NOTFOUND')) throw error;
  });
}
