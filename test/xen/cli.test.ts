/**
 * Real Xen: the operator's path, through the `xenclaim` CLI and an xl.cfg file (not through the backend directly):
 * create the tiny PV guest, `list` shows it with xl's numbers, `mem-set` balloons it down and up and the guest
 * follows, `destroy` gives the memory back. Runs in the nested-Xen harness; skips visibly elsewhere.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { main, type CliIo } from '../../src/cli/main.js';
import { isXenError } from '../../src/errors.js';
import {
  announceSkip, GUEST_KERNEL, GUEST_RAMDISK, guestConsoleLog, guestImageSkipReason, PAGES_PER_MIB, openXen, waitFor, xenSkipReason,
  xlList,
} from './xen-env.js';

const GUEST_MIB = 256;
const SMALL_MIB = 128;
const SLACK_PAGES = 4 * PAGES_PER_MIB;

function skipReason(): string | undefined {
  return xenSkipReason() ?? guestImageSkipReason();
}

async function xenclaim(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const { openBackend } = await import('../../src/index.js');
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), openBackend };
  const code = await main(['--backend', 'native', ...argv], io);
  return { code, stdout, stderr };
}

describe('real Xen: the xenclaim CLI on an xl.cfg guest', () => {
  const reason = skipReason();
  let xen: XenBackend | undefined;
  const name = `xenclaim-cli-${process.pid}`;

  beforeAll(async () => {
    announceSkip('test/xen/cli.test.ts', reason);
    if (reason === undefined) xen = await openXen();
  });
  beforeEach((context) => {
    if (reason !== undefined) context.skip(reason);
  });
  afterAll(async () => {
    // Whatever happened, leave no guest behind.
    const left = (await xen?.listDomains())?.find((d) => d.name === name);
    if (left) await xen!.destroyGuest(left.domid).catch(() => undefined);
    await xen?.close();
  });

  it('create, list, mem-set down and up, destroy', { timeout: 600_000 }, async () => {
    const x = xen as XenBackend;
    const dir = await mkdtemp(join(tmpdir(), 'xenclaim-cli-xen-'));
    const cfg = join(dir, `${name}.cfg`);
    await writeFile(
      cfg,
      [
        `name = "${name}"`,
        'type = "pv"',
        `memory = ${GUEST_MIB}`,
        'vcpus = 1',
        `kernel = "${GUEST_KERNEL}"`,
        `ramdisk = "${GUEST_RAMDISK}"`,
        'extra = "console=hvc0 loglevel=4"',
        'on_crash = "destroy"',
        '',
      ].join('\n'),
    );
    const before = await x.physinfo();

    const created = await xenclaim('create', cfg);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`${name}: running as domain \\d+`));
    expect((await x.physinfo()).outstandingPages).toBe(0);

    const listed = await xenclaim('list');
    expect(listed.code).toBe(0);
    const ours = listed.stdout.split('\n').find((line) => line.startsWith(`${name} `));
    expect(ours, listed.stdout).toBeDefined();
    const [, domidText, memText] = /^\S+\s+(\d+)\s+(\d+)\s/.exec(ours!)!;
    const xlRow = (await xlList()).find((row) => row.name === name);
    expect(xlRow).toBeDefined();
    expect(Number(domidText)).toBe(xlRow!.domid);
    expect(Number(memText)).toBe(xlRow!.memMiB);
    const domid = xlRow!.domid;

    await waitFor(`guest ${name} to say it is up`, async () => guestConsoleLog(name), (log) => log.includes('xenclaim-guest: up'), 240_000, 1000);

    expect((await xenclaim('mem-set', name, `${SMALL_MIB}m`)).code).toBe(0);
    await waitFor(`guest ${name} to balloon down`, () => x.getDomain(domid), (d) => d.totPages <= SMALL_MIB * PAGES_PER_MIB + SLACK_PAGES, 120_000, 1000);
    expect((await xenclaim('mem-set', String(domid), String(GUEST_MIB))).code).toBe(0);
    await waitFor(`guest ${name} to balloon up`, () => x.getDomain(domid), (d) => d.totPages >= GUEST_MIB * PAGES_PER_MIB - SLACK_PAGES, 120_000, 1000);
    expect(guestConsoleLog(name)).not.toMatch(/Kernel panic|System is deadlocked/);

    expect((await xenclaim('destroy', name)).code).toBe(0);
    await waitFor(
      `guest ${domid} to disappear`,
      () => x.getDomain(domid).then(() => 'present', (e: unknown) => (isXenError(e, 'ESRCH') ? 'gone' : String(e))),
      (state) => state === 'gone',
      60_000,
    );
    await waitFor('the memory to come back', async () => (await x.physinfo()).freePages, (free) => free >= before.freePages - PAGES_PER_MIB, 60_000);
    const gone = await xenclaim('mem-set', name, '128m');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/does not exist \[ESRCH\]/);
  });
});
