/**
 * `kill -9` of a real `xenclaim serve` process on the mock host: mid-fallback (SIGKILL from outside when the
 * donors are being ballooned), and at test-only crash points (XENCLAIM_TEST_CRASH_AT: the daemon kills itself with
 * SIGKILL right after a lowering, in the middle of a build). Restarted on the same state directory, the daemon
 * repairs what was left and the host is as if the request had never been made. Runs the compiled CLI (dist/),
 * rebuilt first when a source is newer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { callDaemon, followEvents, probeDaemon } from '../../src/api/client.js';
import { startDaemonCore } from '../../src/daemon/core.js';
import type { MockBackend } from '../../src/mock/backend.js';
import { silent, xlConfig } from '../api/helpers.js';
import { BIN, ensureDistBuilt } from '../helpers/dist.js';

beforeAll(() => ensureDistBuilt(), 180_000);

interface Setup {
  dir: string;
  socket: string;
  stateDir: string;
  targets: Map<string, number>;
}

/** A host of 4096 MiB with two donors that balloon slowly, so a fallback lasts long enough to be killed in. */
async function setUp(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'xenclaim-kill-'));
  const stateDir = join(dir, 'state');
  const core = await startDaemonCore({ stateDir, backend: 'mock', mockHost: { memoryMiB: 4096, dom0MiB: 1024 }, log: silent });
  const mock = core.backend as MockBackend;
  for (const name of ['web1', 'web2']) {
    mock.control.addRunningGuest({ name, memoryMiB: 1024, balloonMiBps: 16 });
    core.setFloor(name, 256 * 1024);
  }
  const targets = new Map((await mock.listDomains()).map((d) => [d.name!, d.targetKiB!]));
  await core.close();
  return { dir, socket: join(dir, 'xenclaim.sock'), stateDir, targets };
}

async function serve(s: Setup, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, '--backend', 'mock', '--socket', s.socket, 'serve', '--state-dir', s.stateDir, '--mock-speed', '5', '--dom0-min', '768m', '--log-level', 'warn'], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  for (let i = 0; i < 300; i++) {
    if (await probeDaemon(s.socket, 200)) return child;
    if (child.exitCode !== null) throw new Error(`the daemon exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the daemon did not answer: ${stderr}`);
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.signalCode) : child.once('exit', (_c, signal) => resolve(signal))));
}

/** Restarted: recovery ran, and every donor's target is back where it was, no claim, no half-built guest. */
async function restartAndCheck(s: Setup): Promise<{ repairs: number }> {
  const child = await serve(s);
  try {
    const host = (await callDaemon<{ recovery: { complete: boolean; repairs: number }; journalOpenEntries: number }>(s.socket, 'GET', '/v1/host')).body;
    expect(host.recovery.complete).toBe(true);
    expect(host.journalOpenEntries).toBe(0);
    const domains = (await callDaemon<{ name: string; targetKiB: number; outstandingPages: number; paused: boolean; dying: boolean }[]>(s.socket, 'GET', '/v1/domains')).body;
    for (const d of domains) expect(d.outstandingPages, d.name).toBe(0);
    for (const [name, before] of s.targets) expect(domains.find((d) => d.name === name)?.targetKiB, name).toBe(before);
    expect(domains.filter((d) => !d.dying && !s.targets.has(d.name))).toEqual([]);
    return { repairs: host.recovery.repairs };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
  }
}

const BIG = { guests: [{ xl: xlConfig('big', 1536) }], wait: false };

describe('kill -9 of a real daemon process, restart, recover', () => {
  it('SIGKILL from outside in the middle of a fallback: the donors get their targets back', { timeout: 120_000 }, async () => {
    const s = await setUp();
    const child = await serve(s);
    let ballooning = false;
    const stop = await followEvents(s.socket, 'storm-1', (data) => {
      if ((data as { type: string }).type === 'ballooning') ballooning = true;
    });
    await callDaemon(s.socket, 'POST', '/v1/domains', { ...BIG, requestId: 'storm-1' });
    for (let i = 0; i < 400 && !ballooning; i++) await new Promise((r) => setTimeout(r, 25));
    stop();
    expect(ballooning).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    expect(await exited(child)).toBe('SIGKILL');
    expect((await restartAndCheck(s)).repairs).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['after:2', 'right after the first donor was lowered'],
    ['during:4:1000', 'a second into the fourth mutation, while donors balloon'],
  ])('XENCLAIM_TEST_CRASH_AT=%s (%s): the daemon dies by SIGKILL; after a restart nothing is left', { timeout: 120_000 }, async (point) => {
    const s = await setUp();
    const child = await serve(s, { XENCLAIM_TEST_CRASH_AT: point });
    await callDaemon(s.socket, 'POST', '/v1/domains', BIG);
    expect(await exited(child)).toBe('SIGKILL');
    expect((await restartAndCheck(s)).repairs).toBeGreaterThanOrEqual(1);
  });
});
