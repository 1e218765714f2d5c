/**
 * The package as someone who depends on it gets it: `npm pack` of this checkout (from a clean copy of its files, so
 * nothing stale in dist/ is shipped), the tarball installed into a fresh project, then used there — imported, its
 * `xenclaim` command run, a consumer file type-checked against the shipped types, the README's library example
 * compiled and run, every misuse case run in a Node that treats an unhandled rejection as fatal — with the addon
 * built on install where libxen-dev is present, and the package still working on the simulated host after an
 * install without it. The tarball is installed offline from its file; its dependencies come from the npm registry
 * (the cache first), so where the registry cannot be reached these tests skip, saying so.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMisuse } from './misuse-expectations.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MANIFEST = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const XEN_PKGS = ['xencontrol', 'xenlight', 'xentoollog'];
const MOCK_NOTICE = /^xenclaim: no Xen here \(\/dev\/xen\/privcmd is missing\): using the simulated \(mock\) host$/;

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 600_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, ...env } });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  expect(result.error, what).toBeUndefined();
  expect(result.status, `${what}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

const ping = run('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=20000'], ROOT, {}, 60_000);
const registryDown = ping.status !== 0 ? `the npm registry cannot be reached (npm ping: ${(ping.stderr || ping.stdout || String(ping.error)).trim().split('\n').pop()})` : undefined;
if (registryDown) process.stderr.write(`SKIPPED package tests in test/package/pack.test.ts: ${registryDown}; the tarball's dependencies come from it\n`);
const hasLibxenDev = spawnSync('pkg-config', ['--exists', ...XEN_PKGS]).status === 0;

/** A consumer's file: the API used with its types, and misuse the types must catch (each @ts-expect-error must be needed). */
const CONSUMER_TS = `
import {
  AutoClock, createGuests, isXenError, loadGuestConfig, openBackend, runScenario, XenHost,
  type AdmissionEvent, type AdmissionResult, type CheckedGuestConfig, type GuestRequest, type HostOptions, type StrategyReport, type XenBackend,
} from 'xenclaim';

const xen: XenBackend = await openBackend({ kind: 'mock', host: { memoryMiB: 4096 }, clock: new AutoClock() });
const options: HostOptions = { backend: xen, strategy: 'model', floorsKiB: { web1: 512 * 1024 }, wait: { maxWaitMs: 30_000 } };
const host = new XenHost(options);
const events: AdmissionEvent[] = [];
host.subscribe((event) => events.push(event));
const request: GuestRequest = { name: 'c1', config: { c_info: { type: 'pv', name: 'c1' }, b_info: { target_memkb: 65536, max_memkb: 65536 } } };
const results: AdmissionResult[] = await host.createGuests([request]);
const domid: number | null = results[0]!.domid;
const more: AdmissionResult[] = await createGuests(xen, [], { strategy: 'claim-first' });
const reports: StrategyReport[] = await runScenario({ name: 's', host: { memoryMiB: 4096, dom0MiB: 1024, xenVersion: '4.17' }, guests: [], requests: [], demands: [], strategies: ['model'] });
const read: Promise<unknown> = loadGuestConfig('guest.cfg', { backend: xen }).catch((error: unknown) => isXenError(error, 'ENOENT'));
const checked: CheckedGuestConfig | undefined = undefined;

// Type-checked, never called (at run time each would be refused with EINVAL).
export function misuse(): void {
  // @ts-expect-error: not a strategy
  new XenHost({ backend: xen, strategy: 'fastest' });
  // @ts-expect-error: floors are KiB numbers
  new XenHost({ backend: xen, floorsKiB: { web1: '512m' } });
  // @ts-expect-error: a request has a name and a config
  void host.createGuests([{ name: 'c2' }]);
  // @ts-expect-error: openBackend takes a kind
  void openBackend({ kind: 'kvm' });
}

console.log(domid, more.length, reports.length, events.length > 0, await read, checked);
await host.close();
`;

describe.skipIf(registryDown !== undefined)('the package, packed and installed into a fresh project', () => {
  let work: string;
  let tarball: string;
  let consumer: string;
  let installLog: string;
  const installed = (): string => join(consumer, 'node_modules', 'xenclaim');

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'xenclaim-pack-'));
    // A clean copy of the checkout's files (tracked and new, not ignored): npm pack builds dist/ there from scratch.
    const stage = join(work, 'xenclaim');
    const files = ok(run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT), 'git ls-files').split('\0').filter(Boolean);
    for (const file of files) {
      if (!existsSync(join(ROOT, file))) continue; // deleted in the work tree
      mkdirSync(dirname(join(stage, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(stage, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'));
    const packed = JSON.parse(ok(run('npm', ['pack', '--json', '--pack-destination', work], stage), 'npm pack')) as Array<{ filename: string }>;
    tarball = join(work, packed[0]!.filename);

    consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
    const install = run('npm', [
      'install', tarball, `typescript@${MANIFEST.devDependencies['typescript']}`, `@types/node@${MANIFEST.devDependencies['@types/node']}`,
      '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts',
    ], consumer, { JOBS: 'max' });
    installLog = `${install.stdout}\n${install.stderr}`;
    ok(install, 'npm install of the tarball');
  }, 900_000);

  // The consumer's node_modules is large: on a busy machine removing it outlasts vitest's 10 s default.
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('the tarball holds dist with its .d.ts, the addon sources and build script, binding.gyp, docs and examples, and no tests or .ts sources', () => {
    const list = ok(run('tar', ['tzf', tarball], work), 'tar').split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    for (const file of [
      'package.json', 'README.md', 'LICENSE', 'bin/xenclaim.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js',
      'dist/src/host/xen-host.d.ts', 'binding.gyp', 'native/addon.cc', 'native/xen_worker.h', 'scripts/build-addon.mjs',
      'docs/api.md', 'docs/backend-contract.md', 'examples/guests/web1.cfg', 'examples/scenarios/b-ballooning-needed.json',
    ]) {
      expect(list, file).toContain(file);
    }
    expect(list.filter((f) => f.startsWith('test/') || f.startsWith('dist/bench/') || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it(hasLibxenDev ? 'the addon is built on install (libxen-dev is here)' : 'the install says the addon was not built (no libxen-dev here)', () => {
    const addon = join(installed(), 'build', 'Release', 'xenclaim.node');
    if (hasLibxenDev) {
      expect(existsSync(addon), installLog).toBe(true);
      expect(existsSync(join(installed(), 'build', 'Release', 'sigchld_probe.node'))).toBe(false); // test-only target
      // It loads (linked against this host's libxenctrl and libxenlight) and is the xenclaim addon.
      const probe = run(process.execPath, ['-e', 'const a = require(process.argv[1]); console.log(typeof a.physinfo, typeof a.createGuest)', addon], consumer);
      expect(ok(probe, 'loading the addon')).toBe('function function\n');
    } else {
      expect(existsSync(addon)).toBe(false);
      expect(installLog).toMatch(/native addon not built .*the mock host still works/);
    }
  });

  it('imports as xenclaim: the public API is there', () => {
    const out = ok(run(process.execPath, ['--input-type=module', '-e', "const m = await import('xenclaim'); console.log(JSON.stringify(Object.keys(m)))"], consumer), 'import');
    const names = JSON.parse(out) as string[];
    for (const name of ['openBackend', 'XenHost', 'createGuests', 'loadGuestConfig', 'parseGuestConfig', 'parseGuestConfigFor', 'runScenario', 'loadScenario', 'parseScenario', 'MockBackend', 'AutoClock', 'XenError', 'ConfigError', 'ScenarioError', 'STRATEGIES']) {
      expect(names, name).toContain(name);
    }
  });

  it('its xenclaim command runs: info on the simulated host, and a usage error is one line and a hint', () => {
    const info = run('npx', ['xenclaim', 'info'], consumer);
    expect(ok(info, 'npx xenclaim info')).toMatch(/^total_memory\s+: 16384$/m);
    expect(info.stderr.trim()).toMatch(MOCK_NOTICE);
    const simulate = run('npx', ['xenclaim', 'simulate', join(installed(), 'examples', 'scenarios', 'a-enough-memory.json')], consumer);
    expect(ok(simulate, 'npx xenclaim simulate')).toMatch(/claim-first/);
    const bad = run('npx', ['xenclaim', 'frobnicate'], consumer);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("xenclaim: unknown command 'frobnicate'\nRun 'xenclaim --help' for usage.\n");
  });

  it("a consumer's TypeScript type-checks against the shipped types, which catch misuse; so does the README's library example", () => {
    writeFileSync(join(consumer, 'consumer.ts'), CONSUMER_TS);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(example).toHaveLength(1);
    writeFileSync(join(consumer, 'readme-example.ts'), example[0]!);
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', types: ['node'] },
      files: ['consumer.ts', 'readme-example.ts'],
    }, null, 2));
    ok(run(join(consumer, 'node_modules', '.bin', 'tsc'), ['-p', '.'], consumer), 'tsc');
    const used = run(process.execPath, ['--unhandled-rejections=strict', join('out', 'consumer.js')], consumer);
    expect(ok(used, 'consumer.js')).toMatch(/^\d+ 0 1 true true undefined$/m);
  }, 120_000);

  it("the README's library example, compiled as it is, creates a guest on the simulated host and prints its domid", () => {
    const child = run(process.execPath, ['--unhandled-rejections=strict', join('out', 'readme-example.js')], consumer, {}, 60_000);
    expect(ok(child, 'readme-example.js')).toMatch(/^db1 is running as domain [1-9]\d*$/m);
    expect(child.stderr.trim()).toMatch(MOCK_NOTICE);
  });

  it('misuse of the installed package is refused with EINVAL naming the option, never an unhandled rejection', () => {
    copyFileSync(join(ROOT, 'test', 'package', 'misuse.mjs'), join(consumer, 'misuse.mjs'));
    runMisuse(join(consumer, 'misuse.mjs'), consumer);
  }, 120_000);

  // Last: it removes the addon the install built.
  it('installed without libxen-dev, the package says so once and works on the simulated host', () => {
    rmSync(join(installed(), 'build'), { recursive: true, force: true });
    const rebuild = run('npm', ['rebuild', 'xenclaim', '--foreground-scripts'], consumer, { PKG_CONFIG_LIBDIR: join(work, 'no-pkgconfig'), PKG_CONFIG_PATH: '' });
    ok(rebuild, 'npm rebuild without libxen-dev');
    expect(`${rebuild.stdout}\n${rebuild.stderr}`).toMatch(
      /xenclaim: native addon not built \(pkg-config finds no xencontrol\/xenlight\/xentoollog\); the mock host still works\. To use real Xen, install the Xen development files/,
    );
    expect(existsSync(join(installed(), 'build', 'Release', 'xenclaim.node'))).toBe(false);
    expect(ok(run('npx', ['xenclaim', 'info'], consumer), 'npx xenclaim info without the addon')).toMatch(/^total_memory\s+: 16384$/m);
    expect(ok(run(process.execPath, [join('out', 'readme-example.js')], consumer), 'readme example without the addon')).toMatch(/^db1 is running as domain \d+$/m);
  }, 120_000);
});
