/**
 * The daemon as a process serves: its socket (mode 0600, one daemon per socket, a stale socket replaced), the
 * loopback TCP listener with its bearer token, server-sent events stamped with request ids, idle clients holding
 * nothing, and the CLI talking to it with the same output and exit codes as standalone — state persisting between
 * CLI commands on the mock host.
 */
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { callDaemon, followEvents } from '../../src/api/client.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { startDaemon, type RunningDaemon, type ServeOptions } from '../../src/daemon/serve.js';
import { MockBackend } from '../../src/mock/backend.js';
import { xlConfig } from '../api/helpers.js';

const running: RunningDaemon[] = [];
afterEach(async () => {
  while (running.length > 0) await running.pop()!.close();
});

function options(dir: string, extra: Partial<ServeOptions> = {}): ServeOptions {
  return {
    socket: join(dir, 'run', 'xenclaim.sock'), stateDir: join(dir, 'state'), backend: 'mock', mockSpeed: 50, strategy: 'claim-first',
    maxConcurrentCreates: 16, maxStartsPerS: 0, maxBodyBytes: 1024 * 1024, requestTimeoutS: 30, donorGraceS: 30, logLevel: 'silent', ...extra,
  };
}

async function start(extra: Partial<ServeOptions> = {}): Promise<{ daemon: RunningDaemon; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'xenclaim-serve-'));
  const daemon = await startDaemon(options(dir, extra));
  running.push(daemon);
  return { daemon, dir };
}

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    openBackend: async () => new MockBackend({ host: { memoryMiB: 16384 } }),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe('xenclaim serve', () => {
  it('listens on a socket only root can use (0600, in a 0700 directory); one daemon per socket', async () => {
    const { daemon, dir } = await start();
    expect(statSync(daemon.socket).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'run')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'state')).mode & 0o777).toBe(0o700);
    await expect(startDaemon(options(dir))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect((await callDaemon(daemon.socket, 'GET', '/v1/health')).body).toEqual({ ok: true });
  });

  it('replaces a socket left by a daemon that died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenclaim-serve-'));
    const stale = createServer();
    const socket = join(dir, 'run', 'xenclaim.sock');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'run'));
    await new Promise<void>((resolve) => stale.listen(socket, resolve));
    // Close the listener but leave the file, as a killed process does.
    (stale as unknown as { _handle: { close(): void } })._handle.close();
    const daemon = await startDaemon(options(dir));
    running.push(daemon);
    expect((await callDaemon(daemon.socket, 'GET', '/v1/health')).status).toBe(200);
  });

  it('TCP only on loopback and only with the bearer token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenclaim-serve-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'a-token-of-enough-length\n');
    await expect(startDaemon(options(dir, { listenTcp: '0.0.0.0:0', tokenFile }))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(startDaemon(options(dir, { listenTcp: '127.0.0.1:0' }))).rejects.toThrow(/--token-file/);
    const daemon = await startDaemon(options(dir, { listenTcp: '127.0.0.1:0', tokenFile }));
    running.push(daemon);
    const url = `http://127.0.0.1:${daemon.tcpPort}/v1/host`;
    const refused = await fetch(url);
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe('EACCES');
    const allowed = await fetch(url, { headers: { authorization: 'Bearer a-token-of-enough-length' } });
    expect(allowed.status).toBe(200);
    // The Unix socket needs no token: its 0600 mode is the access control.
    expect((await callDaemon(daemon.socket, 'GET', '/v1/host')).status).toBe(200);
  });

  it('GET /v1/events streams every progress event of a request, stamped with its request id', async () => {
    const { daemon } = await start();
    const seen: { type: string; requestId: string | null; request: string }[] = [];
    const stop = await followEvents(daemon.socket, 'req-7', (data) => seen.push(data as never));
    const answer = await callDaemon<{ results: { ok: boolean }[] }>(daemon.socket, 'POST', '/v1/domains', { guests: [{ xl: xlConfig('ev1', 128) }], requestId: 'req-7' });
    expect(answer.body.results[0]!.ok).toBe(true);
    for (let i = 0; i < 100 && !seen.some((e) => e.type === 'running'); i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    expect(seen.map((e) => e.type)).toEqual(['requested', 'building', 'running']);
    expect(seen.every((e) => e.requestId === 'req-7' && e.request === 'ev1')).toBe(true);
  });

  it('an idle client holds nothing: a half-sent request is dropped after the request timeout, others are served meanwhile', async () => {
    const { daemon } = await start({ requestTimeoutS: 1 });
    const idle = connect(daemon.socket);
    await new Promise<void>((resolve) => idle.once('connect', resolve));
    idle.write('POST /v1/domains HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"gue');
    const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.on('error', () => undefined);
    idle.resume(); // read the 408, so the close is seen
    // Meanwhile another client is served: the half-sent request holds no lock and no place at the gate.
    expect((await callDaemon(daemon.socket, 'GET', '/v1/health')).status).toBe(200);
    await closed;
    const answer = await callDaemon<{ results: { ok: boolean }[] }>(daemon.socket, 'POST', '/v1/domains', { guests: [{ xl: xlConfig('busy', 128) }] });
    expect(answer.body.results[0]!.ok).toBe(true);
  });

  it('applies standalone create\'s admission knobs to every create it admits; a client cannot set them', async () => {
    const { daemon: strict, dir } = await start({ policy: { reserveKiB: 64 * 1024 * 1024 } });
    const refused = await callDaemon<{ results: { ok: boolean; error: { message: string } | null }[] }>(strict.socket, 'POST', '/v1/domains', { guests: [{ xl: xlConfig('r1', 64) }] });
    expect(refused.body.results[0]!.ok).toBe(false);
    expect(refused.body.results[0]!.error!.message).toMatch(/plus the 65536 MiB kept free for Xen/);
    const { daemon: usual } = await start();
    const admitted = await callDaemon<{ results: { ok: boolean }[] }>(usual.socket, 'POST', '/v1/domains', { guests: [{ xl: xlConfig('r1', 64) }] });
    expect(admitted.body.results[0]!.ok).toBe(true);
    const file = join(dir, 'r2.cfg');
    writeFileSync(file, xlConfig('r2', 64));
    for (const flags of [['--reserve', '16m'], ['--stall-timeout-s', '2'], ['--max-wait-s', '60'], ['--dom0-min', '1g']]) {
      const out = await cli(['--socket', usual.socket, 'create', ...flags, file]);
      expect(out.code, flags[0]).toBe(2);
      expect(out.stderr).toContain(`${flags[0]}: the daemon's to set, for every create it admits (xenclaim serve ${flags[0]})`);
    }
  });

  it('the CLI talks to the daemon (state persists between commands) with the same output and exit codes as standalone', async () => {
    const { daemon, dir } = await start();
    const file = join(dir, 'g1.cfg');
    writeFileSync(file, xlConfig('g1', 256));
    const created = await cli(['--socket', daemon.socket, 'create', file]);
    expect(created.code).toBe(0);
    // libxl 4.17's need for a 256 MiB PV guest: target + its shadow default + 1 MiB extra, rounded up to 2 MiB.
    expect(created.stdout).toMatch(/^ +0\.0s +g1: requested, needs 260 MiB$/m);
    expect(created.stdout).toMatch(/g1: running as domain 1$/m);
    const listed = await cli(['--socket', daemon.socket, 'list']);
    expect(listed.stdout).toMatch(/^g1 +1 +256 +1 /m);
    const json = JSON.parse((await cli(['--socket', daemon.socket, '--json', 'list'])).stdout) as { name: string }[];
    expect(json.map((d) => d.name)).toEqual(['Domain-0', 'g1']);
    // The same failures, the same lines and exit codes, as a standalone run on a fresh mock host.
    for (const argv of [['mem-set', 'nosuch', '512m'], ['mem-max', 'Domain-0', '512m'], ['destroy', 'Domain-0'], ['mem-set', 'g1', 'lots']]) {
      const viaDaemon = await cli(['--socket', daemon.socket, ...argv]);
      const standalone = await cli(['--backend', 'mock', ...argv]);
      expect([viaDaemon.code, viaDaemon.stderr], argv.join(' ')).toEqual([standalone.code, standalone.stderr]);
      expect(viaDaemon.code).not.toBe(0);
    }
    const maxed = JSON.parse((await cli(['--socket', daemon.socket, '--json', 'mem-max', 'g1', '512m'])).stdout);
    expect(maxed).toEqual({ domid: 1, maxKiB: 512 * 1024, maxPages: 513 * 256, maxPagesKiB: 513 * 1024 });
    expect((await cli(['--socket', daemon.socket, 'destroy', 'g1'])).code).toBe(0);
    // No daemon on the socket: standalone, saying so once.
    const none = await cli(['--socket', join(dir, 'nothing.sock'), 'list']);
    expect(none.code).toBe(0);
    const gone = await cli(['--socket', daemon.socket.replace('xenclaim.sock', 'other.sock'), 'info']);
    expect(gone.code).toBe(0);
  });
});
