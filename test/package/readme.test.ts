/**
 * Every example in README.md runs as written, on a machine without Xen: the shell session, from the repository's
 * root with the package built as `npm ci` builds it — one shell, line after line as a reader types them, a daemon
 * on the simulated host started by the session itself and the guest commands going through it — each line's exit
 * status, stderr and output checked; the library example's TypeScript, compiled, in a Node that treats an unhandled
 * rejection as fatal; and the misuse cases of misuse.mjs against this checkout. A shell block that is not an example
 * (setup as root, the test commands themselves) must be listed below with the reason, and is never run: a new
 * README example cannot escape this test, and an instruction cannot run here by accident.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDistBuilt } from '../helpers/dist.js';
import { stopped } from '../helpers/process.js';
import { runMisuse } from './misuse-expectations.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PRIVCMD = '/dev/xen/privcmd';
const MOCK_NOTICE = `xenclaim: no Xen here (${PRIVCMD} is missing): using the simulated (mock) host`;

/**
 * Shell blocks of the README that are instructions, not examples, by their first line, and why this test does not run
 * them (they install system packages or a unit as root, or boot Xen).
 */
const NOT_EXAMPLES: Readonly<Record<string, string>> = {
  './scripts/setup.sh': 'installs system packages with apt; CI runs the same steps (.ci/run)',
  'npm test': 'the command that runs this very test',
  'npm run test:xen': 'boots Xen under QEMU for minutes; CI runs it after npm test',
  './scripts/setup.sh                                         # dependencies, the addon, `xenclaim info`':
    'installs the daemon as a systemd unit in a Xen dom0, as root (test/xen/daemon.test.ts runs the daemon on real Xen)',
};

/** The session's lines that are shell, not xenclaim: where the daemon lives, its pid, stopping it. */
const SHELL_LINES: readonly RegExp[] = [/^D=\$\(mktemp -d\)/, /^export XENCLAIM_SOCKET=\$D\//, /^DAEMON=\$\(npx xenclaim serve .*--detach\)/, /^kill \$DAEMON/];

interface Block {
  lang: string;
  body: string;
  line: number;
}

function readmeBlocks(): Block[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    body: m[2]!.trimEnd(),
    line: text.slice(0, m.index).split('\n').length,
  }));
}

const firstLine = (body: string): string => body.split('\n')[0]!;
const blocks = readmeBlocks();
const shellBlocks = blocks.filter((b) => b.lang === 'sh');
const examples = shellBlocks.filter((b) => NOT_EXAMPLES[firstLine(b.body)] === undefined);
const session = examples.flatMap((b) => b.body.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')));
const library = blocks.filter((b) => b.lang === 'ts');

const hasXen = existsSync(PRIVCMD);
if (hasXen) process.stderr.write(`SKIPPED README examples in test/package/readme.test.ts: ${PRIVCMD} exists — they would act on this real Xen host\n`);

/** What one line of the session did. */
interface LineRun {
  status: number;
  stdout: string;
  stderr: string;
}

const MARK = '@@xenclaim-readme-line@@';

/**
 * Runs the session in one `sh`, as a reader types it, each line followed by a marker with its exit status on stdout
 * and stderr, so each line's output and status can be told apart. Whatever happens, the shell kills the daemon the
 * session started (its pid is in $DAEMON) when it exits.
 */
function runSession(lines: readonly string[]): { runs: LineRun[]; daemonPid: number } {
  const script = [
    `trap 'echo "${MARK} daemon $DAEMON"; if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null; fi' EXIT`,
    ...lines.flatMap((line) => [line, `echo "${MARK} $?"; echo "${MARK}" >&2`]),
  ].join('\n');
  const child = spawnSync('sh', ['-c', script], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  expect(child.error, child.stderr).toBeUndefined();
  const outs = child.stdout.split(new RegExp(`^${MARK} (\\d+)\\n`, 'm'));
  const errs = child.stderr.split(`${MARK}\n`);
  const runs = lines.map((_, i) => ({ stdout: outs[2 * i] ?? '', status: Number(outs[2 * i + 1] ?? -1), stderr: errs[i] ?? '' }));
  return { runs, daemonPid: Number(new RegExp(`^${MARK} daemon (\\d*)$`, 'm').exec(child.stdout)?.[1] ?? 0) };
}

/** stderr without the one-line notice that the mock host is in use (said by each command that runs standalone). */
function errors(stderr: string): string {
  return stderr.split('\n').filter((line) => line !== MOCK_NOTICE && line !== '').join('\n');
}

/** What session lines must show besides exiting 0 with nothing on stderr but the notice. */
const SHOWS: ReadonlyArray<readonly [RegExp, RegExp]> = [
  [/ info$/, /^total_memory\s+: 16384$/m],
  [/ config examples\/guests\/web1\.cfg$/, /"name": "web1"/],
  [/ create /, /web1: running as domain \d+/],
  [/ create /, /web2: running as domain \d+/],
  // Through the daemon: the guests created by the command before are there.
  [/ list$/, /^Domain-0\s+0\s[\s\S]*^web1\s+\d+\s[\s\S]*^web2\s+\d+\s/m],
  [/ claims$/, /^web2\s+\d+\s.*\s0$/m],
  [/ simulate /, /claim-first[\s\S]*limit-and-check[\s\S]*model/],
];

describe.skipIf(hasXen)('README.md examples, as written', () => {
  let runs: LineRun[] = [];
  let daemonPid = 0;

  beforeAll(() => {
    ensureDistBuilt();
    // Only when the session's shape is what this test knows: it must never run anything but xenclaim and its plumbing.
    if (session.every((line) => line.startsWith('npx xenclaim ') || SHELL_LINES.some((shape) => shape.test(line)))) ({ runs, daemonPid } = runSession(session));
  }, 600_000);

  it('every shell block is an example this test runs, or an instruction listed with its reason (never run)', () => {
    expect(shellBlocks.length).toBeGreaterThan(0);
    for (const line of Object.keys(NOT_EXAMPLES)) expect(shellBlocks.map((b) => firstLine(b.body)), line).toContain(line);
    expect(examples).toHaveLength(1);
    expect(session.length).toBeGreaterThanOrEqual(13);
    for (const line of session) expect(line.startsWith('npx xenclaim ') || SHELL_LINES.some((shape) => shape.test(line)), line).toBe(true);
    for (const shape of SHELL_LINES) expect(session.filter((line) => shape.test(line)), String(shape)).toHaveLength(1);
    expect(blocks.filter((b) => b.lang !== 'sh' && b.lang !== 'ts')).toEqual([]);
  });

  session.forEach((line, i) => {
    it(line, () => {
      const out = runs[i];
      expect(out, 'the session did not run').toBeDefined();
      expect(errors(out!.stderr), line).toBe('');
      expect(out!.status, line).toBe(0);
      for (const [command, output] of SHOWS) if (command.test(line)) expect(out!.stdout, line).toMatch(output);
    });
  });

  it('the guest commands went through the daemon, which the session stopped', async () => {
    const pid = daemonPid;
    expect(pid).toBeGreaterThan(0);
    // Standalone, each command would say it uses the simulated host; through the daemon none does.
    const guestCommands = session.map((line, i) => [line, runs[i]!] as const).filter(([line]) => / (create|list|claims|mem-set|mem-max|destroy) /.test(`${line} `));
    expect(guestCommands.length).toBeGreaterThanOrEqual(6);
    for (const [line, out] of guestCommands) expect(out.stderr, line).not.toContain(MOCK_NOTICE);
    // `kill $DAEMON`: it stops (SIGTERM lets what is in flight finish first).
    expect(await stopped(pid)).toBe(true);
  });

  it('the library example runs as written: creates a guest on the simulated host and prints its domid', () => {
    expect(library).toHaveLength(1);
    const source = library[0]!.body;
    expect(source).toMatch(/from 'xenclaim'/);
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    // Inside the package, so `import 'xenclaim'` resolves to this checkout (Node's package self-reference).
    mkdirSync(join(ROOT, 'dist', 'readme'), { recursive: true });
    const file = join(ROOT, 'dist', 'readme', 'library-example.mjs');
    writeFileSync(file, outputText);
    const child = spawnSync(process.execPath, ['--unhandled-rejections=strict', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    expect(errors(child.stderr)).toBe('');
    expect(child.stdout).toMatch(/^headroom: \d+(\.\d+)? MiB$/m);
    expect(child.stdout).toMatch(/^requested db1$/m);
    expect(child.stdout).toMatch(/^db1 is running as domain [1-9]\d*$/m);
  }, 60_000);

  it('misuse of the API is refused with EINVAL naming the option, never an unhandled rejection', () => {
    runMisuse(join(ROOT, 'test', 'package', 'misuse.mjs'), ROOT);
  }, 120_000);
});
