/** The journal: intent before, outcome after, closed when the request settles; what a crash leaves is replayed. */
import { appendFileSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPACT_LINES, FileJournal } from '../../src/journal/file-journal.js';
import type { MutationIntent } from '../../src/toolstack/mutations.js';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'xenclaim-journal-'));
}

const lower = (request: string | null, domid = 1): MutationIntent => ({ kind: 'lower-target', domid, name: 'web', request, fromKiB: 2048, toKiB: 1024 });

describe('FileJournal', () => {
  it('writes the intent before and the outcome after; a settled request leaves the file empty', async () => {
    const d = dir();
    const journal = new FileJournal(d);
    const intent = lower('g');
    await journal.before(intent);
    const line = JSON.parse(readFileSync(journal.path, 'utf8').trim()) as { t: string; intent: unknown };
    expect(line).toMatchObject({ t: 'intent', seq: 1, intent });
    await journal.after(intent, { ok: true });
    expect(journal.openEntries()).toMatchObject([{ seq: 1, outcome: 'ok', intent }]);
    await journal.settled('g');
    expect(journal.empty).toBe(true);
    expect(statSync(journal.path).size).toBe(0);
    await journal.closeFile();
  });

  it('what a crash leaves open is there when it is opened again; a torn last line is ignored', async () => {
    const d = dir();
    const first = new FileJournal(d);
    const build: MutationIntent = { kind: 'build-guest', name: 'g', claim: true, paused: false };
    await first.before(lower('g'));
    await first.before(build);
    await first.closeFile();
    appendFileSync(join(d, 'journal.log'), '{"t":"outcome","se');
    const second = new FileJournal(d);
    expect(second.openEntries().map((e) => [e.intent.kind, e.outcome])).toEqual([['lower-target', 'pending'], ['build-guest', 'pending']]);
    await second.recovered();
    expect(second.empty).toBe(true);
    expect(new FileJournal(d).openEntries()).toEqual([]);
  });

  it('a raise is written with the target it expects, from the last lowering it saw', async () => {
    const journal = new FileJournal(dir());
    const down = lower('g');
    await journal.before(down);
    await journal.after(down, { ok: true });
    await journal.before({ kind: 'raise-target', domid: 1, name: 'web', request: 'g', byKiB: 512, reason: 'restore' });
    expect(journal.openEntries()[1]).toMatchObject({ expectTargetKiB: { from: 1024, to: 1536 } });
  });

  it('limits stay open until lifted; batch lowerings until idle; operator changes close on their outcome', async () => {
    const journal = new FileJournal(dir());
    const limit: MutationIntent = { kind: 'limit-max-pages', domid: 3, name: 'a', fromKiB: 4096, toKiB: 2048, originalKiB: 4096, reason: 'batch', holder: 'batch' };
    const batch = lower(null, 4);
    const operator: MutationIntent = { kind: 'set-target', domid: 5, targetKiB: 1000 };
    for (const i of [limit, batch, operator]) {
      await journal.before(i);
      await journal.after(i, { ok: true });
    }
    expect(journal.openEntries().map((e) => e.intent.kind)).toEqual(['limit-max-pages', 'lower-target']);
    const lift: MutationIntent = { kind: 'restore-max-pages', domid: 3, name: 'a', fromKiB: 2048, toKiB: 4096, originalKiB: 4096, reason: 'batch', holder: 'batch' };
    await journal.before(lift);
    await journal.after(lift, { ok: true });
    expect(journal.openEntries().map((e) => e.intent.kind)).toEqual(['lower-target']);
    await journal.idle();
    expect(journal.empty).toBe(true);
  });

  it('a partial lift (to another holder\'s limit) keeps the limit open; a lift to the original, or an operator\'s mem-max, closes it', async () => {
    const journal = new FileJournal(dir(), { sync: false });
    const made = async (intent: MutationIntent): Promise<void> => {
      await journal.before(intent);
      await journal.after(intent, { ok: true });
    };
    const clamp = (holder: string, fromKiB: number, toKiB: number): MutationIntent => ({ kind: 'limit-max-pages', domid: 3, name: 'a', fromKiB, toKiB, originalKiB: 4096, reason: 'donor', holder });
    const lift = (holder: string, fromKiB: number, toKiB: number): MutationIntent => ({ kind: 'restore-max-pages', domid: 3, name: 'a', fromKiB, toKiB, originalKiB: 4096, reason: 'donor', holder });
    await made(clamp('r1', 4096, 3000));
    await made(clamp('r2', 3000, 2000));
    await made(lift('r2', 2000, 3000)); // r1 still holds 3000
    expect(journal.openEntries().map((e) => e.intent.kind)).toEqual(['limit-max-pages', 'limit-max-pages']);
    await made(lift('r1', 3000, 4096));
    expect(journal.empty).toBe(true);
    await made(clamp('r3', 4096, 1000));
    await made({ kind: 'set-max-mem', domid: 3, maxKiB: 8192 });
    expect(journal.empty).toBe(true);
  });

  it('a handover moves the failed request\'s lowered targets to the host, then to the request that adopts them', async () => {
    const journal = new FileJournal(dir(), { sync: false });
    const down = lower('a');
    await journal.before(down);
    await journal.after(down, { ok: true });
    const handOver: MutationIntent = { kind: 'hand-over', request: 'a' };
    await journal.before(handOver);
    await journal.after(handOver, { ok: true });
    await journal.settled('a');
    expect(journal.openEntries().map((e) => [e.intent.kind, e.intent.request])).toEqual([['lower-target', null]]);
    const adopt: MutationIntent = { kind: 'adopt-handover', request: 'b' };
    await journal.before(adopt);
    await journal.after(adopt, { ok: true });
    expect(journal.openEntries().map((e) => [e.intent.kind, e.intent.request])).toEqual([['lower-target', 'b']]);
    // Replayed from the file after a crash, the same.
    expect(new FileJournal(journal.path.replace(/\/journal\.log$/, '')).openEntries().map((e) => e.intent.request)).toEqual(['b']);
    await journal.idle();
    expect(journal.openEntries()).toHaveLength(1);
    await journal.settled('b');
    expect(journal.empty).toBe(true);
  });

  it('keep-for-line pools the request\'s lowered targets for the line: they outlive its settling, no adopter takes them, idle closes them', async () => {
    const journal = new FileJournal(dir(), { sync: false });
    const down = lower('b');
    await journal.before(down);
    await journal.after(down, { ok: true });
    const keep: MutationIntent = { kind: 'keep-for-line', request: 'b', keepKiB: 4096 };
    await journal.before(keep);
    await journal.after(keep, { ok: true });
    await journal.settled('b');
    const pooled = (j: FileJournal): unknown[] => j.openEntries().map((e) => [e.intent.kind, e.intent.request, e.intent.line, e.intent.keeper ?? null]);
    expect(pooled(journal)).toEqual([['lower-target', null, true, null], ['keep-for-line', null, true, 'b']]);
    // A failed request's handover is adopted without the line's pool.
    const adopt: MutationIntent = { kind: 'adopt-handover', request: 'c' };
    await journal.before(adopt);
    await journal.after(adopt, { ok: true });
    expect(pooled(journal)).toEqual([['lower-target', null, true, null], ['keep-for-line', null, true, 'b']]);
    // Replayed from the file after a crash, the same.
    expect(pooled(new FileJournal(journal.path.replace(/\/journal\.log$/, '')))).toEqual(pooled(journal));
    await journal.idle();
    expect(journal.empty).toBe(true);
  });

  it('a keep-for-line with lineEnds closes the line\'s pool (the line is over), and only the pool', async () => {
    const journal = new FileJournal(dir(), { sync: false });
    for (const intent of [lower('b'), { kind: 'keep-for-line', request: 'b', keepKiB: 4096 }, lower('c', 2), lower(null, 3)] as MutationIntent[]) {
      await journal.before(intent);
      await journal.after(intent, { ok: true });
    }
    expect(journal.openEntries()).toHaveLength(4);
    const ends: MutationIntent = { kind: 'keep-for-line', request: 'c', keepKiB: 0, lineEnds: true };
    await journal.before(ends);
    await journal.after(ends, { ok: true });
    // c's own change was pooled and closed with the pool; the host's (a handover's) stays.
    expect(journal.openEntries().map((e) => [e.intent.kind, e.intent.domid, e.intent.request])).toEqual([['lower-target', 3, null]]);
    expect(new FileJournal(journal.path.replace(/\/journal\.log$/, '')).openEntries()).toHaveLength(1);
  });

  it('compacts to the open entries once the file is long, and they survive a reopen', async () => {
    const d = dir();
    const journal = new FileJournal(d, { sync: false });
    await journal.before(lower('keep', 9));
    for (let i = 0; i < COMPACT_LINES; i++) {
      const intent = lower(`r${i}`);
      await journal.before(intent);
      await journal.after(intent, { ok: true });
      await journal.settled(`r${i}`);
    }
    // 3 lines a request, 3 × COMPACT_LINES written in all: only a compacted file is this short.
    expect(readFileSync(journal.path, 'utf8').trim().split('\n').length).toBeLessThan(COMPACT_LINES);
    await journal.closeFile();
    expect(new FileJournal(d).openEntries()).toMatchObject([{ intent: { request: 'keep', domid: 9 }, outcome: 'pending' }]);
  });

  it('group commit: intents arriving together are written together, each resolving once on disk, in order', async () => {
    const journal = new FileJournal(dir());
    const intents = [1, 2, 3, 4].map((domid) => lower(`g${domid}`, domid));
    await Promise.all(intents.map((i) => journal.before(i)));
    const lines = readFileSync(journal.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    await Promise.all(['g1', 'g2', 'g3', 'g4'].map((r) => journal.settled(r)));
    expect(statSync(journal.path).size).toBe(0);
  });

  it('a line queued but not yet on disk when the daemon dies never gets there', async () => {
    const journal = new FileJournal(dir());
    const queued = journal.before(lower('late'));
    journal.crashForTest();
    await expect(queued).rejects.toThrow(/simulated crash/);
    expect(statSync(journal.path).size).toBe(0);
  });

  it('after a simulated crash nothing more is written and every later intent is refused', async () => {
    const journal = new FileJournal(dir());
    journal.crashForTest();
    await expect(journal.before(lower('g'))).rejects.toThrow(/simulated crash/);
    expect(statSync(journal.path).size).toBe(0);
  });
});
