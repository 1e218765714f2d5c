/**
 * The `xenclaim` command: global options, one file per command (commands/), and error reporting. Exit codes as
 * operators expect from xl-like tools: 0 ok, 1 the operation failed, 2 bad usage. Errors are one clear line on
 * stderr: the message and, for Xen errors, the code; a usage error is followed by one line pointing to --help. A
 * command loads only what it needs (backends, the toolstack, the simulator are imported when a command runs), and
 * talks to the daemon when its socket answers (docs/daemon.md#the-cli-and-the-daemon).
 */
import { Command, CommanderError, Option } from 'commander';
import { XenError } from '../errors.js';
import { CommandContext, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, type CliIo } from './command-context.js';
import { registerClaims } from './commands/claims.js';
import { registerConfig } from './commands/config.js';
import { registerCreate } from './commands/create.js';
import { registerDestroy } from './commands/destroy.js';
import { registerInfo } from './commands/info.js';
import { registerList } from './commands/list.js';
import { registerMemMax } from './commands/mem-max.js';
import { registerMemSet } from './commands/mem-set.js';
import { registerServe } from './commands/serve.js';
import { registerSimulate } from './commands/simulate.js';

export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo } from './command-context.js';
export { findDomain } from './find-domain.js';

const defaultIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  openBackend: async (options) => (await import('../open-backend.js')).openBackend(options),
};

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = new Command('xenclaim');
  const cli = new CommandContext(io, program, argv);

  program
    .description('A Xen toolstack that admits guests with XENMEM_claim_pages, with a ballooning fallback')
    .addOption(
      new Option('--backend <kind>', 'which Xen to talk to: the real host, the simulated one, or real if present')
        .choices(['auto', 'native', 'mock'])
        .default('auto'),
    )
    .option('--json', 'machine-readable output', false)
    .option('--socket <path>', "the daemon's socket (default $XENCLAIM_SOCKET, else /run/xenclaim/xenclaim.sock); standalone when none answers")
    .exitOverride()
    // commander's "error: …" becomes the one line every xenclaim error is; the hint to --help follows it.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(`xenclaim: ${text.replace(/^error: /, '')}`) });

  for (const register of [registerInfo, registerList, registerClaims, registerMemSet, registerMemMax, registerDestroy, registerConfig, registerCreate, registerSimulate, registerServe]) {
    register(program, cli);
  }
  program.showHelpAfterError(helpHint(program));
  for (const command of program.commands) command.showHelpAfterError(helpHint(command));
  let running: Command = program;
  program.hook('preSubcommand', (_program, command) => {
    running = command;
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    return reportError(error, io, running);
  }
  return cli.exitCode;
}

/** The line after a usage error: where the usage is, not the whole help. */
function helpHint(command: Command): string {
  const name = command.parent ? `xenclaim ${command.name()}` : 'xenclaim';
  return `Run '${name} --help' for usage.`;
}

function reportError(error: unknown, io: CliIo, command: Command): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message (and the hint); help and version are successes.
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof Error && error.name === 'ScenarioError') {
    io.stderr(`xenclaim: invalid scenario: ${error.message}\n`);
    return EXIT_FAILED;
  }
  if (error instanceof UsageError) {
    io.stderr(`xenclaim: ${error.message}\n${helpHint(command)}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof XenError) {
    io.stderr(`xenclaim: ${error.message} [${error.code}]\n`);
    return EXIT_FAILED;
  }
  io.stderr(`xenclaim: ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT_FAILED;
}
