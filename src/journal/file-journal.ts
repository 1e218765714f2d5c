/**
 * The journal: every mutation the host makes is written down (and fsynced) before it is made, its outcome after,
 * and a request's entries are closed once it settles — so after a crash the journal holds exactly what may have been
 * left half-done, and src/recovery decides the repairs from it. Empty whenever nothing is in flight.
 *
 * Format (docs/daemon.md#the-journal): one JSON object per line in `<state dir>/journal.log`, appended with
 * write + fdatasync before the call it records goes ahead — off the event loop, and lines that arrive while a flush
 * is under way go together in the next one (group commit: four builds starting at once cost one fdatasync):
 *   {"t":"intent","seq":7,"intent":{…},"expect":{"from":…,"to":…}}   a mutation about to be made
 *   {"t":"outcome","seq":7,"ok":true}                                 how it ended
 *   {"t":"settled","request":"web1"}                                  the request's entries are closed
 *   {"t":"idle"}                                                       nothing in flight: batch entries closed
 *   {"t":"recovered"}                                                  every entry before it was repaired
 * A line cut short by a crash (the last one) is ignored. When no entry is open the file is truncated; when it grows
 * past COMPACT_LINES with entries open it is rewritten with only those (write-file-atomic: temp file, fsync,
 * rename).
 */
import {
  closeSync, existsSync, fdatasync, fdatasyncSync, ftruncate, ftruncateSync, mkdirSync, openSync, readFileSync, write, writeSync,
} from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { XenError } from '../errors.js';
import { isDonorChange, requestOf, type JournalEntry, type RecordedIntent } from '../recovery/plan.js';
import type { MutationIntent, MutationOutcome, MutationRecorder } from '../toolstack/mutations.js';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);
const ftruncateAsync = promisify(ftruncate);

export const JOURNAL_FILE = 'journal.log';
/** Rewrite the journal with only its open entries once it has this many lines. */
export const COMPACT_LINES = 2000;

type Line =
  | { t: 'intent'; seq: number; intent: RecordedIntent; expect?: { from: number; to: number } }
  | { t: 'outcome'; seq: number; ok: boolean }
  | { t: 'settled'; request: string }
  | { t: 'idle' }
  | { t: 'recovered' };

/** Kinds whose own outcome closes them: an operator's change, a cleanup or a repair; nothing to undo later. */
const CLOSED_BY_OUTCOME = new Set(['set-target', 'set-max-mem', 'cancel-claim', 'destroy-guest', 'restore-max-pages', 'thaw-tmem']);

export interface FileJournalOptions {
  /** fdatasync after every line (default true). */
  sync?: boolean;
  /**
   * 'async' (default): writes off the event loop, group-committed. 'blocking': each line written (and synced) at
   * once on the calling thread — for a host on virtual time (the crash matrix), whose clock cannot wait for real I/O.
   */
  io?: 'async' | 'blocking';
}

/** The daemon's journal in `dir` (created if missing); a MutationRecorder for XenHost. */
export class FileJournal implements MutationRecorder {
  readonly path: string;
  private fd: number;
  private readonly sync: boolean;
  private readonly blocking: boolean;
  private seq = 0;
  private lines = 0;
  private readonly open = new Map<number, JournalEntry>();
  private readonly seqOf = new WeakMap<MutationIntent, number>();
  /** The last target this host set for each donor, as far as the journal knows (for raise-target's expectation). */
  private readonly targets = new Map<number, number>();
  private dead = false;
  /** Lines waiting for the next flush, and who waits for it. */
  private pending: string[] = [];
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  /** The flush under way (file operations are chained on it, so they happen in order). */
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;

  /** Opens (or creates) the journal; what it already holds is replayed into the open entries. EIO if unusable. */
  constructor(dir: string, options: FileJournalOptions = {}) {
    this.sync = options.sync ?? true;
    this.blocking = options.io === 'blocking';
    this.path = join(dir, JOURNAL_FILE);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (existsSync(this.path)) this.replay(readFileSync(this.path, 'utf8'));
      this.fd = openSync(this.path, 'a', 0o600);
    } catch (error) {
      throw new XenError(`journal: cannot use ${this.path}: ${(error as Error).message}`, { code: 'EIO', op: 'journal' });
    }
  }

  /** The entries still open, in order: what recovery works from. */
  openEntries(): JournalEntry[] {
    return [...this.open.values()].map((e) => ({ ...e, intent: { ...e.intent } }));
  }

  get empty(): boolean {
    return this.open.size === 0;
  }

  /** Resolves once the intent is on disk (fdatasync): only then may the mutation be made. */
  before(intent: MutationIntent): Promise<void> {
    const seq = ++this.seq;
    this.seqOf.set(intent, seq);
    const recorded = { ...intent } as RecordedIntent;
    const line: Line = { t: 'intent', seq, intent: recorded };
    if (intent.kind === 'raise-target') {
      const from = this.targets.get(intent.domid);
      if (from !== undefined) line.expect = { from, to: from + intent.byKiB };
    }
    const written = this.append(line);
    if (!this.dead) this.apply(line);
    return written;
  }

  after(intent: MutationIntent, outcome: MutationOutcome): Promise<void> {
    const seq = this.seqOf.get(intent);
    if (seq === undefined) return Promise.resolve();
    const line: Line = { t: 'outcome', seq, ok: outcome.ok };
    const written = this.append(line);
    if (!this.dead) this.apply(line);
    return written;
  }

  /** A request settled (started or failed, its cleanup done): its entries are closed. */
  settled(request: string): Promise<void> {
    return this.close({ t: 'settled', request });
  }

  /** Nothing is in flight any more: entries of batches (request null) are closed. */
  idle(): Promise<void> {
    return this.close({ t: 'idle' });
  }

  /** Every entry open until now was repaired: all of them are closed. */
  recovered(): Promise<void> {
    return this.close({ t: 'recovered' });
  }

  /** Resolves once everything appended so far is on disk. */
  async flushed(): Promise<void> {
    while (this.flushScheduled || this.pending.length > 0) await this.flushing;
    await this.flushing;
  }

  /**
   * Test-only (a simulated crash): the journal writes nothing more, as if its process had died at this instant;
   * every later intent is refused, so no mutation is made after it.
   */
  crashForTest(): void {
    this.dead = true;
  }

  /** Closes the file once what was appended is on disk. */
  async closeFile(): Promise<void> {
    if (!this.dead) await this.flushed().catch(() => undefined);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private close(line: Line): Promise<void> {
    if (this.open.size === 0 && line.t !== 'recovered') return Promise.resolve();
    const written = this.append(line);
    if (this.dead) return written; // a simulated crash: nothing more changes, in memory or on disk
    this.apply(line);
    // Queued behind the flush that writes this line: empty, the file is truncated; long, rewritten with what is open
    // then (both decided when they run, so lines queued meanwhile are never lost).
    if (this.blocking) {
      if (this.open.size === 0) {
        ftruncateSync(this.fd, 0);
        if (this.sync) fdatasyncSync(this.fd);
        this.lines = 0;
      }
      return written;
    }
    if (this.open.size === 0) return Promise.all([written, this.then(() => this.truncate())]).then(() => undefined);
    if (this.lines >= COMPACT_LINES) {
      this.lines = 0;
      return Promise.all([written, this.then(() => this.compact())]).then(() => undefined);
    }
    return written;
  }

  /** Runs a file operation after every flush queued so far. */
  private then(operation: () => Promise<void>): Promise<void> {
    const next = this.flushing.then(operation);
    this.flushing = next.catch(() => undefined);
    return next;
  }

  /** Queues a line; resolves once it is written and fdatasynced (with whatever else was queued meanwhile). */
  private append(line: Line): Promise<void> {
    if (this.dead) return Promise.reject(new XenError('journal: the daemon is stopping (simulated crash)', { code: 'EIO', op: 'journal' }));
    this.lines++;
    if (this.blocking) {
      try {
        writeSync(this.fd, `${JSON.stringify(line)}\n`);
        if (this.sync) fdatasyncSync(this.fd);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(new XenError(`journal: cannot write ${this.path}: ${(error as Error).message}`, { code: 'EIO', op: 'journal' }));
      }
    }
    this.pending.push(`${JSON.stringify(line)}\n`);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.then(() => this.flush());
    }
    return done;
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const text = this.pending.join('');
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    if (text === '') return;
    try {
      // A simulated crash (test-only): what was not on disk at that instant never gets there.
      if (this.dead) throw new XenError('journal: the daemon is stopping (simulated crash)', { code: 'EIO', op: 'journal' });
      await writeAsync(this.fd, text);
      if (this.sync) await fdatasyncAsync(this.fd);
    } catch (error) {
      const failure = error instanceof XenError ? error : new XenError(`journal: cannot write ${this.path}: ${(error as Error).message}`, { code: 'EIO', op: 'journal' });
      for (const w of waiters) w.reject(failure);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  private apply(line: Line): void {
    switch (line.t) {
      case 'intent': {
        this.seq = Math.max(this.seq, line.seq);
        if (line.intent.kind === 'hand-over' || line.intent.kind === 'adopt-handover') {
          this.moveHandover(line.intent);
          return;
        }
        if (line.intent.kind === 'keep-for-line') {
          // The request's donor changes join the line's pool (the host's); the keep stays open beside them.
          this.poolForLine(line.intent.request!);
          if (line.intent.lineEnds === true) {
            for (const [seq, e] of this.open) if (e.intent.line === true) this.open.delete(seq);
            return;
          }
          this.open.set(line.seq, { seq: line.seq, intent: { ...line.intent, request: null, keeper: line.intent.request!, line: true }, outcome: 'ok' });
          return;
        }
        const entry: JournalEntry = { seq: line.seq, intent: line.intent, outcome: 'pending' };
        if (line.expect) entry.expectTargetKiB = line.expect;
        this.open.set(line.seq, entry);
        return;
      }
      case 'outcome': {
        const entry = this.open.get(line.seq);
        if (!entry) return;
        entry.outcome = line.ok ? 'ok' : 'failed';
        this.noteOutcome(entry);
        return;
      }
      case 'settled':
        for (const [seq, e] of this.open) if (requestOf(e.intent) === line.request) this.open.delete(seq);
        return;
      case 'idle':
        for (const [seq, e] of this.open) {
          if (requestOf(e.intent) === null && (isDonorChange(e.intent) || e.intent.kind === 'keep-for-line')) this.open.delete(seq);
        }
        return;
      case 'recovered':
        this.open.clear();
        return;
    }
  }

  /**
   * A failed request's donor changes move with its handover: to the host's (request null: closed when the host is
   * idle, restored if it crashes first) on hand-over, to the adopting request on adopt-handover — which then keeps
   * them if its guest starts and has them restored if it never does.
   */
  private moveHandover(intent: RecordedIntent): void {
    if (intent.kind === 'hand-over') this.moveDonorChanges(intent.request!, null);
    else this.moveDonorChanges(null, intent.request!);
  }

  /** Donor target changes recorded for `from` (null: the host's, not the line's pool) become `to`'s. */
  private moveDonorChanges(from: string | null, to: string | null): void {
    this.rewriteDonorChanges((i) => (i.request ?? null) === from && i.line !== true, { request: to });
  }

  /** `request`'s donor target changes join the line's pool (the host's, marked as the line's). */
  private poolForLine(request: string): void {
    this.rewriteDonorChanges((i) => i.request === request, { request: null, line: true });
  }

  private rewriteDonorChanges(matches: (intent: RecordedIntent) => boolean, change: Partial<RecordedIntent>): void {
    for (const entry of this.open.values()) {
      if (isDonorChange(entry.intent) && matches(entry.intent)) entry.intent = { ...entry.intent, ...change };
    }
  }

  /** What an outcome closes, and the donor targets it tells us. */
  private noteOutcome(entry: JournalEntry): void {
    const { intent } = entry;
    if (entry.outcome === 'ok' && intent.domid !== undefined) {
      if (intent.kind === 'lower-target') this.targets.set(intent.domid, intent.toKiB!);
      if (intent.kind === 'raise-target' && entry.expectTargetKiB) this.targets.set(intent.domid, entry.expectTargetKiB.to);
      if (intent.kind === 'set-target') this.targets.delete(intent.domid);
    }
    const closes = (kind: string, same: (e: JournalEntry) => boolean): void => {
      for (const [seq, e] of this.open) if (e.intent.kind === kind && same(e)) this.open.delete(seq);
    };
    if (entry.outcome === 'failed' && ['limit-max-pages', 'freeze-tmem', 'cap-tmem'].includes(intent.kind)) this.open.delete(entry.seq);
    // A limit is closed once lifted for good (back to the guest's original max_pages), not by a partial lift to
    // another holder's limit; an operator's mem-set or mem-max makes the new max_pages the original (a limit still
    // held is then set again, as a new entry).
    const liftedForGood = intent.kind === 'restore-max-pages' && (intent.originalKiB === undefined || intent.toKiB! >= intent.originalKiB);
    const operatorSet = intent.kind === 'set-target' || intent.kind === 'set-max-mem';
    if (entry.outcome === 'ok' && (liftedForGood || operatorSet)) {
      closes('limit-max-pages', (e) => e.intent.domid === intent.domid);
    }
    if (entry.outcome === 'ok' && intent.kind === 'thaw-tmem') closes('freeze-tmem', () => true);
    if (entry.outcome === 'ok' && intent.kind === 'cap-tmem' && intent.pages === Number.MAX_SAFE_INTEGER) closes('cap-tmem', () => true);
    if (CLOSED_BY_OUTCOME.has(intent.kind)) this.open.delete(entry.seq);
  }

  private replay(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // the last line, cut short by a crash
      }
      this.apply(line);
      this.lines++;
    }
  }

  /** Empties the file if nothing was opened since it was decided (and nothing is waiting to be written). */
  private async truncate(): Promise<void> {
    if (this.dead || this.open.size > 0 || this.pending.length > 0) return;
    try {
      await ftruncateAsync(this.fd, 0);
      if (this.sync) await fdatasyncAsync(this.fd);
      this.lines = 0;
    } catch (error) {
      throw new XenError(`journal: cannot truncate ${this.path}: ${(error as Error).message}`, { code: 'EIO', op: 'journal' });
    }
  }

  /**
   * Rewrites the file with the entries open now. Lines still queued are written after it again: a duplicate line
   * replays to the same entry.
   */
  private async compact(): Promise<void> {
    if (this.dead) return;
    const lines: Line[] = [];
    for (const e of this.open.values()) {
      lines.push(e.expectTargetKiB ? { t: 'intent', seq: e.seq, intent: e.intent, expect: e.expectTargetKiB } : { t: 'intent', seq: e.seq, intent: e.intent });
      if (e.outcome !== 'pending') lines.push({ t: 'outcome', seq: e.seq, ok: e.outcome === 'ok' });
    }
    if (this.fd >= 0) closeSync(this.fd);
    await writeFileAtomic(this.path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { fsync: this.sync, mode: 0o600 });
    this.fd = openSync(this.path, 'a', 0o600);
    this.lines += lines.length;
  }
}

