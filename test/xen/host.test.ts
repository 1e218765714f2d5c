/**
 * Real Xen: the native backend's view of the host and its domains agrees with what `xl` prints.
 * xl is the independent witness: it reads the same hypercalls through its own code (tools/xl/xl_info.c).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { isXenError } from '../../src/errors.js';
import { PAGES_PER_MIB, announceSkip, openXen, xenSkipReason, xlInfo, xlInfoNumber, xlList } from './xen-env.js';

const skipReason = xenSkipReason();

describe('real Xen: host and domain queries agree with xl', () => {
  let xen: XenBackend;

  beforeAll(async () => {
    announceSkip('test/xen/host.test.ts', skipReason);
    if (skipReason === undefined) xen = await openXen();
  });
  afterAll(async () => {
    await xen?.close();
  });
  beforeEach((context) => {
    if (skipReason !== undefined) context.skip(skipReason);
  });

  it('physinfo matches xl info (total, free, outstanding, cpus, nodes, MHz)', async () => {
    const before = await xen.physinfo();
    const info = await xlInfo();
    const after = await xen.physinfo();

    // xl_info.c: total_memory = total_pages / 256; free_memory = (free_pages - outstanding_pages) / 256.
    expect(xlInfoNumber(info, 'total_memory')).toBe(Math.floor(before.totalPages / PAGES_PER_MIB));
    expect(after.totalPages).toBe(before.totalPages);
    const headroom = [before, after].map((p) => Math.floor((p.freePages - p.outstandingPages) / PAGES_PER_MIB));
    expect(xlInfoNumber(info, 'free_memory')).toBeGreaterThanOrEqual(Math.min(...headroom));
    expect(xlInfoNumber(info, 'free_memory')).toBeLessThanOrEqual(Math.max(...headroom));
    expect(xlInfoNumber(info, 'outstanding_claims')).toBe(Math.floor(before.outstandingPages / PAGES_PER_MIB));
    expect(xlInfoNumber(info, 'nr_cpus')).toBe(before.nrCpus);
    expect(xlInfoNumber(info, 'nr_nodes')).toBe(before.nrNodes);
    // xl prints cpu_khz as "%d.%03d" MHz.
    expect(info.get('cpu_mhz')).toBe(`${Math.floor(before.cpuKhz / 1000)}.${String(before.cpuKhz % 1000).padStart(3, '0')}`);
    expect(before.scrubPages).toBe(0);
    expect(before.freePages).toBeLessThanOrEqual(before.totalPages);
  });

  it('xenVersion matches xl info', async () => {
    const version = await xen.xenVersion();
    const info = await xlInfo();
    expect(version.major).toBe(xlInfoNumber(info, 'xen_major'));
    expect(version.minor).toBe(xlInfoNumber(info, 'xen_minor'));
    expect(version.extra).toBe(info.get('xen_extra'));
    expect(`${version.major}.${version.minor}${version.extra}`).toBe(info.get('xen_version'));
  });

  it("xenclaim info prints the hypervisor's version as xl does, and an addon built for that Xen", async () => {
    const run = async (...argv: string[]): Promise<string> => {
      let stdout = '';
      const { openBackend } = await import('../../src/index.js');
      const io: CliIo = { stdout: (t) => (stdout += t), stderr: () => undefined, openBackend };
      expect(await main(['--backend', 'native', ...argv], io)).toBe(0);
      return stdout;
    };
    const info = await xlInfo();
    const text = await run('info');
    expect(text).toContain(`xen_version            : ${info.get('xen_version')}\n`);
    const xenctrl = /^addon_xenctrl\s+: (\d+)\.(\d+)\.\d+ \(domctl interface (0x[0-9a-f]+)/m.exec(text);
    expect(xenctrl, text).not.toBeNull();
    expect([Number(xenctrl![1]), Number(xenctrl![2])]).toEqual([xlInfoNumber(info, 'xen_major'), xlInfoNumber(info, 'xen_minor')]);
    expect(text).toMatch(/^addon_xenlight\s+: \d+\.\d+\.\d+ \(LIBXL_API_VERSION 0x041400\)$/m);
    const json = JSON.parse(await run('--json', 'info')) as { xenVersion: { major: number; minor: number }; addon: { domctlInterfaceVersion: number } };
    expect(json.xenVersion.minor).toBe(xlInfoNumber(info, 'xen_minor'));
    expect(json.addon.domctlInterfaceVersion).toBe(Number(xenctrl![3]));
  });

  it('advertises claims and no tmem (removed in Xen 4.13)', () => {
    expect(xen.features.claims).toBe(true);
    expect(xen.features.tmem).toBe(false);
  });

  it('listDomains matches xl list (domids, memory, vcpus, names)', async () => {
    const rows = await xlList();
    const domains = await xen.listDomains();
    // libxl_list_domain lists every domain Xen reports, dying ones included.
    expect(domains.map((d) => d.domid).sort((a, b) => a - b)).toEqual(rows.map((r) => r.domid).sort((a, b) => a - b));
    for (const row of rows) {
      const domain = domains.find((d) => d.domid === row.domid);
      expect(domain, `domain ${row.domid} from xl list`).toBeDefined();
      if (domain === undefined) continue;
      // xl list's Mem column is (current + outstanding) in MiB (libxl_list_domain: current_memkb + outstanding_memkb).
      expect(row.memMiB).toBe(Math.floor((domain.totPages + domain.outstandingPages) / PAGES_PER_MIB));
      expect(row.vcpus).toBe(domain.onlineVcpus);
      if (domain.name !== undefined) expect(domain.name).toBe(row.name);
    }
    const dom0 = domains.find((d) => d.domid === 0);
    expect(dom0?.totPages).toBeGreaterThan(0);
    expect(dom0?.hvm).toBe(false);
  });

  it('getDomain(0) is dom0 and agrees with listDomains; an unknown domid is ESRCH', async () => {
    const dom0 = await xen.getDomain(0);
    const listed = (await xen.listDomains()).find((d) => d.domid === 0);
    expect(dom0.domid).toBe(0);
    expect(dom0.maxPages).toBe(listed?.maxPages);
    expect(dom0.onlineVcpus).toBe(listed?.onlineVcpus);
    const error = await xen.getDomain(31_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isXenError(error, 'ESRCH'), `getDomain(31000) rejected with ${String(error)}`).toBe(true);
  });
});
