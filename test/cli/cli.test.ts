import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import type { XenBackend } from '../../src/backend.js';
import { MockBackend } from '../../src/mock/backend.js';
import { XenError } from '../../src/errors.js';
import { NativeBackend, type AddonBuildTarget, type NativeBinding } from '../../src/native/backend.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  kinds: string[];
}

/** Runs the CLI against `mock` (kept open after the command so the test can inspect it). */
async function run(argv: string[], mock = new MockBackend()): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const kinds: string[] = [];
  const io: CliIo = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    openBackend: async (options) => {
      kinds.push(options.kind);
      const view = Object.create(mock) as XenBackend;
      view.close = async () => undefined;
      return view;
    },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr, kinds };
}

function hostWithGuest(): { mock: MockBackend; domid: number } {
  const mock = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024 } });
  const domid = mock.control.addRunningGuest({ name: 'web1', memoryMiB: 1024, maxMiB: 2048 });
  return { mock, domid };
}

describe('xenclaim CLI', () => {
  it('info prints xl-shaped memory lines; --json gives the raw numbers', async () => {
    const mock = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024 } });
    const physinfo = await mock.physinfo();
    const text = await run(['info'], mock);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`total_memory           : ${Math.floor(physinfo.totalPages / 256)}\n`);
    expect(text.stdout).toContain(`free_memory            : ${Math.floor(physinfo.freePages / 256)}\n`);
    expect(text.kinds).toEqual(['auto']);
    const json = await run(['--json', '--backend', 'mock', 'info'], mock);
    expect(json.kinds).toEqual(['mock']);
    expect(JSON.parse(json.stdout).physinfo).toEqual(physinfo);
  });

  it("info on the native backend reports the hypervisor's version and what the addon was built against", async () => {
    const buildTarget: AddonBuildTarget = {
      xenctrlVersion: '4.20.0',
      xenlightVersion: '4.20.0',
      domctlInterfaceVersion: 0x17,
      sysctlInterfaceVersion: 0x15,
      libxlApiVersion: 0x041400,
      domainInfoCall: 'xc_domain_getinfo_single',
    };
    // The addon's two calls `info` makes, answered by a mock host emulating Xen 4.20.
    const host = new MockBackend({ host: { memoryMiB: 8192, xenVersion: '4.20' } });
    const binding = {
      physinfo: async () => ({ ...(await host.physinfo()), capabilities: 0 }),
      xenVersion: () => host.xenVersion(),
      claimPages: async () => undefined,
      hasTmem: false,
      domctlInterfaceVersion: 0x17,
      buildTarget,
    } as unknown as NativeBinding;
    const outputs = await Promise.all([['info'], ['--json', 'info']].map(async (argv) => {
      let stdout = '';
      const io: CliIo = {
        stdout: (t) => (stdout += t),
        stderr: () => undefined,
        openBackend: async () => new NativeBackend(binding, await host.xenVersion()),
      };
      expect(await main(argv, io)).toBe(0);
      return stdout;
    }));
    const [text, json] = outputs as [string, string];
    expect(text).toContain('backend                : native\n');
    expect(text).toContain('xen_version            : 4.20.4\n');
    expect(text).toContain('addon_xenctrl          : 4.20.0 (domctl interface 0x17, sysctl interface 0x15, xc_domain_getinfo_single)\n');
    expect(text).toContain('addon_xenlight         : 4.20.0 (LIBXL_API_VERSION 0x041400)');
    const parsed = JSON.parse(json) as { backend: string; xenVersion: unknown; addon: unknown };
    expect(parsed.backend).toBe('native');
    expect(parsed.xenVersion).toEqual({ major: 4, minor: 20, extra: '.4' });
    expect(parsed.addon).toEqual(buildTarget);
  });

  it('list shows dom0 and guests with their MiB', async () => {
    const { mock, domid } = hostWithGuest();
    const out = await run(['list'], mock);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^Domain-0\s+0\s+1024\s/);
    expect(lines[2]).toMatch(new RegExp(`^web1\\s+${domid}\\s+1024\\s`));
  });

  it('claims lists the outstanding claim per domain', async () => {
    const { mock, domid } = hostWithGuest();
    await mock.setMaxMem(domid, 4 * 1024 * 1024);
    await mock.claimPages(domid, 1536 * 256);
    const out = await run(['--json', 'claims'], mock);
    const rows = JSON.parse(out.stdout) as Array<{ domid: number; outstandingPages: number }>;
    expect(rows.find((r) => r.domid === domid)?.outstandingPages).toBe(512 * 256);
    const text = await run(['claims'], mock);
    expect(text.stdout.split('\n')[2]).toMatch(/\s512$/);
  });

  it('mem-set sets the balloon target by name, with xl size suffixes', async () => {
    const { mock, domid } = hostWithGuest();
    const out = await run(['mem-set', 'web1', '512m'], mock);
    expect(out.code).toBe(0);
    expect((await mock.getDomain(domid)).targetKiB).toBe(512 * 1024);
  });

  it('mem-max sets the maximum by domid with the 1 MiB libxl slack in max_pages; plain numbers are MiB', async () => {
    const { mock, domid } = hostWithGuest();
    const out = await run(['mem-max', String(domid), '1536'], mock);
    expect(out.code).toBe(0);
    expect((await mock.getDomain(domid)).maxPages).toBe((1536 + 1) * 256);
  });

  // A field report (mem-max below the target): `xl mem-max` goes through libxl_domain_setmaxmem, so must ours.
  it('mem-max refuses a maximum below the target naming both, and keeps the 1 MiB slack (field case)', async () => {
    const mock = new MockBackend();
    const before = await mock.getDomain(0);
    const refused = await run(['mem-max', 'Domain-0', '512m', '--backend', 'mock'], mock);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/524288 KiB/);
    expect(refused.stderr).toMatch(/target of 1048576 KiB/);
    expect(refused.stderr).toContain('[EINVAL]');
    expect((await mock.getDomain(0)).maxPages).toBe(before.maxPages);
    const ok = await run(['mem-max', 'Domain-0', '2g', '--backend', 'mock', '--json'], mock);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ domid: 0, maxKiB: 2048 * 1024, maxPages: (2048 + 1) * 256, maxPagesKiB: (2048 + 1) * 1024 });
    expect((await mock.getDomain(0)).maxPages).toBe((2048 + 1) * 256);
    // static-max is libxl's to keep: mem-set above the old static-max is still refused, as libxl refuses it.
    const above = await run(['mem-set', 'Domain-0', '1536m'], mock);
    expect(above.code).toBe(1);
    expect(above.stderr).toContain('static-max');
  });

  it('mem-max at exactly the target is accepted; mem-set enforces max_pages = target + 1 MiB', async () => {
    const { mock, domid } = hostWithGuest();
    expect((await run(['mem-max', 'web1', '1024m'], mock)).code).toBe(0);
    expect((await mock.getDomain(domid)).maxPages).toBe((1024 + 1) * 256);
    expect((await run(['mem-set', 'web1', '768m'], mock)).code).toBe(0);
    const after = await mock.getDomain(domid);
    expect(after.targetKiB).toBe(768 * 1024);
    expect(after.maxPages).toBe((768 + 1) * 256);
    expect((await run(['mem-max', 'web1', '700m'], mock)).stderr).toMatch(/target of 786432 KiB, got 716800 KiB/);
  });

  it('destroy removes the guest', async () => {
    const { mock, domid } = hostWithGuest();
    const out = await run(['destroy', 'web1'], mock);
    expect(out.code).toBe(0);
    // Destroyed: dying while its pages go back, then gone.
    expect((await mock.getDomain(domid)).dying).toBe(true);
    await mock.control.settle();
    await expect(mock.getDomain(domid)).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it('an unknown domain fails with exit 1 and one line naming it', async () => {
    const out = await run(['mem-set', 'nosuch', '512m']);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe("xenclaim: domain 'nosuch' does not exist [ESRCH]\n");
  });

  it('a bad size is bad usage: exit 2, one line naming SIZE and the accepted form, before any backend opens', async () => {
    const { mock } = hostWithGuest();
    for (const command of ['mem-set', 'mem-max']) {
      for (const size of ['12x', 'banana', '-5', '']) {
        const out = await run([command, 'web1', size], mock);
        expect(out.code, `${command} ${size}`).toBe(2);
        expect(out.stderr).toBe(
          `xenclaim: SIZE must be an integer with an optional suffix b, k, m, g or t (plain numbers are MiB), got ${JSON.stringify(size)}\n` +
            `Run 'xenclaim ${command} --help' for usage.\n`,
        );
        expect(out.kinds, `${command} ${size}`).toEqual([]);
      }
    }
  });

  it('an unknown command or backend is bad usage: exit 2', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['--backend', 'kvm', 'info'])).code).toBe(2);
    expect((await run(['mem-set', 'web1'])).code).toBe(2);
  });

  it('a usage error is one line and a hint to the right --help, never the whole help', async () => {
    const cases: Array<[string[], RegExp, string]> = [
      [['--bogus'], /^xenclaim: unknown option '--bogus'$/, 'xenclaim'],
      [['frobnicate'], /^xenclaim: unknown command 'frobnicate'$/, 'xenclaim'],
      [['create'], /^xenclaim: missing required argument 'files'$/, 'xenclaim create'],
      [['create', '--strategy', 'fastest', 'x.cfg'], /^xenclaim: option '--strategy <name>' argument 'fastest' is invalid\. Allowed choices are claim-first, limit-and-check, model\.$/, 'xenclaim create'],
      [['create', '--floor', 'web1', 'x.cfg'], /^xenclaim: --floor must be NAME=SIZE \(e\.g\. web1=512m\), got "web1"$/, 'xenclaim create'],
      [['mem-set', 'web1', '12x'], /^xenclaim: SIZE must be an integer with an optional suffix/, 'xenclaim mem-set'],
    ];
    for (const [argv, first, command] of cases) {
      const out = await run(argv, hostWithGuest().mock);
      expect(out.code, argv.join(' ')).toBe(2);
      expect(out.stdout, argv.join(' ')).toBe('');
      const lines = out.stderr.trimEnd().split('\n').filter((line) => !line.includes('using the simulated (mock) host'));
      expect(lines, argv.join(' ')).toHaveLength(2);
      expect(lines[0], argv.join(' ')).toMatch(first);
      expect(lines[1], argv.join(' ')).toBe(`Run '${command} --help' for usage.`);
    }
  });

  it('refuses to destroy Domain-0', async () => {
    const out = await run(['destroy', '0']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/refusing to destroy Domain-0/);
  });

  it('config prints libxl JSON; warnings go to stderr; syntax errors name file:line:col', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-cli-'));
    const good = join(dir, 'guest.cfg');
    await writeFile(good, 'name = "g1"\ntype = "pvh"\nmemory = 512\nvcpus = 2\nkernel = "/boot/vmlinuz"\nfrobnicate = 1\n');
    const out = await run(['config', good]);
    expect(out.code).toBe(0);
    const config = JSON.parse(out.stdout);
    expect(config.c_info.name).toBe('g1');
    expect(config.b_info.target_memkb).toBe(512 * 1024);
    expect(out.stderr).toMatch(/frobnicate/);
    const bad = join(dir, 'bad.cfg');
    await writeFile(bad, 'name = "g1"\nmemory = \n');
    const failed = await run(['config', bad]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`^xenclaim: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
  });
});

describe('xenclaim config reads a config for the host it runs on', () => {
  it('cpus = "all" is every CPU of the host (a bitmap rounded up to whole bytes, as libxl allocates it)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-cli-'));
    const file = join(dir, 'all.cfg');
    await writeFile(file, 'name = "g1"\nkernel = "/k"\nvcpus = 1\ncpus = "all"\n');
    const out = await run(['config', file], new MockBackend({ host: { memoryMiB: 16384, nrCpus: 12 } }));
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).b_info.vcpu_hard_affinity).toEqual([Array.from({ length: 16 }, (_, i) => i)]);
  });

  it('a key that cannot be mapped is an EINVAL naming the key, file and line, and nothing is created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-cli-'));
    const file = join(dir, 'pci.cfg');
    await writeFile(file, 'name = "g1"\ntype = "hvm"\nmemory = 256\nrdm = "strategy=host,policy=relaxed"\npci = [ "03:00.0" ]\n');
    for (const command of ['config', 'create']) {
      const mock = new MockBackend();
      const before = (await mock.listDomains()).length;
      const out = await run([command, file], mock);
      expect(out.code, command).toBe(1);
      expect(out.stderr, command).toMatch(new RegExp(`^xenclaim: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:7: rdm "strategy=host,policy=relaxed": xl 4\\.17 ignores the whole rdm setting.*\\[EINVAL\\]\\n$`));
      expect((await mock.listDomains()).length, command).toBe(before);
    }
  });
});

describe('config refuses what create would refuse', () => {
  it('an HVM guest too small for its video RAM and a bad name: the same one line from both, naming the xl key and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-cli-'));
    const small = join(dir, 'small.cfg');
    await writeFile(small, 'name = "h1"\ntype = "hvm"\nmemory = 8\n');
    const named = join(dir, 'named.cfg');
    await writeFile(named, `kernel = "/k"\nname = "${'n'.repeat(5000)}"\n`);
    const expected: Array<[string, RegExp]> = [
      [small, /:3:10: memory = 8: config\.b_info\.target_memkb must be above video_memkb \+ 128 KiB for an HVM guest, got 8192 \[EINVAL\]\n$/],
      [named, /:2:8: name must be a name of 1 to 64 characters from A-Z a-z 0-9 _ \. : \+ -, got "n{77}\.\.\." \(5000 characters\) \[EINVAL\]\n$/],
    ];
    for (const [file, line] of expected) {
      const lines: string[] = [];
      for (const command of ['config', 'create']) {
        const mock = new MockBackend();
        const out = await run([command, file], mock);
        expect(out.code, command).toBe(1);
        expect(out.stderr, command).toMatch(line);
        expect((await mock.listDomains()).length, command).toBe(1);
        lines.push(out.stderr);
      }
      expect(lines[0]).toBe(lines[1]);
    }
  });
});

describe('the large-hvm-overhead field case', () => {
  it('create refuses it on the default mock host (dom0 at its floor), naming libxl\'s need against the free memory', async () => {
    const file = fileURLToPath(new URL('../config/fixtures/large-hvm-overhead.cfg', import.meta.url));
    const mock = new MockBackend();
    const out = await run(['create', file], mock);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/xenclaim: bighvm: Cannot admit guest "bighvm": it needs 15256 MiB .* but only 15224 MiB of free memory/);
    expect((await mock.listDomains()).map((d) => d.name)).toEqual(['Domain-0']);
    expect((await mock.physinfo()).outstandingPages).toBe(0);
  });
});

describe('xenclaim create and simulate', () => {
  async function writeGuest(dir: string, name: string, memoryMiB: number): Promise<string> {
    const file = join(dir, `${name}.cfg`);
    await writeFile(file, `name = "${name}"\ntype = "pv"\nmemory = ${memoryMiB}\nkernel = "/boot/vmlinuz"\n`);
    return file;
  }

  it('creates several guests concurrently on the mock host, printing progress', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-create-'));
    const mock = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024 } });
    const files = [await writeGuest(dir, 'a1', 512), await writeGuest(dir, 'a2', 768)];
    const out = await run(['create', ...files], mock);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/a1: running as domain \d+/);
    expect(out.stdout).toMatch(/a2: running as domain \d+/);
    const names = (await mock.listDomains()).map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining(['a1', 'a2']));
    expect((await mock.physinfo()).outstandingPages).toBe(0);
  });

  it('-p leaves the guests paused; --json prints events and results as JSON lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-create-'));
    const mock = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024 } });
    const out = await run(['--json', 'create', '-p', '--strategy', 'model', await writeGuest(dir, 'p1', 256)], mock);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.event?.type === 'running')).toBe(true);
    expect(lines.every((l) => l.event === undefined || l.event.strategy === 'model')).toBe(true);
    const final = lines.at(-1);
    expect(final.results).toEqual([expect.objectContaining({ name: 'p1', ok: true })]);
    expect((await mock.getDomain(final.results[0].domid)).paused).toBe(true);
  });

  it('a guest that cannot fit fails with exit 1 and the reason, leaving nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-create-'));
    const mock = new MockBackend({ host: { memoryMiB: 4096, dom0MiB: 1024 } });
    const out = await run(['create', await writeGuest(dir, 'huge', 8192)], mock);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^xenclaim: huge: /);
    expect((await mock.listDomains()).map((d) => d.domid)).toEqual([0]);
    expect((await mock.physinfo()).outstandingPages).toBe(0);
  });

  it('--reserve sets the memory kept free for Xen (64m by default): a guest that would eat into it is refused, saying so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-create-'));
    // 4096 MiB host: Xen 40, dom0 1024 → 3032 MiB free; the guest needs 3014 (libxl 4.17: target, paging pool, 1 MiB).
    const refused = new MockBackend({ host: { memoryMiB: 4096, dom0MiB: 1024 } });
    const out = await run(['create', await writeGuest(dir, 'tight', 3000)], refused);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/needs 3014 MiB .* plus the 64 MiB kept free for Xen/);
    const fits = new MockBackend({ host: { memoryMiB: 4096, dom0MiB: 1024 } });
    const ok = await run(['create', '--reserve', '16m', '--stall-timeout-s', '2.5', '--max-wait-s', '600', await writeGuest(dir, 'tight', 3000)], fits);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it.each([
    ['--reserve', 'lots', /--reserve must be an integer with an optional suffix/],
    ['--stall-timeout-s', '0', /--stall-timeout-s must be a number of seconds > 0 and at most one year, got "0"/],
    ['--max-wait-s', '-5', /--max-wait-s must be a number of seconds > 0/],
  ])('a bad %s is bad usage', async (flag, value, message) => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-create-'));
    const out = await run(['create', flag, value, await writeGuest(dir, 'g', 256)]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(message);
  });

  it('a bad --floor is bad usage', async () => {
    const out = await run(['create', '--floor', 'web1', 'x.cfg']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--floor must be NAME=SIZE/);
    const badName = await run(['create', '--floor', 'web\u202e1=1g', 'x.cfg']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/^xenclaim: --floor NAME must be a name of 1 to 64 characters .*, got "web\\u202e1"\n/);
  });

  it('a --floor that names no domain is bad usage, and nothing is created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-create-'));
    const mock = new MockBackend({ host: { memoryMiB: 8192, dom0MiB: 1024 } });
    mock.control.addRunningGuest({ name: 'web1', memoryMiB: 1024 });
    const file = await writeGuest(dir, 'f1', 256);
    const out = await run(['create', '--floor', 'nosuch=1g', file], mock);
    expect(out.code).toBe(2);
    expect(out.stderr).toBe(`xenclaim: --floor nosuch: no domain is named "nosuch" (running: Domain-0, web1)\nRun 'xenclaim create --help' for usage.\n`);
    expect((await mock.listDomains()).map((d) => d.name)).toEqual(['Domain-0', 'web1']);
    const ok = await run(['create', '--floor', 'web1=512m', '--floor', 'Domain-0=1g', file], mock);
    expect(ok.code).toBe(0);
  });

  it('simulate plays an example scenario under every strategy', async () => {
    const out = await run(['simulate', 'examples/scenarios/b-ballooning-needed.json']);
    expect(out.code).toBe(0);
    for (const strategy of ['claim-first', 'limit-and-check', 'model']) expect(out.stdout).toContain(strategy);
    const json = await run(['--json', 'simulate', '--strategy', 'claim-first', 'examples/scenarios/b-ballooning-needed.json']);
    const report = JSON.parse(json.stdout);
    expect(report.strategy).toBe('claim-first');
    expect(report.leakedClaimPages).toBe(0);
    expect(report.requests.length).toBeGreaterThan(0);
  });

  it('simulate --strategy all plays the peer models too, labelled as models; --json has each donor\'s asks', async () => {
    const out = await run(['simulate', '--strategy', 'all', 'examples/scenarios/b-ballooning-needed.json']);
    expect(out.code).toBe(0);
    for (const label of ['claim-first', 'limit-and-check', 'model', 'xl (model)', 'xapi (model)', 'qmemman (model)']) {
      expect(out.stdout).toMatch(new RegExp(`^${label.replace(/[()]/g, '\\$&')} +[0-9.]+ +19\\.507 `, 'm'));
    }
    const json = JSON.parse((await run(['--json', 'simulate', '--strategy', 'all', 'examples/scenarios/b-ballooning-needed.json'])).stdout);
    expect(json.map((r: { strategy: string; kind: string }) => [r.strategy, r.kind])).toEqual([
      ['claim-first', 'strategy'], ['limit-and-check', 'strategy'], ['model', 'strategy'],
      ['xl', 'peer-model'], ['xapi', 'peer-model'], ['qmemman', 'peer-model'],
    ]);
    const web1 = json[0].donors.find((d: { name: string }) => d.name === 'web1');
    expect(web1.asks[0]).toMatchObject({ request: 'new3', fromMiB: 24576, kind: 'lower' });
    expect(web1.gaveMiB).toBeGreaterThan(0);
    expect(json[0].tightBoundS).toBe(19.507);
    const bad = await run(['simulate', '--strategy', 'greedy', 'examples/scenarios/b-ballooning-needed.json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are claim-first, limit-and-check, model, xl, xapi, qmemman, all/);
  });

  it('simulate names the JSON path of a bad field and exits non-zero', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-sim-'));
    const file = join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ host: { memoryMiB: 4096 }, guests: [{ name: 'g', memoryMiB: -5 }], requests: [] }));
    const out = await run(['simulate', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^xenclaim: invalid scenario: guests\[0\]\.memoryMiB: /);
  });
});

describe('xenclaim when the backend cannot be opened', () => {
  it.each([['info'], ['list'], ['claims'], ['mem-set', 'web1', '1g'], ['mem-max', 'web1', '1g'], ['destroy', 'web1']])(
    '%s fails with exit 1 and one line naming the reason',
    async (...argv) => {
      let stdout = '';
      let stderr = '';
      const io: CliIo = {
        stdout: (t) => (stdout += t),
        stderr: (t) => (stderr += t),
        openBackend: async () => {
          throw new XenError('openBackend: Xen is not reachable: not a Xen dom0 (no /dev/xen/privcmd)', { code: 'ENOENT', op: 'openBackend' });
        },
      };
      const code = await main(['--backend', 'native', ...argv], io);
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toBe('xenclaim: openBackend: Xen is not reachable: not a Xen dom0 (no /dev/xen/privcmd) [ENOENT]\n');
    },
  );

  it('a failing hypercall is exit 1 with its Xen code', async () => {
    const { mock } = hostWithGuest();
    mock.control.injectFault('setGuestMaxMem', 'EPERM');
    const out = await run(['mem-max', 'web1', '2g'], mock);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^xenclaim: .*\[EPERM\]\n$/);
  });
});

describe('xenclaim simulate --html', () => {
  it('writes the timeline page beside the table', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-html-'));
    const page = join(dir, 'b.html');
    const out = await run(['simulate', '--strategy', 'model', '--html', page, 'examples/scenarios/b-ballooning-needed.json']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('model');
    const html = await readFile(page, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<h2>model</h2>');
    expect(out.stdout).toContain(`page: ${page}`);
  });

  it('a page that cannot be written is a usage error before anything is played', async () => {
    const page = join(tmpdir(), `xenclaim-no-such-dir-${process.pid}`, 'b.html');
    const out = await run(['simulate', '--html', page, 'examples/scenarios/b-ballooning-needed.json']);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`xenclaim: --html ${page}: its directory ${dirname(page)} does not exist or is not writable`);
  });
});

describe('unreadable input files', () => {
  it.each([['simulate'], ['config'], ['create']])('%s names the file and its errno, exit 1', async (command) => {
    const missing = join(tmpdir(), `xenclaim-missing-${process.pid}.json`);
    const out = await run([command, missing]);
    expect(out.code).toBe(1);
    const op = command === 'simulate' ? 'simulate' : 'config';
    expect(out.stderr).toBe(`xenclaim: ${op}: cannot read ${missing}: ENOENT [ENOENT]\n`);
  });
});
