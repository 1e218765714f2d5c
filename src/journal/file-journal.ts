/**
 * The journal: every mutation the host makes is written down (and fsynced) before it is made, its outcome after,
 * and a request's entries are closed once it settles — so after a crash the journal holds exactly what may have been
 * left half-done, and src/recovery decides the repairs from it. Empty whenever nothing is in flight.
 *
 * Format (docs/daemon.md#the-journal): one JSON object per line in `<state dir>/journal.log`, appended with
 * write + fdatasync before the call it records goes ahead:
 *   {"t":"intent","seq":7,"intent":{…},"expect":{"from":…,"to":…}}   a mutation about to be made
 *   {"t":"outcome","seq":7,"ok":true}                                 how it ended
 *   {"t":"settled","request":"web1"}                                  the request's entries are closed
 *   {"t":"idle"}                                                       nothing in flight: batch entries closed
 *   {"t":"recovered"}                                                  every entry before it was repaired
 * A line cut short by a crash (the last one) is ignored. When no entry is open the file is truncated; when it grows
 * past COMPACT_LINES with entries open it is rewritten with only those (write-file-atomic: temp file, fsync,
 * rename).
 */
import { closeSync, existsSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { XenError } from '../errors.js';
import { requestOf, type JournalEntry, type RecordedIntent } from '../recovery/plan.js';
import type { MutationIntent, MutationOutcome, MutationRecorder } from '../toolstack/mutations.js';

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
}

/** The daemon's journal in `dir` (created if missing); a MutationRecorder for XenHost. */
export class FileJournal implements MutationRecorder {
  readonly path: string;
  private fd: number;
  private readonly sync: boolean;
  private seq = 0;
  private lines = 0;
  private readonly open = new Map<number, JournalEntry>();
  private readonly seqOf = new WeakMap<MutationIntent, number>();
  /** The last target this host set for each donor, as far as the journal knows (for raise-target's expectation). */
  private readonly targets = new Map<number, number>();
  private dead = false;

  /** Opens (or creates) the journal; what it already holds is replayed into the open entries. EIO if unusable. */
  constructor(dir: string, options: FileJournalOptions = {}) {
    this.sync = options.sync ?? true;
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

  before(intent: MutationIntent): void {
    const seq = ++this.seq;
    this.seqOf.set(intent, seq);
    const recorded = { ...intent } as RecordedIntent;
    const line: Line = { t: 'intent', seq, intent: recorded };
    if (intent.kind === 'raise-target') {
      const from = this.targets.get(intent.domid);
      if (from !== undefined) line.expect = { from, to: from + intent.byKiB };
    }
    this.append(line);
    this.apply(line);
  }

  after(intent: MutationIntent, outcome: MutationOutcome): void {
    const seq = this.seqOf.get(intent);
    if (seq === undefined) return;
    const line: Line = { t: 'outcome', seq, ok: outcome.ok };
    this.append(line);
    this.apply(line);
  }

  /** A request settled (started or failed, its cleanup done): its entries are closed. */
  settled(request: string): void {
    this.close({ t: 'settled', request });
  }

  /** Nothing is in flight any more: entries of batches (request null) are closed. */
  idle(): void {
    this.close({ t: 'idle' });
  }

  /** Every entry open until now was repaired: all of them are closed. */
  recovered(): void {
    this.close({ t: 'recovered' });
  }

  /**
   * Test-only (a simulated crash): the journal writes nothing more, as if its process had died at this instant;
   * every later intent is refused, so no mutation is made after it.
   */
  crashForTest(): void {
    this.dead = true;
  }

  closeFile(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private close(line: Line): void {
    if (this.open.size === 0 && line.t !== 'recovered') return;
    this.append(line);
    this.apply(line);
    if (this.open.size === 0) this.truncate();
    else if (this.lines >= COMPACT_LINES) this.compact();
  }

  private append(line: Line): void {
    if (this.dead) throw new XenError('journal: the daemon is stopping (simulated crash)', { code: 'EIO', op: 'journal' });
    try {
      writeSync(this.fd, `${JSON.stringify(line)}\n`);
      if (this.sync) fdatasyncSync(this.fd);
    } catch (error) {
      throw new XenError(`journal: cannot write ${this.path}: ${(error as Error).message}`, { code: 'EIO', op: 'journal' });
    }
    this.lines++;
  }

  private apply(line: Line): void {
    switch (line.t) {
      case 'intent': {
        this.seq = Math.max(this.seq, line.seq);
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
          if (requestOf(e.intent) === null && (e.intent.kind === 'lower-target' || e.intent.kind === 'raise-target')) this.open.delete(seq);
        }
        return;
      case 'recovered':
        this.open.clear();
        return;
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
    if (entry.outcome === 'ok' && intent.kind === 'restore-max-pages') closes('limit-max-pages', (e) => e.intent.domid === intent.domid);
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

  private truncate(): void {
    try {
      ftruncateSync(this.fd, 0);
      if (this.sync) fdatasyncSync(this.fd);
      this.lines = 0;
    } catch (error) {
      throw new XenError(`journal: cannot truncate ${this.path}: ${(error as Error).message}`, { code: 'EIO', op: 'journal' });
    }
  }

  private compact(): void {
    const lines: Line[] = [];
    for (const e of this.open.values()) {
      lines.push(e.expectTargetKiB ? { t: 'intent', seq: e.seq, intent: e.intent, expect: e.expectTargetKiB } : { t: 'intent', seq: e.seq, intent: e.intent });
      if (e.outcome !== 'pending') lines.push({ t: 'outcome', seq: e.seq, ok: e.outcome === 'ok' });
    }
    this.closeFile();
    writeFileAtomic.sync(this.path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { fsync: this.sync, mode: 0o600 });
    this.fd = openSync(this.path, 'a', 0o600);
    this.lines = lines.length;
  }
}

