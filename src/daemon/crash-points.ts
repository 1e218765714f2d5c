/**
 * TEST-ONLY: a deterministic crash of the daemon at a chosen mutation, for the crash matrix
 * (test/daemon/crash-matrix.test.ts, test/daemon/kill.test.ts; docs/daemon.md#testing-crashes). Never enabled in
 * normal operation: only when the test sets XENCLAIM_TEST_CRASH_AT (a real `kill -9` of the daemon process) or
 * passes a crash point to startDaemonCore (a simulated crash inside the test process).
 *
 * A point names the Nth mutation the host makes (counting from 1, across every kind) and a phase:
 *   before:N        the intent is journaled, the call not made
 *   during:N:MS     MS ms of the host's clock after the call started (mid-build for a build, mid-balloon after a
 *                   lowering), whether or not it has returned
 *   after:N         the call returned, its outcome not journaled
 */
import type { Clock } from '../clock.js';
import { XenError } from '../errors.js';
import type { MutationIntent, MutationOutcome, MutationRecorder } from '../toolstack/mutations.js';

export interface CrashPoint {
  phase: 'before' | 'during' | 'after';
  /** The mutation, counted from 1. */
  index: number;
  /** during: how long after the call started, in ms of the host's clock. */
  delayMs: number;
}

/** Parses `before:N`, `during:N:MS` or `after:N`; EINVAL naming the accepted forms. */
export function parseCrashPoint(text: string): CrashPoint {
  const match = /^(before|during|after):([1-9][0-9]*)(?::([0-9]+))?$/.exec(text);
  if (!match || (match[1] === 'during') !== (match[3] !== undefined)) {
    throw new XenError(`XENCLAIM_TEST_CRASH_AT must be before:N, during:N:MS or after:N, got ${JSON.stringify(text)}`, { code: 'EINVAL', op: 'serve' });
  }
  return { phase: match[1] as CrashPoint['phase'], index: Number(match[2]), delayMs: Number(match[3] ?? 0) };
}

/** A recorder that passes everything to `inner` and crashes (calls `crash`) at the point. */
export class CrashingRecorder implements MutationRecorder {
  /** Mutations seen so far. */
  count = 0;
  /** The mutations seen, in order (kind and request), for a test to count its points. */
  readonly seen: string[] = [];
  private readonly index = new WeakMap<MutationIntent, number>();

  constructor(
    private readonly inner: MutationRecorder,
    private readonly point: CrashPoint | undefined,
    private readonly clock: Clock,
    private readonly crash: () => void,
  ) {}

  async before(intent: MutationIntent): Promise<void> {
    await this.inner.before(intent);
    const n = ++this.count;
    this.index.set(intent, n);
    this.seen.push(intent.kind);
    if (this.point?.index !== n) return;
    if (this.point.phase === 'before') this.crash();
    if (this.point.phase === 'during') this.clock.setTimer(this.point.delayMs, () => this.crash());
  }

  async after(intent: MutationIntent, outcome: MutationOutcome): Promise<void> {
    if (this.point?.phase === 'after' && this.index.get(intent) === this.point.index) this.crash();
    await this.inner.after(intent, outcome);
  }

  async settled(request: string): Promise<void> {
    await this.inner.settled?.(request);
  }

  async idle(): Promise<void> {
    await this.inner.idle?.();
  }
}
