/**
 * The daemon's part of `npm run bench` (issue: API throughput, a create storm, `xenclaim list` latency). The daemon
 * runs as its own process on the mock host (dist/, as installed), so the client's work does not share its event
 * loop. Not a test: nothing here asserts a timing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callDaemon, probeDaemon } from '../src/api/client.js';
import { startDaemonCore } from '../src/daemon/core.js';
import type { MockBackend } from '../src/mock/backend.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'xenclaim.js');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function serve(socket: string, stateDir: string, speed: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, '--backend', 'mock', '--socket', socket, 'serve', '--state-dir', stateDir, '--mock-speed', String(speed), '--log-level', 'error', '--dom0-min', '512m'], { stdio: 'ignore' });
  for (let i = 0; i < 600; i++) {
    if (await probeDaemon(socket, 200)) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the daemon did not start');
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** GET /v1/host for `ms` from `connections` keep-alive clients; requests per second. */
async function throughput(socket: string, connections: number, ms: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const get = (): Promise<void> => new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/v1/host', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end();
  });
  let done = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) {
      await get();
      done++;
    }
  }));
  agent.destroy();
  return (done * 1000) / (performance.now() - start);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Wall ms of `argv` run `runs` times, one after the other. */
function timeRuns(argv: string[], runs: number, env: NodeJS.ProcessEnv = process.env): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = spawnSync(process.execPath, argv, { env, stdio: 'ignore' });
    times.push(performance.now() - start);
    if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}`);
  }
  return times;
}

export async function runDaemonBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xenclaim-bench-'));
  const socket = join(dir, 'xenclaim.sock');
  const stateDir = join(dir, 'state');
  // The storm's host: 16 GiB, dom0 1 GiB, four donors of 2 GiB (floor 256 MiB): 100 guests of 96 MiB need ballooning.
  const setup = await startDaemonCore({ stateDir, backend: 'mock', mockHost: { memoryMiB: 16384, dom0MiB: 1024 }, log: silent, journalSync: false });
  const mock = setup.backend as MockBackend;
  for (let i = 1; i <= 4; i++) {
    mock.control.addRunningGuest({ name: `donor${i}`, memoryMiB: 3072, balloonMiBps: 1024 });
    setup.setFloor(`donor${i}`, 256 * 1024);
  }
  await setup.close();
  const speed = 10;
  const daemon = await serve(socket, stateDir, speed);
  try {
    console.log('');
    console.log('xenclaim daemon (xenclaim serve on the mock host, its own process; client in this one)');
    for (const connections of [1, 8]) {
      console.log(`  GET /v1/host: ${Math.round(await throughput(socket, connections, 2000)).toLocaleString('en-US')} req/s with ${connections} keep-alive connection(s)`);
    }
    const start = performance.now();
    const clients = Array.from({ length: 10 }, async (_, c) => {
      let ok = 0;
      for (let i = 0; i < 10; i++) {
        const answer = await callDaemon<{ results: { ok: boolean }[] }>(socket, 'POST', '/v1/domains', {
          guests: [{ config: { c_info: { type: 'pv', name: `storm${c}-${i}` }, b_info: { max_memkb: 96 * 1024, target_memkb: 96 * 1024 } } }],
        });
        ok += answer.body.results.filter((r) => r.ok).length;
      }
      return ok;
    });
    const ok = (await Promise.all(clients)).reduce((a, b) => a + b, 0);
    const wallMs = performance.now() - start;
    const metrics = (await callDaemon<string>(socket, 'GET', '/metrics').catch(() => ({ body: '' }))).body;
    void metrics;
    const host = (await callDaemon<{ physinfo: { freePages: number } }>(socket, 'GET', '/v1/host')).body;
    console.log(`  create storm: 100 guests (96 MiB) from 10 clients, ballooning 4 donors: ${ok}/100 started in ${(wallMs / 1000).toFixed(2)} s wall`
      + ` (mock host at ${speed}× wall-clock: ${((wallMs * speed) / 1000).toFixed(1)} s of host time; ${(100 / (wallMs / 1000)).toFixed(1)} creations/s); free now ${Math.round(host.physinfo.freePages / 256)} MiB`);

    const runs = 15;
    const bare = timeRuns(['-e', '0'], runs);
    const viaDaemon = timeRuns([BIN, '--socket', socket, 'list'], runs);
    const standalone = timeRuns([BIN, '--backend', 'mock', 'list'], runs);
    const row = (label: string, t: number[]): string =>
      `  ${label.padEnd(28)} p50 ${percentile(t, 50).toFixed(0).padStart(4)} ms   p95 ${percentile(t, 95).toFixed(0).padStart(4)} ms   ${(percentile(t, 50) / percentile(bare, 50)).toFixed(2)}× node -e 0`;
    console.log(`  xenclaim list latency (${runs} runs each, one after the other):`);
    console.log(row('node -e 0', bare));
    console.log(row('list through the daemon', viaDaemon));
    console.log(row('list standalone (mock)', standalone));
  } finally {
    await stop(daemon);
  }
}
