/** A daemon core on a persisted mock host (fast wall-clock time) with its API, for the API tests. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiOptions } from '../../src/api/server.js';
import { startDaemonCore, type DaemonCore, type DaemonCoreOptions } from '../../src/daemon/core.js';
import type { MockBackend } from '../../src/mock/backend.js';

export const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export interface ApiHarness {
  core: DaemonCore;
  app: FastifyInstance;
  mock: MockBackend;
  stateDir: string;
  close(): Promise<void>;
}

export async function openApi(options: Partial<DaemonCoreOptions> = {}, api: ApiOptions = {}): Promise<ApiHarness> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'xenclaim-api-'));
  const core = await startDaemonCore({ stateDir, backend: 'mock', mockSpeed: 100, log: silent, journalSync: false, ...options });
  const app = await buildApi(
    {
      host: core.host,
      setFloor: (name, kib) => core.setFloor(name, kib),
      recovery: () => ({ complete: core.recovery.complete, repairs: core.recovery.repairs.length }),
      journalOpenEntries: () => core.journal.openEntries().length,
    },
    api,
  );
  await app.ready();
  return {
    core, app, mock: core.backend as MockBackend, stateDir,
    close: async () => {
      await app.close();
      await core.close();
    },
  };
}

export function xlConfig(name: string, memoryMiB: number): string {
  return `name = "${name}"\nmemory = ${memoryMiB}\nvcpus = 1\nkernel = "/boot/vmlinuz"\n`;
}
