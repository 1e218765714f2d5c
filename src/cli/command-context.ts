/**
 * What every `xenclaim` command shares: the I/O it writes to, the global options, output helpers, the exit code,
 * usage errors, and opening the host for one command's run.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { answerError, callDaemon, DEFAULT_SOCKET, probeDaemon } from '../api/client.js';
import type { XenBackend } from '../backend.js';
import type { HostOptions, XenHost } from '../host/xen-host.js';
import type { BackendKind, OpenBackendOptions } from '../open-backend.js';
import { parseSizeKiB, SizeError } from './sizes.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Where the CLI writes and how it opens the backend (tests inject both). */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Opens the backend; tests inject a mock host they can inspect. */
  openBackend: (options: OpenBackendOptions) => Promise<XenBackend>;
}

/** A usage error found after commander parsed the line (a bad DOMAIN or SIZE): exit 2. */
export class UsageError extends Error {}

export interface GlobalOptions {
  backend: BackendKind;
  json: boolean;
  socket?: string;
}

/** The shared state of one `xenclaim` invocation, handed to every command's registration. */
export class CommandContext {
  exitCode = EXIT_OK;

  constructor(
    readonly io: CliIo,
    private readonly program: Command,
    /** The command line as given (without node and the script): `serve --detach` runs it again without --detach. */
    readonly argv: readonly string[] = [],
  ) {}

  private daemonSocket: Promise<string | undefined> | undefined;

  get global(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  /**
   * The daemon's socket when one answers there (--socket, else $XENCLAIM_SOCKET, else the default path), or
   * undefined: the command runs standalone. An explicit --backend always runs standalone (it names the Xen to open
   * here). Asked once per invocation.
   */
  daemon(): Promise<string | undefined> {
    this.daemonSocket ??= (async () => {
      if (this.program.getOptionValueSource('backend') === 'cli') return undefined;
      const explicit = this.global.socket ?? process.env.XENCLAIM_SOCKET;
      const socket = explicit ?? DEFAULT_SOCKET;
      if (!existsSync(socket)) return undefined;
      if (await probeDaemon(socket)) return socket;
      if (explicit !== undefined) this.io.stderr(`xenclaim: no daemon answers on ${socket}: running standalone\n`);
      return undefined;
    })();
    return this.daemonSocket;
  }

  /** Asks the daemon; an error answer is thrown as the XenError the standalone command would have thrown. */
  async remote<T>(socket: string, method: string, path: string, body?: unknown): Promise<T> {
    const answer = await callDaemon<T>(socket, method, path, body);
    if (answer.status >= 400) throw answerError(answer);
    return answer.body;
  }

  emitJson(value: unknown): void {
    this.io.stdout(`${JSON.stringify(value, null, 2)}\n`);
  }

  emitText(text: string): void {
    this.io.stdout(`${text}\n`);
  }

  /**
   * Opens the backend from the global options and a host on it, runs `action` in the host's time (the mock host
   * lives on virtual time: it is driven until the command's work is done), and always closes it.
   */
  async withHost(action: (host: XenHost) => Promise<void>, options: Omit<HostOptions, 'backend'> = {}): Promise<void> {
    const backend = await this.io.openBackend({ kind: this.global.backend, notice: (line) => this.io.stderr(`${line}\n`) });
    let host: XenHost;
    try {
      const { XenHost } = await import('../host/xen-host.js');
      host = new XenHost({ ...options, backend });
    } catch (error) {
      await backend.close();
      throw error;
    }
    try {
      await host.run(action(host));
    } finally {
      await host.close();
    }
  }
}

/** A SIZE argument (512m, 2g; plain numbers are MiB), in KiB; a bad one is a usage error. */
export function sizeArg(text: string, what: string): number {
  try {
    return parseSizeKiB(text, what);
  } catch (error) {
    if (error instanceof SizeError) throw new UsageError(error.message);
    throw error;
  }
}
