/**
 * Real Xen: the mock's memory need equals libxl's. For each config of the table (test/helpers/libxl-need-table.ts:
 * PV, PVH, HVM; shadow_memory, video RAM, stub domains, passthrough, many vCPUs, large memory), xl's JSON of it
 * goes to the native needMemoryKiB (Xen 4.17's libxl_domain_need_memory) and to the mock's; both must agree, and
 * agree with the values recorded in the table. The table printed here (libxl vs mock) is where those values come from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { parseGuestConfig, xlHostFromPhysinfo, type XlHost } from '../../src/config/index.js';
import { MockBackend } from '../../src/mock/backend.js';
import { NEED_TABLE, needOrError } from '../helpers/libxl-need-table.js';
import { announceSkip, openXen, xenSkipReason } from './xen-env.js';

const skipReason = xenSkipReason();

describe.skipIf(skipReason !== undefined)("real Xen: the mock's memory need is libxl_domain_need_memory's", () => {
  let xen: XenBackend;
  let host: XlHost;
  const mock = new MockBackend();
  const rows: string[] = [];

  beforeAll(async () => {
    xen = await openXen();
    host = xlHostFromPhysinfo(await xen.physinfo());
  });
  afterAll(async () => {
    console.log(`libxl_domain_need_memory vs the mock (KiB):\n${rows.join('\n')}`);
    await xen?.close();
    await mock.close();
  });

  for (const c of NEED_TABLE) {
    it(`${c.name}: ${c.why}`, async () => {
      const { config } = parseGuestConfig(c.config, `${c.name}.cfg`, { host });
      const libxl = await needOrError(xen, config);
      const mine = await needOrError(mock, config);
      rows.push(`${c.name}\tlibxl ${libxl}\tmock ${mine}\t${libxl === mine ? 'equal' : 'DIFFERENT'}`);
      expect(mine, `${c.name}: the mock's need`).toBe(libxl);
      expect(libxl, `${c.name}: the value recorded in the table`).toBe('needKiB' in c.libxl ? c.libxl.needKiB : c.libxl.error);
    });
  }
});

announceSkip('test/xen/need-memory.test.ts', skipReason);
