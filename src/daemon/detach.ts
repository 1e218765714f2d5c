/**
 * `xenclaim serve --detach`: the daemon started in the background the way QEMU's `-daemonize` starts a guest — the
 * command returns only once the daemon answers on its socket, so the next command finds it, and fails with what the
 * daemon said when it stops before that. The daemon's log (pino, on its stderr) is appended to a file.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeDaemon } from '../api/client.js';
import { SystemClock } from '../clock.js';
import { XenError } from '../errors.js';

export interface DetachOptions {
  /** The arguments of `xenclaim` that run the daemon in the foreground (the command line without --detach). */
  args: readonly string[];
  /** The socket the daemon will answer on. */
  socket: string;
  /** The file its log is appended to (created 0600). */
  logFile: string;
  /** How long it may take to answer, in ms (default 60 000). */
  timeoutMs?: number;
}

/** bin/xenclaim.js of this package, found above this file (src/daemon/ in a checkout, dist/src/daemon/ installed). */
function xenclaimBin(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const bin = join(dir, 'bin', 'xenclaim.js');
    if (existsSync(bin)) return bin;
  }
  throw new XenError('serve: cannot find bin/xenclaim.js above this module', { code: 'ENOENT', op: 'serve' });
}

/** The log's last line that says something (the daemon's own error, as the CLI printed it), for the error message. */
function lastLogLine(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').pop() ?? '';
  } catch {
    return '';
  }
}

/**
 * Starts `xenclaim <args>` as a detached process and resolves with its pid once it answers GET /v1/health on
 * `socket`. Rejects with EADDRINUSE when a daemon already answers there (nothing is started), EIO with the last line
 * of its log when it exits first, ETIMEDOUT (after stopping it) when it does not answer within `timeoutMs`.
 */
export async function startDetached(options: DetachOptions): Promise<number> {
  if (await probeDaemon(options.socket)) {
    throw new XenError(`serve: another daemon answers on ${options.socket}`, { code: 'EADDRINUSE', op: 'serve' });
  }
  const log = openSync(options.logFile, 'a', 0o600);
  let exited: string | undefined;
  const child = (() => {
    try {
      return spawn(process.execPath, [xenclaimBin(), ...options.args], { detached: true, stdio: ['ignore', 'ignore', log] });
    } finally {
      closeSync(log);
    }
  })();
  child.once('error', (error) => (exited = error.message));
  child.once('exit', (code, signal) => (exited = signal ?? `exit code ${code}`));
  const clock = new SystemClock();
  const deadline = clock.now() + (options.timeoutMs ?? 60_000);
  while (exited === undefined) {
    if (await probeDaemon(options.socket, 500)) {
      child.unref();
      return child.pid!;
    }
    if (clock.now() > deadline) {
      child.kill('SIGTERM');
      throw new XenError(`serve: the daemon did not answer on ${options.socket} in ${options.timeoutMs ?? 60_000} ms (log: ${options.logFile})`, { code: 'ETIMEDOUT', op: 'serve' });
    }
    await clock.sleep(50);
  }
  throw new XenError(`serve: the daemon stopped (${exited}) before it answered on ${options.socket}: ${lastLogLine(options.logFile)}`, { code: 'EIO', op: 'serve' });
}
