/**
 * `xenclaim serve --detach`: back once the daemon answers (its pid on stdout, the daemon running on its own), and
 * failing with the daemon's own error when it cannot serve — nothing left running either way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { callDaemon, probeDaemon } from '../../src/api/client.js';
import { BIN, ensureDistBuilt } from '../helpers/dist.js';
import { stopped } from '../helpers/process.js';

function xenclaim(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 90_000 });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('xenclaim serve --detach', () => {
  beforeAll(() => ensureDistBuilt(), 300_000);

  it('returns once the daemon answers, printing its pid; a second one on the same socket is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenclaim-detach-'));
    const socket = join(dir, 'xenclaim.sock');
    const started = xenclaim(['serve', '--backend', 'mock', '--socket', socket, '--state-dir', dir, '--detach']);
    expect(started.stderr).toBe('');
    expect(started.status).toBe(0);
    const pid = Number(started.stdout);
    expect(started.stdout).toMatch(/^[1-9]\d*\n$/);
    try {
      // Answering already: the command returned only once it did.
      expect((await callDaemon(socket, 'GET', '/v1/health')).body).toEqual({ ok: true });
      const second = xenclaim(['serve', '--backend', 'mock', '--socket', socket, '--state-dir', join(dir, 'other'), '--detach']);
      expect(second.status).toBe(1);
      expect(second.stderr).toBe(`xenclaim: serve: another daemon answers on ${socket} [EADDRINUSE]\n`);
      expect(readFileSync(join(dir, 'daemon.log'), 'utf8')).toMatch(/"msg":"serving"/);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    expect(await stopped(pid)).toBe(true);
    expect(await probeDaemon(socket)).toBe(false);
  }, 120_000);

  it("a daemon that cannot serve: the command fails with the daemon's own error and nothing keeps running", () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenclaim-detach-'));
    const socket = join(dir, 'xenclaim.sock');
    const failed = xenclaim(['serve', '--backend', 'mock', '--socket', socket, '--state-dir', dir, '--listen-tcp', '0.0.0.0:0', '--detach']);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^xenclaim: serve: the daemon stopped \(exit code 1\) before it answered on .*: xenclaim: serve: --listen-tcp must be a loopback HOST:PORT.*\[EIO\]\n$/);
  }, 120_000);
});
