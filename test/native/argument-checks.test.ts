/**
 * Bad input is refused in TypeScript with EINVAL naming the argument and its range, before any addon call. The
 * addon sits behind a recorder: a single recorded call would mean a check came too late. (Without Xen any addon
 * call would also fail with ENOENT instead of EINVAL.)
 */
import { describe, expect, it } from 'vitest';
import type { LibxlDomainConfig, XenBackend } from '../../src/backend.js';
import { XenError } from '../../src/errors.js';
import { NativeBackend } from '../../src/native/backend.js';
import { loadAddon, recordingBinding } from './helpers.js';

const BAD_DOMIDS: unknown[] = [-1, 0.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, 0x7ff0, 0x7ff2, '0', null, undefined, 1n];
const BAD_COUNTS: unknown[] = [-1, 1.5, 2 ** 53, Number.NaN, Number.NEGATIVE_INFINITY, '1', null, undefined, {}];

function backendWithRecorder(): { backend: XenBackend; calls: string[] } {
  const { binding, calls } = recordingBinding(loadAddon());
  return { backend: new NativeBackend(binding), calls };
}

async function expectEinval(run: () => Promise<unknown>, op: string, argument: string): Promise<XenError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  expect(caught, `${op} should reject`).toBeInstanceOf(XenError);
  const error = caught as XenError;
  expect(error.code).toBe('EINVAL');
  expect(error.errno).toBe(22);
  expect(error.op).toBe(op);
  expect(error.message).toContain(argument);
  return error;
}

const GOOD_CONFIG: LibxlDomainConfig = { c_info: { type: 'pv', name: 'guest' }, b_info: { max_memkb: 131072, target_memkb: 131072 } };

type Case = [op: string, argument: string, run: (b: XenBackend) => Promise<unknown>];

const cases: Case[] = [];
for (const domid of BAD_DOMIDS) {
  const d = domid as number;
  cases.push(
    ['getDomain', 'domid', (b) => b.getDomain(d)],
    ['claimPages', 'domid', (b) => b.claimPages(d, 1)],
    ['setMaxMem', 'domid', (b) => b.setMaxMem(d, 1024)],
    ['populatePhysmap', 'domid', (b) => b.populatePhysmap(d, 1)],
    ['decreaseReservation', 'domid', (b) => b.decreaseReservation(d, 1)],
    ['destroyDomain', 'domid', (b) => b.destroyDomain(d)],
    ['pauseDomain', 'domid', (b) => b.pauseDomain(d)],
    ['unpauseDomain', 'domid', (b) => b.unpauseDomain(d)],
    ['destroyGuest', 'domid', (b) => b.destroyGuest(d)],
    ['setMemoryTarget', 'domid', (b) => b.setMemoryTarget(d, 1024)],
  );
}
for (const count of BAD_COUNTS) {
  const n = count as number;
  cases.push(
    ['claimPages', 'pages', (b) => b.claimPages(1, n)],
    ['setMaxMem', 'maxKiB', (b) => b.setMaxMem(1, n)],
    ['populatePhysmap', 'pages', (b) => b.populatePhysmap(1, n)],
    ['decreaseReservation', 'pages', (b) => b.decreaseReservation(1, n)],
    ['tmemSetCap', 'pages', (b) => b.tmemSetCap(n)],
    ['setMemoryTarget', 'targetKiB', (b) => b.setMemoryTarget(1, n)],
  );
}
cases.push(
  ['createEmptyDomain', 'options', (b) => b.createEmptyDomain(undefined as never)],
  ['createEmptyDomain', 'options', (b) => b.createEmptyDomain('pv' as never)],
  ['createEmptyDomain', 'options.type', (b) => b.createEmptyDomain({ type: 'hvm' as never })],
  ['createEmptyDomain', 'options.type', (b) => b.createEmptyDomain({} as never)],
  ['createEmptyDomain', 'options.vcpus', (b) => b.createEmptyDomain({ type: 'pv', vcpus: 0 })],
  ['createEmptyDomain', 'options.vcpus', (b) => b.createEmptyDomain({ type: 'pvh', vcpus: 129 })],
  ['createEmptyDomain', 'options.vcpus', (b) => b.createEmptyDomain({ type: 'pv', vcpus: 1.5 })],
  ['createEmptyDomain', 'options.vcpus', (b) => b.createEmptyDomain({ type: 'pv', vcpus: Number.NaN })],
  // A relative target may be negative, but must still be a safe integer.
  ['setMemoryTarget', 'targetKiB', (b) => b.setMemoryTarget(1, -(2 ** 53), { relative: true })],
  ['setMemoryTarget', 'targetKiB', (b) => b.setMemoryTarget(1, 0.5, { relative: true })],
  ['setMemoryTarget', 'targetKiB', (b) => b.setMemoryTarget(1, -1)],
  ['setMemoryTarget', 'options.relative', (b) => b.setMemoryTarget(1, 1024, { relative: 'yes' as never })],
  ['setMemoryTarget', 'options.enforce', (b) => b.setMemoryTarget(1, 1024, { enforce: 1 as never })],
  ['setMemoryTarget', 'options', (b) => b.setMemoryTarget(1, 1024, null as never)],
  ['createGuest', 'config', (b) => b.createGuest(undefined as never)],
  ['createGuest', 'config', (b) => b.createGuest([] as never)],
  ['createGuest', 'config.c_info', (b) => b.createGuest({ b_info: {} } as never)],
  ['createGuest', 'config.b_info', (b) => b.createGuest({ c_info: {}, b_info: 'x' } as never)],
  ['createGuest', 'config.c_info.type', (b) => b.createGuest({ c_info: { type: 'xen' }, b_info: {} } as never)],
  ['createGuest', 'config.c_info.type', (b) => b.createGuest({ c_info: { name: 'g' }, b_info: {} })],
  ['createGuest', 'config.c_info.name', (b) => b.createGuest({ c_info: { type: 'pv', name: '' }, b_info: {} })],
  ['createGuest', 'config.c_info.name', (b) => b.createGuest({ c_info: { type: 'pv', name: 'a b' }, b_info: {} })],
  ['createGuest', 'config.c_info.name', (b) => b.createGuest({ c_info: { type: 'pv', name: 42 as never }, b_info: {} })],
  ['createGuest', 'config.c_info.name', (b) => b.createGuest({ c_info: { type: 'pv' }, b_info: {} })],
  ['createGuest', 'config.b_info.max_memkb', (b) => b.createGuest({ c_info: { type: 'pv', name: 'g' }, b_info: { max_memkb: -1 } })],
  ['createGuest', 'config.b_info.target_memkb', (b) => b.createGuest({ c_info: { type: 'pv', name: 'g' }, b_info: { target_memkb: 2 ** 53 } })],
  ['createGuest', 'config.b_info.target_memkb', (b) => b.createGuest({ c_info: { type: 'pv', name: 'g' }, b_info: { target_memkb: 2048, max_memkb: 1024 } })],
  ['createGuest', 'config.b_info.max_vcpus', (b) => b.createGuest({ c_info: { type: 'pv', name: 'g' }, b_info: { max_vcpus: 0 } })],
  ['createGuest', 'config.b_info.claim_mode', (b) => b.createGuest({ c_info: { type: 'pv', name: 'g' }, b_info: { claim_mode: 'yes' as never } })],
  ['createGuest', 'config.b_info', (b) => b.createGuest({ c_info: { type: 'pv', name: 'g' }, b_info: { 'type.hvm': {} } })],
  ['createGuest', 'options.claim', (b) => b.createGuest(GOOD_CONFIG, { claim: 'true' as never })],
  ['createGuest', 'options.paused', (b) => b.createGuest(GOOD_CONFIG, { paused: 0 as never })],
  ['createGuest', 'options', (b) => b.createGuest(GOOD_CONFIG, 'paused' as never)],
  ['needMemoryKiB', 'config', (b) => b.needMemoryKiB(null as never)],
  ['needMemoryKiB', 'config.c_info', (b) => b.needMemoryKiB({ c_info: null, b_info: {} } as never)],
  ['needMemoryKiB', 'config.b_info', (b) => b.needMemoryKiB({ c_info: {} } as never)],
);

describe('NativeBackend argument checks (before any addon call)', () => {
  it.each(cases.map(([op, argument, run], i) => [i, op, argument, run] as const))(
    '#%i %s rejects a bad %s with EINVAL',
    async (_i, op, argument, run) => {
      const { backend, calls } = backendWithRecorder();
      await expectEinval(() => run(backend), op, argument);
      expect(calls).toEqual([]);
    },
  );

  it('names the accepted range in the message', async () => {
    const { backend } = backendWithRecorder();
    const error = await expectEinval(() => backend.claimPages(1, -1), 'claimPages', 'pages');
    expect(error.message).toBe('claimPages: pages must be an integer from 0 to 9007199254740991, got -1');
    const domidError = await expectEinval(() => backend.getDomain(0x7ff0), 'getDomain', 'domid');
    expect(domidError.message).toBe('getDomain: domid must be an integer from 0 to 32751, got 32752');
  });

  it('the raw addon guards itself too when called directly with garbage (no crash, no Xen call)', () => {
    const addon = loadAddon();
    expect(() => addon.claimPages(-1, 0)).toThrowError(RangeError);
    expect(() => addon.claimPages(0, 2 ** 53)).toThrowError(/pages must be an integer/);
    expect(() => addon.getDomainInfo('1' as never)).toThrowError(TypeError);
    expect(() => (addon.populatePhysmap as unknown as () => unknown)()).toThrowError(/domid must be a number/);
    expect(() => addon.createEmptyDomain('hvm' as never, 1)).toThrowError(/type must be 'pv' or 'pvh'/);
    expect(() => addon.tmemControl('drop' as never)).toThrowError(RangeError);
  });
});
