/**
 * A persisted mock host outlives the backend driving it: a second MockBackend on the same file finds the same
 * domains, claims, targets and max_pages; running guests go on; a build cut off half-way leaves its domain as libxl
 * would after a crash (paused, part-populated, claim outstanding).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScaledClock, VirtualClock } from '../../src/clock.js';
import { MockBackend } from '../../src/mock/backend.js';
import type { LibxlDomainConfig } from '../../src/backend.js';

function stateFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'xenclaim-mock-')), 'host.json');
}

function pvConfig(name: string, mib: number): LibxlDomainConfig {
  return { c_info: { type: 'pv', name }, b_info: { max_vcpus: 1, max_memkb: mib * 1024, target_memkb: mib * 1024 } };
}

describe('a persisted mock host', () => {
  it('a second backend on the same file finds the same domains, claims, targets and max_pages', async () => {
    const file = stateFile();
    const clock = new VirtualClock();
    const first = new MockBackend({ host: { memoryMiB: 8192 }, clock, stateFile: file });
    const web = first.control.addRunningGuest({ name: 'web1', memoryMiB: 1024, maxMiB: 2048 });
    await first.setMemoryTarget(web, 512 * 1024, { enforce: false });
    await first.setMaxMem(0, 900 * 1024);
    const empty = await first.createEmptyDomain({ type: 'pv' });
    await first.setMaxMem(empty, 64 * 1024);
    await first.claimPages(empty, 1000);
    const before = await first.listDomains();
    const physBefore = await first.physinfo();
    await first.close();

    const second = new MockBackend({ host: { memoryMiB: 1024 }, clock: new VirtualClock(), stateFile: file });
    expect(second.hostSpec.memoryMiB).toBe(8192);
    const after = await second.listDomains();
    expect(after.map(({ cpuTimeNs: _c, ...rest }) => rest)).toEqual(before.map(({ cpuTimeNs: _c, ...rest }) => rest));
    expect(await second.physinfo()).toEqual(physBefore);
    expect(second.control.accounting().imbalancePages).toBe(0);
    // The guest's balloon driver goes on towards the target it had.
    await second.control.settle();
    expect((await second.getDomain(web)).totPages).toBe(512 * 256);
    // A new domid follows the last one given, as on a hypervisor that kept running.
    expect(await second.createEmptyDomain({ type: 'pv' })).toBe(empty + 1);
    await second.close();
  });

  it('saves every call before its caller goes on: a crash right after a call keeps it', async () => {
    const file = stateFile();
    const first = new MockBackend({ clock: new VirtualClock(), stateFile: file });
    await first.setMemoryTarget(0, 900 * 1024, { enforce: false });
    first.crashForTest();
    const second = new MockBackend({ clock: new VirtualClock(), stateFile: file });
    expect((await second.getDomain(0)).targetKiB).toBe(900 * 1024);
    await second.close();
  });

  it('a build cut off half-way by a crash leaves a paused, part-populated domain with its claim', async () => {
    const file = stateFile();
    const clock = new ScaledClock(50);
    const first = new MockBackend({ host: { memoryMiB: 16384, guestDefaults: { buildMiBps: 64 } }, clock, stateFile: file });
    const build = first.createGuest(pvConfig('half', 512));
    build.catch(() => undefined);
    for (let i = 0; i < 200; i++) {
      const half = (await first.listDomains()).find((d) => d.name === 'half');
      if (half && half.totPages > 0) break;
      await clock.sleep(100);
    }
    first.crashForTest();
    const second = new MockBackend({ clock: new VirtualClock(), stateFile: file });
    const half = (await second.listDomains()).find((d) => d.name === 'half');
    expect(half).toBeDefined();
    expect(half!.paused).toBe(true);
    expect(half!.totPages).toBeGreaterThan(0);
    expect(half!.totPages).toBeLessThan(512 * 256);
    expect(half!.outstandingPages).toBe(512 * 256 - half!.totPages);
    expect(second.control.guestState(half!.domid)).toBeUndefined();
    await second.close();
  });

  it('refuses a file that is not a saved host, naming it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'xenclaim-mock-')), 'bad.json');
    writeFileSync(file, '{"format":"other"}');
    expect(() => new MockBackend({ stateFile: file })).toThrow(/bad\.json is not a saved mock host/);
  });
});
