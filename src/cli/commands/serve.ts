/**
 * `xenclaim serve`: the daemon — one admission brain per Xen host, with an HTTP/JSON API on a Unix socket, events,
 * metrics, a journal and crash recovery (docs/daemon.md). Runs until SIGTERM or SIGINT.
 */
import { Option, type Command } from 'commander';
import { STRATEGIES, type StrategyName } from '../../toolstack/strategy-name.js';
import { UsageError, type CommandContext } from '../command-context.js';
import { addAdmissionOptions, admissionSettings, type AdmissionFlags } from '../admission-flags.js';

interface ServeFlags extends AdmissionFlags {
  stateDir: string;
  mockSpeed: string;
  strategy: StrategyName;
  maxConcurrentCreates: string;
  maxStartsPerS: string;
  maxBodyBytes: string;
  requestTimeoutS: string;
  donorGraceS: string;
  listenTcp?: string;
  tokenFile?: string;
  logLevel: string;
  detach: boolean;
}

function numberFlag(text: string, flag: string, min: number, integer: boolean): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

export function registerServe(program: Command, cli: CommandContext): void {
  const serve = program
    .command('serve')
    .description('run the daemon: one admission brain per host, an HTTP/JSON API on --socket (docs/daemon.md)')
    .option('--state-dir <dir>', 'journal, floors and (mock) the simulated host', '/var/lib/xenclaim')
    .option('--mock-speed <n>', 'mock host only: run its wall-clock time n times faster', '1')
    .addOption(new Option('--strategy <name>', 'how guests are admitted').choices([...STRATEGIES]).default('claim-first'))
    .option('--max-concurrent-creates <n>', 'creations admitted at once; more wait their turn', '16')
    .option('--max-starts-per-s <n>', 'starts per second (0: no limit): a boot storm is admitted at this rate', '0')
    .option('--max-body-bytes <n>', 'largest request body', String(1024 * 1024))
    .option('--request-timeout-s <n>', 'time a client has to send a whole request', '30')
    .option('--donor-grace-s <n>', 'a guest built here becomes a donor this long after it started', '30')
    .option('--listen-tcp <host:port>', 'also listen on this loopback address (needs --token-file)')
    .option('--token-file <file>', 'the bearer token TCP clients must send')
    .option('--log-level <level>', 'pino log level (trace, debug, info, warn, error)', 'info')
    .option('--detach', 'run in the background: return once it answers on its socket, print its pid; its log goes to STATE_DIR/daemon.log', false);
  // The same admission knobs as standalone create, applied to every create the daemon admits.
  addAdmissionOptions(serve)
    .action(async (flags: ServeFlags) => {
      const backend = cli.global.backend;
      const options = {
        socket: cli.global.socket ?? process.env.XENCLAIM_SOCKET ?? '/run/xenclaim/xenclaim.sock',
        stateDir: flags.stateDir,
        backend,
        mockSpeed: numberFlag(flags.mockSpeed, '--mock-speed', 0.001, false),
        strategy: flags.strategy,
        maxConcurrentCreates: numberFlag(flags.maxConcurrentCreates, '--max-concurrent-creates', 1, true),
        maxStartsPerS: numberFlag(flags.maxStartsPerS, '--max-starts-per-s', 0, false),
        maxBodyBytes: numberFlag(flags.maxBodyBytes, '--max-body-bytes', 1024, true),
        requestTimeoutS: numberFlag(flags.requestTimeoutS, '--request-timeout-s', 1, false),
        donorGraceS: numberFlag(flags.donorGraceS, '--donor-grace-s', 0, false),
        ...admissionSettings(flags),
        ...(flags.listenTcp === undefined ? {} : { listenTcp: flags.listenTcp }),
        ...(flags.tokenFile === undefined ? {} : { tokenFile: flags.tokenFile }),
        logLevel: flags.logLevel,
      };
      if (flags.detach) {
        // The same command line without --detach, in a process of its own; this one returns once it answers.
        const { mkdirSync } = await import('node:fs');
        const { join } = await import('node:path');
        const { startDetached } = await import('../../daemon/detach.js');
        mkdirSync(flags.stateDir, { recursive: true, mode: 0o700 });
        const args = cli.argv.filter((arg) => arg !== '--detach');
        const pid = await startDetached({ args, socket: options.socket, logFile: join(flags.stateDir, 'daemon.log') });
        cli.io.stdout(`${pid}\n`);
        return;
      }
      const { startDaemon } = await import('../../daemon/serve.js');
      const daemon = await startDaemon(options);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          void daemon.close().then(resolve, resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
