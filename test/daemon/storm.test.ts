/**
 * A storm through the API: 100 creations from 10 concurrent clients over the daemon's socket, on a host where they
 * fit only once donors balloon. Every guest starts, one brain balloons (rounds counted host-wide), and afterwards
 * every invariant holds: no claim, no max_pages left lowered, no half-built domain, the books balanced, the journal
 * empty.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { callDaemon } from '../../src/api/client.js';
import { startDaemon } from '../../src/daemon/serve.js';
import { snapshotMaxPages, checkHostInvariants } from '../../src/simulate/invariants.js';
import { startDaemonCore } from '../../src/daemon/core.js';
import type { MockBackend } from '../../src/mock/backend.js';
import { silent, xlConfig } from '../api/helpers.js';

it('100 creations from 10 concurrent clients, ballooning needed: all start and every invariant holds', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xenclaim-storm-'));
  const stateDir = join(dir, 'state');
  // Set the host up first (a daemon core on the state directory), then serve it.
  // 8192 MiB: Xen 72, dom0 1024 (floor 512), two donors of 2048 (floor 256) → ~3000 MiB free; 100 × 66 MiB needed.
  const setup = await startDaemonCore({ stateDir, backend: 'mock', mockHost: { memoryMiB: 8192, dom0MiB: 1024 }, log: silent, journalSync: false });
  const mock = setup.backend as MockBackend;
  for (const name of ['d1', 'd2']) {
    mock.control.addRunningGuest({ name, memoryMiB: 2048, balloonMiBps: 1024 });
    setup.setFloor(name, 256 * 1024);
  }
  const baseline = await snapshotMaxPages(mock);
  await setup.close();
  const daemon = await startDaemon({
    socket: join(dir, 'xenclaim.sock'), stateDir, backend: 'mock', mockSpeed: 50, strategy: 'claim-first', maxConcurrentCreates: 16,
    maxStartsPerS: 0, maxBodyBytes: 1 << 20, requestTimeoutS: 30, donorGraceS: 30, policy: { dom0MinKiB: 512 * 1024 }, logLevel: 'silent',
  });
  try {
    const clients = Array.from({ length: 10 }, async (_, c) => {
      const results: { name: string; ok: boolean; error: unknown }[] = [];
      for (let i = 0; i < 10; i++) {
        const answer = await callDaemon<{ results: { name: string; ok: boolean; error: unknown }[] }>(daemon.socket, 'POST', '/v1/domains', { guests: [{ xl: xlConfig(`s${c}-${i}`, 64) }] });
        expect(answer.status).toBe(200);
        results.push(...answer.body.results);
      }
      return results;
    });
    const results = (await Promise.all(clients)).flat();
    expect(results.length).toBe(100);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const host = (await callDaemon<{ journalOpenEntries: number; guestsBuilding: string[] }>(daemon.socket, 'GET', '/v1/host')).body;
    expect(host.journalOpenEntries).toBe(0);
  } finally {
    await daemon.close();
  }
  // The host outlives the daemon: look at it as it was left.
  const after = await startDaemonCore({ stateDir, backend: 'mock', mockSpeed: 1000, log: silent, journalSync: false });
  const left = after.backend as MockBackend;
  const domains = await left.listDomains();
  expect(domains.filter((d) => d.name?.startsWith('s')).length).toBe(100);
  expect(domains.find((d) => d.name === 'd1')!.totPages).toBeLessThan(2048 * 256);
  // max_pages of dom0 and the donors is what it was (ballooning never touches it); guests got libxl's.
  expect(await checkHostInvariants(left, baseline)).toEqual([]);
  expect(after.journal.empty).toBe(true);
  expect(after.recovery.repairs).toEqual([]);
  await after.close();
});
