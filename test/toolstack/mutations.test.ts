/**
 * The mutation port (src/toolstack/mutations.ts): each intent makes exactly its backend call, a recorder sees the
 * intent before the call and the outcome after, and on a whole run of every strategy every change the host makes to
 * Xen passes the port (a journal would have seen all of them, each before it happened).
 */
import { describe, expect, it } from 'vitest';
import type { XenBackend } from '../../src/backend.js';
import { XenError } from '../../src/errors.js';
import { XenHost } from '../../src/host/xen-host.js';
import { BackendMutations, type MutationIntent, type MutationOutcome, type MutationRecorder } from '../../src/toolstack/mutations.js';
import { ALL, makeHost, request, violations } from './helpers.js';
import { snapshotMaxPages } from '../../src/simulate/invariants.js';

/** The backend methods that change Xen (the rest only read it). */
const MUTATORS = new Set([
  'claimPages', 'setMaxMem', 'createEmptyDomain', 'populatePhysmap', 'decreaseReservation', 'destroyDomain', 'pauseDomain',
  'unpauseDomain', 'tmemFreeze', 'tmemThaw', 'tmemSetCap', 'createGuest', 'destroyGuest', 'setMemoryTarget',
]);

/** A backend that records every call (as `method(args)`) into `log` and answers with `answer`. */
function fakeBackend(log: string[], answer: (method: string) => Promise<unknown> = async () => undefined): XenBackend {
  return new Proxy({} as XenBackend, {
    get: (_target, prop) => (...args: unknown[]) => {
      log.push(`${String(prop)}(${args.map((a) => JSON.stringify(a)).join(', ')})`);
      return answer(String(prop));
    },
  });
}

function recorder(log: string[], overrides: Partial<MutationRecorder> = {}): MutationRecorder & { seen: [MutationIntent, MutationOutcome][] } {
  const seen: [MutationIntent, MutationOutcome][] = [];
  return {
    seen,
    before: (intent) => {
      log.push(`before ${intent.kind}`);
    },
    after: (intent, outcome) => {
      log.push(`after ${intent.kind} ${outcome.ok ? 'ok' : 'failed'}`);
      seen.push([intent, outcome]);
    },
    ...overrides,
  };
}

describe('BackendMutations', () => {
  it('each intent makes exactly its backend call', async () => {
    const log: string[] = [];
    const port = new BackendMutations(fakeBackend(log, async (m) => (m === 'createGuest' ? 7 : undefined)));
    const config = { c_info: { name: 'g' }, b_info: {} };
    expect(await port.buildGuest({ name: 'g', claim: true, paused: false }, config)).toBe(7);
    await port.buildGuest({ name: 'g', claim: false, paused: true }, config);
    await port.destroyGuest({ domid: 3, name: 'g', reason: 'half-built' });
    await port.lowerTarget({ domid: 3, name: 'g', request: 'x', fromKiB: 4096, toKiB: 2048 });
    await port.raiseTarget({ domid: 3, name: 'g', request: null, byKiB: 1024, reason: 'restore' });
    await port.setTarget({ domid: 3, targetKiB: 512 });
    await port.cancelClaim({ domid: 4, name: 'h' });
    await port.limitMaxPages({ domid: 3, name: 'g', fromKiB: 8192, toKiB: 4096, originalKiB: 8192, reason: 'donor', holder: 'x' });
    await port.restoreMaxPages({ domid: 3, name: 'g', fromKiB: 4096, toKiB: 8192, originalKiB: 8192, reason: 'donor', holder: 'x' });
    await port.setMaxMem({ domid: 3, maxKiB: 9000 });
    await port.freezeTmem();
    await port.capTmem({ pages: 10 });
    await port.thawTmem();
    expect(log).toEqual([
      `createGuest(${JSON.stringify(config)}, {"claim":true,"paused":false})`,
      `createGuest(${JSON.stringify(config)}, {"claim":false,"paused":true})`,
      'destroyGuest(3)',
      'setMemoryTarget(3, 2048, {"enforce":false})',
      'setMemoryTarget(3, 1024, {"relative":true,"enforce":false})',
      'setMemoryTarget(3, 512)',
      'claimPages(4, 0)',
      'setMaxMem(3, 4096)',
      'setMaxMem(3, 8192)',
      'setGuestMaxMem(3, 9000)',
      'tmemFreeze()',
      'tmemSetCap(10)',
      'tmemThaw()',
    ]);
  });

  it('without a recorder the backend\'s own promise is returned (no step added)', () => {
    const promise = Promise.resolve(5);
    const port = new BackendMutations(fakeBackend([], () => promise));
    expect(port.buildGuest({ name: 'g', claim: true, paused: false }, { c_info: {}, b_info: {} })).toBe(promise);
  });

  it('a recorder sees the intent before the call and the outcome after it, success or failure', async () => {
    const log: string[] = [];
    const rec = recorder(log);
    const failing = new XenError('setMaxMem: EPERM (no)', { code: 'EPERM', op: 'setMaxMem' });
    const port = new BackendMutations(
      fakeBackend(log, async (m) => {
        if (m === 'setMaxMem') throw failing;
        return m === 'createGuest' ? 9 : undefined;
      }),
      rec,
    );
    expect(await port.buildGuest({ name: 'g', claim: true, paused: false }, { c_info: {}, b_info: {} })).toBe(9);
    await expect(port.limitMaxPages({ domid: 2, name: 'w', fromKiB: 2, toKiB: 1, originalKiB: 2, reason: 'batch', holder: 'batch' })).rejects.toBe(failing);
    expect(log).toEqual([
      'before build-guest',
      'createGuest({"c_info":{},"b_info":{}}, {"claim":true,"paused":false})',
      'after build-guest ok',
      'before limit-max-pages',
      'setMaxMem(2, 1)',
      'after limit-max-pages failed',
    ]);
    expect(rec.seen[0]).toEqual([{ kind: 'build-guest', name: 'g', claim: true, paused: false }, { ok: true, domid: 9 }]);
    expect(rec.seen[1]![1]).toEqual({ ok: false, error: failing });
  });

  it('a recorder that cannot record the intent stops the change; one that cannot note the outcome does not undo it', async () => {
    const log: string[] = [];
    const journalFull = new Error('journal: disk full');
    const refusing = new BackendMutations(fakeBackend(log), recorder(log, { before: async () => Promise.reject(journalFull) }));
    await expect(refusing.lowerTarget({ domid: 1, name: 'a', request: null, fromKiB: 2, toKiB: 1 })).rejects.toBe(journalFull);
    expect(log).toEqual([]);
    const forgetful = new BackendMutations(fakeBackend(log), recorder(log, { after: () => { throw new Error('lost'); } }));
    await expect(forgetful.thawTmem()).resolves.toBeUndefined();
    expect(log).toEqual(['before thaw-tmem', 'tmemThaw()']);
  });
});

describe.each(ALL)('%s: every change to Xen passes the port', (strategy) => {
  it('ballooning, a stuck donor and a limit or two: each backend mutation comes right after its intent', async () => {
    // 4984 MiB free: a (2048) fits at once, b (4096) only after ballooning, with the stuck donor found out.
    const host = makeHost(16384, 1024, [
      { name: 'd1', memoryMiB: 4096, minMiB: 1024, balloonMiBps: 1024 },
      { name: 'd2', memoryMiB: 4096, minMiB: 1024, balloonMiBps: 1024 },
      { name: 'stuck', memoryMiB: 2048, minMiB: 512, cooperative: false },
    ]);
    host.baseline = await snapshotMaxPages(host.backend);
    const log: string[] = [];
    // What reaches the mock host, seen from outside the toolstack.
    const watched = new Proxy(host.backend, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof prop !== 'string' || !MUTATORS.has(prop) || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          log.push(`backend ${prop}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const rec = recorder(log);
    const xen = new XenHost({ backend: watched, clock: host.clock, strategy, floorsKiB: host.floorsKiB, recorder: rec });
    const results = await host.clock.run(xen.createGuests([request('a', 2048), request('b', 4096)]));
    await host.backend.control.settle();
    expect(results.map((r) => r.ok)).toEqual([true, true]);

    const calls = log.filter((l) => l.startsWith('backend '));
    expect(calls.length).toBeGreaterThan(3);
    expect(calls).toContain('backend setMemoryTarget');
    // Every strategy limits its donors' max_pages to their lowered targets while the request depends on them.
    expect(calls).toContain('backend setMaxMem');
    // Every backend mutation was announced: the entry just before it (among its own kind) is its intent.
    const backendFor: Record<string, string> = {
      'build-guest': 'createGuest', 'lower-target': 'setMemoryTarget', 'raise-target': 'setMemoryTarget',
      'limit-max-pages': 'setMaxMem', 'restore-max-pages': 'setMaxMem',
    };
    let pending: string[] = [];
    for (const line of log) {
      if (line.startsWith('before ')) pending.push(backendFor[line.slice(7)]!);
      else if (line.startsWith('backend ')) {
        const i = pending.indexOf(line.slice(8));
        expect(i, `${line} without an intent before it`).toBeGreaterThanOrEqual(0);
        pending.splice(i, 1);
      }
    }
    expect(pending).toEqual([]);
    expect(rec.seen.length).toBe(calls.length);
    expect(await violations(host)).toEqual([]);
  });
});
