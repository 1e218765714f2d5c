/**
 * `xenclaim serve`: the daemon process. Opens the daemon core (state directory, backend, journal, recovery), puts the
 * API in front of it on a Unix socket (mode 0600; its directory is created 0700), and on a loopback TCP port only
 * when asked, with a bearer token. SIGTERM/SIGINT: stop accepting, let admissions in flight finish, close.
 * See docs/daemon.md.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { pino } from 'pino';
import { XenError } from '../errors.js';
import { buildApi } from '../api/server.js';
import { probeDaemon } from '../api/client.js';
import type { BackendKind } from '../open-backend.js';
import type { HostOptions } from '../host/index.js';
import type { StrategyName } from '../toolstack/strategy-name.js';
import { startDaemonCore } from './core.js';
import { parseCrashPoint } from './crash-points.js';

/** The default socket (the CLI looks there too). */
export { DEFAULT_SOCKET } from '../api/client.js';
export const DEFAULT_STATE_DIR = '/var/lib/xenclaim';

export interface ServeOptions {
  socket: string;
  stateDir: string;
  backend: BackendKind;
  mockSpeed: number;
  strategy: StrategyName;
  maxConcurrentCreates: number;
  maxStartsPerS: number;
  maxBodyBytes: number;
  requestTimeoutS: number;
  donorGraceS: number;
  /**
   * The admission knobs standalone `create` has (src/cli/admission-flags.ts): dom0MinKiB and reserveKiB (KiB), the
   * wait's stallTimeoutMs and maxWaitMs (ms); the host's defaults for what is not given.
   */
  policy?: HostOptions['policy'];
  wait?: HostOptions['wait'];
  /** `HOST:PORT` on a loopback address. */
  listenTcp?: string;
  /** The bearer token's file (required with listenTcp). */
  tokenFile?: string;
  logLevel: string;
}

export interface RunningDaemon {
  socket: string;
  tcpPort: number | undefined;
  /** Stops accepting, waits for what is in flight, closes everything. */
  close(): Promise<void>;
}

function loopbackTcp(text: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const host = match?.[1]?.replace(/^\[(.*)\]$/, '$1');
  const port = Number(match?.[2]);
  const loopback = host === 'localhost' || host === '::1' || (host !== undefined && isIP(host) === 4 && host.startsWith('127.'));
  if (!match || !loopback || port > 65535) {
    throw new XenError(`serve: --listen-tcp must be a loopback HOST:PORT (127.0.0.1:PORT, [::1]:PORT, localhost:PORT; port 0 picks a free one), got ${JSON.stringify(text)}`, { code: 'EINVAL', op: 'serve' });
  }
  return { host: host!, port };
}

/** Starts the daemon; resolves once it serves. EADDRINUSE when another daemon answers on the socket. */
export async function startDaemon(options: ServeOptions): Promise<RunningDaemon> {
  const log = pino({ level: options.logLevel, base: { service: 'xenclaim' } }, pino.destination(2));
  const tcp = options.listenTcp === undefined ? undefined : loopbackTcp(options.listenTcp);
  let token: string | undefined;
  if (tcp) {
    if (options.tokenFile === undefined) throw new XenError('serve: --listen-tcp needs --token-file (the bearer token clients must send)', { code: 'EINVAL', op: 'serve' });
    token = readFileSync(options.tokenFile, 'utf8').trim();
    if (token.length < 16) throw new XenError(`serve: the token in ${options.tokenFile} must be at least 16 characters`, { code: 'EINVAL', op: 'serve' });
  }
  if (existsSync(options.socket)) {
    if (await probeDaemon(options.socket)) {
      throw new XenError(`serve: another daemon answers on ${options.socket}`, { code: 'EADDRINUSE', op: 'serve' });
    }
    unlinkSync(options.socket); // left by a daemon that died
  }
  mkdirSync(dirname(options.socket), { recursive: true, mode: 0o700 });

  const crashAt = process.env.XENCLAIM_TEST_CRASH_AT;
  const core = await startDaemonCore({
    stateDir: options.stateDir,
    backend: options.backend,
    mockSpeed: options.mockSpeed,
    strategy: options.strategy,
    donorGraceMs: options.donorGraceS * 1000,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.wait ? { wait: options.wait } : {}),
    log,
    ...(crashAt ? { crashAt: { point: parseCrashPoint(crashAt), crash: 'kill' as const } } : {}),
  });
  if (crashAt) log.warn({ crashAt }, 'TEST-ONLY crash point armed (XENCLAIM_TEST_CRASH_AT)');
  // What the host does, in the log (journalctl -u xenclaim): every progress event but the donors' progress bars.
  core.host.subscribe((event) => {
    if (event.type !== 'donor-progress') log.info({ event }, `${event.request ?? 'host'}: ${event.type}`);
  });
  const app = await buildApi(
    {
      host: core.host,
      setFloor: (name, kib) => core.setFloor(name, kib),
      recovery: () => ({ complete: core.recovery.complete, repairs: core.recovery.repairs.length }),
      journalOpenEntries: () => core.journal.openEntries().length,
    },
    {
      bodyLimitBytes: options.maxBodyBytes,
      maxConcurrentCreates: options.maxConcurrentCreates,
      maxStartsPerS: options.maxStartsPerS,
      requestTimeoutS: options.requestTimeoutS,
      logger: log,
      ...(token ? { tcpToken: token } : {}),
    },
  );
  await app.listen({ path: options.socket });
  chmodSync(options.socket, 0o600);
  let tcpServer: Server | undefined;
  let tcpPort: number | undefined;
  if (tcp) {
    const server = createServer((req, res) => app.routing(req, res));
    tcpServer = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tcp.port, tcp.host, () => resolve());
    });
    const address = server.address();
    tcpPort = typeof address === 'object' && address ? address.port : undefined;
  }
  log.info({ socket: options.socket, tcpPort, backend: core.backend.kind, strategy: core.host.strategyName, stateDir: options.stateDir }, 'serving');

  let closing: Promise<void> | undefined;
  return {
    socket: options.socket,
    tcpPort,
    close: () => {
      closing ??= (async () => {
        tcpServer?.close();
        await app.close();
        await core.close();
        log.info({}, 'stopped');
      })();
      return closing;
    },
  };
}
