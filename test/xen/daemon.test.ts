/**
 * Real Xen (the nested harness): `xenclaim serve` in dom0 on the native backend.
 *  1. Two CLI processes create guests at once through the daemon; only one brain balloons, both guests start.
 *  2. kill -9 in the middle of a fallback (the test-only XENCLAIM_TEST_CRASH_AT: SIGKILL right after the first donor
 *     was lowered); restarted, the daemon restores the donors' targets — checked with `xl list` — and leaves no
 *     claim and no half-built guest.
 *  3. Four guests created at once through the daemon (all must start), and four parallel `xl create` processes,
 *     timed side by side (printed, and written to the run's results as daemon-vs-xl.txt; never asserted: a
 *     benchmark, not a test; an xl that fails under the harness's load only means no baseline for that run).
 * Skips visibly off Xen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callDaemon, probeDaemon } from '../../src/api/client.js';
import type { XenBackend } from '../../src/backend.js';
import { BIN, ensureDistBuilt } from '../helpers/dist.js';
import {
  announceSkip, GUEST_KERNEL, GUEST_RAMDISK, guestConsoleLog, guestImageSkipReason, openXen, PAGES_PER_MIB, sleep, waitFor, xenSkipReason,
  xlInfo, xlInfoNumber, xlList,
} from './xen-env.js';

const FLOOR_MIB = 128;

function skipReason(): string | undefined {
  return xenSkipReason() ?? guestImageSkipReason();
}

function xlCfg(dir: string, name: string, memoryMiB: number): string {
  const file = join(dir, `${name}.cfg`);
  writeFileSync(file, [
    `name = "${name}"`, 'type = "pv"', `memory = ${memoryMiB}`, 'vcpus = 1', `kernel = "${GUEST_KERNEL}"`, `ramdisk = "${GUEST_RAMDISK}"`,
    'extra = "console=hvc0 loglevel=4"', 'on_crash = "destroy"', 'on_poweroff = "destroy"', 'on_reboot = "destroy"', '',
  ].join('\n'));
  return file;
}

/** Where the run's results go in the harness (the 9p share), so that even a hung run leaves its logs. */
const RESULTS = existsSync('/xenclaim') ? '/xenclaim' : undefined;
const T0 = performance.now();

function note(line: string): void {
  const text = `[daemon.test +${((performance.now() - T0) / 1000).toFixed(1)}s] ${line}`;
  console.log(text);
  if (RESULTS) appendFileSync(join(RESULTS, 'daemon-test.log'), `${text}\n`);
}

/** Runs a command to its end (killed after `timeoutMs`, so a hang is a failure with its output, not a stuck run). */
function run(argv: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 900_000): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c) => (stdout += String(c)));
    child.stderr.on('data', (c) => (stderr += String(c)));
    child.on('exit', (code) => {
      clearTimeout(timer);
      note(`${argv.slice(1).join(' ')} → ${code} in ${((performance.now() - start) / 1000).toFixed(1)} s\n${stdout}${stderr}`);
      resolve({ code, stdout, stderr, ms: performance.now() - start });
    });
  });
}

describe('real Xen: xenclaim serve in dom0', () => {
  const reason = skipReason();
  const dir = mkdtempSync(join(tmpdir(), 'xenclaim-daemon-xen-'));
  const socket = join(dir, 'xenclaim.sock');
  const stateDir = join(dir, 'state');
  const tag = process.pid;
  const fillers = [`xc-dfill1-${tag}`, `xc-dfill2-${tag}`];
  let xen: XenBackend | undefined;
  let daemon: ChildProcess | undefined;

  async function serve(env: Record<string, string> = {}): Promise<ChildProcess> {
    // The probe below must hear this daemon, not one an earlier test left behind.
    expect(await probeDaemon(socket, 5000), `no daemon answers on ${socket} before one is started`).toBe(false);
    const child = spawn(process.execPath, [BIN, '--backend', 'native', '--socket', socket, 'serve', '--state-dir', stateDir, '--dom0-min', '1024m', '--log-level', 'info',
      // Under QEMU's software CPU one build attempt can take minutes: the harness's bounds, as real-xen.test.ts's.
      '--stall-timeout-s', '30', '--max-wait-s', '900'], {
      env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (c) => {
      log += String(c);
      if (RESULTS) appendFileSync(join(RESULTS, 'daemon.log'), String(c));
    });
    note(`daemon started${env.XENCLAIM_TEST_CRASH_AT ? ` with XENCLAIM_TEST_CRASH_AT=${env.XENCLAIM_TEST_CRASH_AT}` : ''}`);
    const started = performance.now();
    try {
      // Under QEMU's software CPU, loading the daemon's modules over the harness's 9p share took 36-146 s with no
      // guest running and 187-270 s with the two fillers running or on a loaded host (Xen 4.17 and 4.20 alike; a few
      // seconds on real hardware); a daemon that never answers must not outlive its test either.
      await waitFor('the daemon to answer', async () => (child.exitCode === null ? probeDaemon(socket, 5000) : Promise.reject(new Error(`the daemon exited: ${log}`))), (up) => up, 900_000, 1000);
    } catch (error) {
      child.kill('SIGKILL');
      await exited(child);
      throw error;
    }
    note(`the daemon answers (after ${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return child;
  }

  function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
    return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.signalCode) : child.once('exit', (_c, signal) => resolve(signal))));
  }

  async function stopDaemon(): Promise<void> {
    if (daemon === undefined) return;
    daemon.kill('SIGTERM');
    await exited(daemon);
    daemon = undefined;
  }

  async function destroyAll(prefix: string): Promise<void> {
    for (const d of (await xen!.listDomains()).filter((d) => d.name?.startsWith(prefix) && !d.dying)) await xen!.destroyGuest(d.domid).catch(() => undefined);
    await waitFor(`guests ${prefix}* to go`, async () => (await xen!.listDomains()).filter((d) => d.name?.startsWith(prefix)).length, (n) => n === 0, 120_000);
  }

  beforeAll(async () => {
    announceSkip('test/xen/daemon.test.ts', reason);
    if (reason !== undefined) return;
    ensureDistBuilt();
    xen = await openXen();
  }, 600_000);
  beforeEach((context) => {
    if (reason !== undefined) context.skip(reason);
  });
  afterAll(async () => {
    await stopDaemon();
    if (xen) await destroyAll('xc-d').catch(() => undefined);
    await xen?.close();
  }, 300_000);

  it('two CLI processes create guests at once through the daemon; its one fallback balloons and both start', { timeout: 1_800_000 }, async () => {
    daemon = await serve();
    const start = await xen!.physinfo();
    expect(start.outstandingPages).toBe(0);
    // Two fillers take what is free but the 64 MiB reserve kept for Xen and a few MiB: libxl's need for a PV guest is
    // its target, 1 MiB, and a paging pool of 4 KiB per MiB plus 1 MiB per vCPU, rounded up to 2 MiB.
    const eachMiB = Math.floor(((start.freePages - start.outstandingPages) / PAGES_PER_MIB - 64 - 16) / 2 / (1 + 4 / 1024));
    const filled = await callDaemon<{ results: { name: string; ok: boolean; error: unknown }[] }>(socket, 'POST', '/v1/domains', {
      guests: fillers.map((name) => ({ xl: `name="${name}"\ntype="pv"\nmemory=${eachMiB}\nvcpus=1\nkernel="${GUEST_KERNEL}"\nramdisk="${GUEST_RAMDISK}"\nextra="console=hvc0 loglevel=4"\non_crash="destroy"\n` })),
    });
    expect(filled.body.results.map((r) => [r.name, r.ok, r.error])).toEqual(fillers.map((n) => [n, true, null]));
    note('fillers built');
    for (const name of fillers) {
      await waitFor(`${name} to say it is up`, async () => guestConsoleLog(name), (log) => log.includes('xenclaim-guest: up'), 300_000, 1000);
      expect((await callDaemon(socket, 'PUT', `/v1/domains/${name}/floor`, { floorKiB: FLOOR_MIB * 1024 })).status).toBe(200);
    }
    note('fillers up, floors set; two CLI creates at once');
    const cli = (name: string) => run([process.execPath, BIN, '--socket', socket, 'create', xlCfg(dir, name, 160)]);
    const [third, fourth] = await Promise.all([cli(`xc-d3-${tag}`), cli(`xc-d4-${tag}`)]);
    for (const r of [third, fourth]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/running as domain \d+/);
    }
    expect(`${third.stdout}${fourth.stdout}`).toMatch(/ballooning/);
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(0);
    const rows = await xlList();
    for (const name of [`xc-d3-${tag}`, `xc-d4-${tag}`]) expect(rows.some((r) => r.name === name)).toBe(true);
    for (const name of fillers) expect(rows.find((r) => r.name === name)!.memMiB).toBeGreaterThanOrEqual(FLOOR_MIB);
  });

  it('kill -9 in the middle of a fallback; restarted, the daemon restores the donors\' targets (xl list)', { timeout: 1_200_000 }, async () => {
    await destroyAll(`xc-d3-`);
    await destroyAll(`xc-d4-`);
    await stopDaemon();
    // The donors as they are now (they kept what they gave for the guests that started).
    const before = new Map<string, { targetKiB: number; memMiB: number }>();
    for (const row of await xlList()) {
      if (!fillers.includes(row.name)) continue;
      const d = (await xen!.listDomains()).find((x) => x.domid === row.domid)!;
      before.set(row.name, { targetKiB: d.targetKiB!, memMiB: row.memMiB });
    }
    const free = await xen!.physinfo();
    const needMiB = Math.floor((free.freePages - free.outstandingPages) / PAGES_PER_MIB) + 96;
    // Mutation 1 is the build whose claim is refused, 2 the first donor's lowering: the daemon SIGKILLs itself after it.
    note(`donors before: ${JSON.stringify([...before])}; the next guest needs ${needMiB} MiB`);
    daemon = await serve({ XENCLAIM_TEST_CRASH_AT: 'after:2' });
    const child = daemon;
    const fifth = `xc-d5-${tag}`;
    await callDaemon(socket, 'POST', '/v1/domains', { guests: [{ xl: `name="${fifth}"\ntype="pv"\nmemory=${needMiB}\nvcpus=1\nkernel="${GUEST_KERNEL}"\nramdisk="${GUEST_RAMDISK}"\non_crash="destroy"\n` }], wait: false });
    expect(await exited(child)).toBe('SIGKILL');
    daemon = undefined;
    const lowered = (await xen!.listDomains()).filter((d) => fillers.includes(d.name ?? '') && d.targetKiB! < before.get(d.name!)!.targetKiB);
    expect(lowered.length, 'a donor was lowered when the daemon died').toBeGreaterThanOrEqual(1);

    note('the daemon died by SIGKILL mid-fallback; restarting');
    daemon = await serve();
    const host = (await callDaemon<{
      recovery: { complete: boolean; repairs: number }; journalOpenEntries: number;
      xenVersion: { major: number; minor: number }; addon?: { xenctrlVersion: string };
    }>(socket, 'GET', '/v1/host')).body;
    // The daemon says what its addon was built against: the same Xen minor as the hypervisor (docs/xen-versions.md).
    expect(host.addon?.xenctrlVersion).toBe(`${host.xenVersion.major}.${host.xenVersion.minor}.0`);
    expect(host.recovery.complete).toBe(true);
    expect(host.recovery.repairs).toBeGreaterThanOrEqual(1);
    expect(host.journalOpenEntries).toBe(0);
    for (const name of fillers) {
      const d = (await xen!.listDomains()).find((x) => x.name === name)!;
      expect(d.targetKiB, name).toBe(before.get(name)!.targetKiB);
      // xl list, the independent witness: the guest balloons back up to where it was.
      await waitFor(`${name} back to ${before.get(name)!.memMiB} MiB in xl list`, async () => (await xlList()).find((r) => r.name === name)?.memMiB ?? 0,
        (mib) => mib >= before.get(name)!.memMiB - 4, 300_000, 1000);
    }
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(0);
    expect((await xlList()).some((r) => r.name === fifth)).toBe(false);
  });

  it('four guests at once through the daemon vs four parallel xl create processes (timed side by side)', { timeout: 1_800_000 }, async () => {
    await destroyAll('xc-d');
    if (daemon === undefined) daemon = await serve();
    const names = (kind: string) => [1, 2, 3, 4].map((i) => `xc-d${kind}${i}-${tag}`);
    const viaDaemon = names('a');
    const start = performance.now();
    const create = (guests: string[]) => callDaemon<{ results: { name: string; ok: boolean; error: { xenLog?: string[] } | null }[] }>(socket, 'POST', '/v1/domains', {
      guests: guests.map((name) => ({ xl: `name="${name}"\ntype="pv"\nmemory=128\nvcpus=1\nkernel="${GUEST_KERNEL}"\nramdisk="${GUEST_RAMDISK}"\non_crash="destroy"\n` })),
    });
    const answer = await create(viaDaemon);
    const daemonMs = performance.now() - start;
    // Under QEMU's load libxl's fixed 10 s wait for xenconsoled to publish a new guest's console tty
    // (libxl_create.c's console_xswait, LIBXL_INIT_TIMEOUT) can run out: seen in nested runs 20261129T201925Z and
    // -trixie of 20261129T215430Z, with xl failing the same way. That is the environment, not xenclaim: such a guest
    // must have left nothing behind, and it is created again, once, through the daemon. Any other failure fails here.
    const consoleTimedOut = (r: (typeof answer.body.results)[number]) => !r.ok && (r.error?.xenLog ?? []).some((l) => /console tty: timed out/.test(l));
    const timedOut = answer.body.results.filter(consoleTimedOut).map((r) => r.name);
    expect(answer.body.results.filter((r) => !r.ok && !consoleTimedOut(r)), JSON.stringify(answer.body.results)).toEqual([]);
    if (timedOut.length > 0) {
      note(`libxl's console wait timed out for ${timedOut.join(', ')} (QEMU's load); nothing may be left of them; creating them again`);
      const listed = await xlList();
      expect(listed.filter((r) => timedOut.includes(r.name)), 'a guest whose build failed is gone').toEqual([]);
      const again = await create(timedOut);
      expect(again.body.results.map((r) => [r.name, r.ok]), JSON.stringify(again.body.results)).toEqual(timedOut.map((name) => [name, true]));
    }
    const running = (await xlList()).filter((r) => viaDaemon.includes(r.name)).map((r) => r.name).sort();
    expect(running).toEqual([...viaDaemon].sort());
    expect(xlInfoNumber(await xlInfo(), 'outstanding_claims')).toBe(0);
    await destroyAll('xc-da');
    await sleep(2000);
    const viaXl = names('x');
    const files = viaXl.map((name) => xlCfg(dir, name, 128));
    const xlStart = performance.now();
    const results = await Promise.all(files.map((file) => run(['xl', 'create', file])));
    const xlMs = performance.now() - xlStart;
    await destroyAll('xc-dx');
    // xl is the yardstick here, not what is tested: under QEMU on a loaded host xl itself can fail (nested run
    // 20261129T175137Z: "console tty: timed out", libxl's fixed xenstore wait). Then there is no comparison to print.
    const xlFailed = results.filter((r) => r.code !== 0);
    const viaDaemonText = `4 guests of 128 MiB at once: through the daemon ${(daemonMs / 1000).toFixed(1)} s`;
    const line = timedOut.length > 0
      ? `${viaDaemonText} with ${timedOut.length} lost to libxl's console timeout (created again); no comparison`
      : xlFailed.length > 0
      ? `${viaDaemonText}; no xl baseline: ${xlFailed.length} of 4 xl create failed (${xlFailed.map((r) => r.stderr.trim().split('\n').at(-1)).join('; ')})`
      : `${viaDaemonText}, 4 parallel xl create ${(xlMs / 1000).toFixed(1)} s (${(daemonMs / xlMs).toFixed(2)}×)`;
    note(line);
    if (RESULTS) writeFileSync(join(RESULTS, 'daemon-vs-xl.txt'), `${line}\n`);
  });
});
