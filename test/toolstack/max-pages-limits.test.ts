/**
 * The host's one book of max_pages limits (src/toolstack/max-pages-limits.ts): the lowest limit held wins, never
 * above the original; releasing gives the next lowest or the original back; every change is an intent with its
 * reason, holder and original (what a journal needs to restore it); failures leave the book exact.
 */
import { describe, expect, it } from 'vitest';
import { XenError } from '../../src/errors.js';
import type { EventBody } from '../../src/toolstack/events.js';
import { MaxPagesLimits } from '../../src/toolstack/max-pages-limits.js';
import type { LimitMaxPagesIntent, MutationPort, RestoreMaxPagesIntent } from '../../src/toolstack/mutations.js';

type Change = (Omit<LimitMaxPagesIntent, 'kind'> & { kind: 'limit' }) | (Omit<RestoreMaxPagesIntent, 'kind'> & { kind: 'restore' });

function port(changes: Change[], fail: (kind: string, domid: number) => unknown = () => undefined): MutationPort {
  const act = (kind: 'limit' | 'restore') => async (intent: Omit<LimitMaxPagesIntent, 'kind'>): Promise<void> => {
    const error = fail(kind, intent.domid);
    if (error) throw error;
    changes.push({ kind, ...intent });
  };
  return { limitMaxPages: act('limit'), restoreMaxPages: act('restore') } as unknown as MutationPort;
}

const web = { domid: 5, name: 'web', maxKiB: 8192 };

describe('MaxPagesLimits', () => {
  it('the lowest limit held wins; releases step back up through the others to the original', async () => {
    const changes: Change[] = [];
    const events: EventBody[] = [];
    const limits = new MaxPagesLimits(port(changes), (e) => events.push(e));
    await limits.limit('batch', 'batch', null, [{ ...web, kib: 6000 }]);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, maxKiB: 6000, kib: 4000 }]);
    // A higher limit from a third holder changes nothing Xen has.
    await limits.limit('model', 'model', null, [{ ...web, kib: 7000 }]);
    expect(limits.snapshot().get(5)).toEqual({ name: 'web', limitKiB: 4000, originalKiB: 8192, holders: ['batch', 'r1', 'model'] });
    await limits.release('r1', 'r1');
    await limits.release('batch', null);
    await limits.release('model', null);
    expect(limits.snapshot().size).toBe(0);
    expect(changes).toEqual([
      { kind: 'limit', domid: 5, name: 'web', fromKiB: 8192, toKiB: 6000, originalKiB: 8192, reason: 'batch', holder: 'batch' },
      { kind: 'limit', domid: 5, name: 'web', fromKiB: 6000, toKiB: 4000, originalKiB: 8192, reason: 'donor', holder: 'r1' },
      { kind: 'restore', domid: 5, name: 'web', fromKiB: 4000, toKiB: 6000, originalKiB: 8192, reason: 'donor', holder: 'r1' },
      { kind: 'restore', domid: 5, name: 'web', fromKiB: 6000, toKiB: 7000, originalKiB: 8192, reason: 'batch', holder: 'batch' },
      { kind: 'restore', domid: 5, name: 'web', fromKiB: 7000, toKiB: 8192, originalKiB: 8192, reason: 'model', holder: 'model' },
    ]);
    expect(events.map((e) => e.type)).toEqual(['limits-set', 'limits-set', 'limits-removed', 'limits-removed', 'limits-removed']);
    expect(events[1]).toMatchObject({ request: 'r1', reason: 'donor' });
  });

  it('reads the original afresh: an observation made while another holder\'s limit stood does not become the original', async () => {
    const changes: Change[] = [];
    let xenKiB = 8192;
    const tracking: MutationPort = {
      limitMaxPages: async (i: Omit<LimitMaxPagesIntent, 'kind'>) => { changes.push({ kind: 'limit', ...i }); xenKiB = i.toKiB; },
      restoreMaxPages: async (i: Omit<RestoreMaxPagesIntent, 'kind'>) => { changes.push({ kind: 'restore', ...i }); xenKiB = i.toKiB; },
    } as unknown as MutationPort;
    const limits = new MaxPagesLimits(tracking, () => undefined, async () => xenKiB);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, kib: 6000 }]);
    const staleObservation = { ...web, maxKiB: 6000 }; // r2 looked while r1's limit stood
    await limits.release('r1', 'r1');
    await limits.limit('r2', 'donor', 'r2', [{ ...staleObservation, kib: 5000 }]);
    await limits.release('r2', 'r2');
    expect(changes.map((c) => [c.kind, c.toKiB, c.originalKiB])).toEqual([['limit', 6000, 8192], ['restore', 8192, 8192], ['limit', 5000, 8192], ['restore', 8192, 8192]]);
    expect(xenKiB).toBe(8192);
  });

  it('a holder may raise its own limit (a donor given back part of its ask), never above the original', async () => {
    const changes: Change[] = [];
    const limits = new MaxPagesLimits(port(changes), () => undefined);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, kib: 3000 }]);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, kib: 3500 }]);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, kib: 9999 }]);
    expect(changes.map((c) => [c.kind, c.toKiB])).toEqual([['limit', 3000], ['restore', 3500], ['restore', 8192]]);
  });

  it('a guest already at or below the limit is not touched', async () => {
    const changes: Change[] = [];
    const limits = new MaxPagesLimits(port(changes), () => undefined);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, maxKiB: 2048, kib: 4096 }]);
    expect(changes).toEqual([]);
    expect(limits.heldBy('r1')).toEqual([]);
  });

  it('a limit Xen refused is not in the book: the error reaches the caller, the limits before it stay', async () => {
    const changes: Change[] = [];
    const refused = new XenError('setMaxMem: EPERM', { code: 'EPERM', op: 'setMaxMem' });
    const limits = new MaxPagesLimits(port(changes, (_k, domid) => (domid === 6 ? refused : undefined)), () => undefined);
    await expect(limits.limit('batch', 'batch', null, [{ ...web, kib: 6000 }, { domid: 6, name: 'db', maxKiB: 4096, kib: 2048 }])).rejects.toBe(refused);
    expect(limits.heldBy('batch')).toEqual([5]);
    expect(limits.snapshot().has(6)).toBe(false);
  });

  it('releasing a guest that is gone (ESRCH) forgets it; one that fails twice is a cleanup-failed event, never a throw', async () => {
    const changes: Change[] = [];
    const events: EventBody[] = [];
    let failing: unknown;
    const limits = new MaxPagesLimits(port(changes, (kind) => (kind === 'restore' ? failing : undefined)), (e) => events.push(e));
    await limits.limit('r1', 'donor', 'r1', [{ ...web, kib: 4000 }]);
    failing = new XenError('setMaxMem: ESRCH', { code: 'ESRCH', op: 'setMaxMem' });
    await limits.release('r1', 'r1');
    expect(limits.snapshot().size).toBe(0);
    await limits.limit('r2', 'donor', 'r2', [{ ...web, kib: 4000 }]);
    failing = new XenError('setMaxMem: EIO', { code: 'EIO', op: 'setMaxMem' });
    await expect(limits.release('r2', 'r2')).resolves.toBeUndefined();
    expect(events.filter((e) => e.type === 'cleanup-failed')).toEqual([
      { type: 'cleanup-failed', request: 'r2', step: 'lift the max_pages limit of web (domid 5)', error: { code: 'EIO', errno: null, message: 'setMaxMem: EIO' } },
    ]);
    expect(limits.heldBy('r2')).toEqual([]);
  });

  it('transfer hands a holder\'s limits to another, keeping the lower of two', async () => {
    const changes: Change[] = [];
    const limits = new MaxPagesLimits(port(changes), () => undefined);
    await limits.limit('r1', 'donor', 'r1', [{ ...web, kib: 4000 }]);
    await limits.limit('r2', 'donor', 'r2', [{ ...web, kib: 5000 }]);
    await limits.transfer('r1', 'r2');
    expect(limits.heldBy('r1')).toEqual([]);
    await limits.release('r2', 'r2');
    expect(changes.at(-1)).toMatchObject({ kind: 'restore', toKiB: 8192 });
  });

  it('an operator\'s own change becomes the original; admitted growth raises every holder to it', async () => {
    const changes: Change[] = [];
    const limits = new MaxPagesLimits(port(changes), () => undefined);
    await limits.limit('model', 'model', null, [{ ...web, kib: 4000 }]);
    // The operator raised the target to 6000 (libxl set max_pages to 6001): the model admitted it.
    await limits.changedElsewhere(5, 6001, 6000);
    expect(limits.snapshot().get(5)).toMatchObject({ limitKiB: 6000, originalKiB: 6001 });
    await limits.release('model', null);
    expect(changes.at(-1)).toMatchObject({ kind: 'restore', toKiB: 6001, originalKiB: 6001 });
  });
});
