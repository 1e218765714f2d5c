/**
 * The daemon's admission gate: at most `maxConcurrent` creations admitted at once (the rest wait their turn, in
 * order), and starts spaced to at most `maxStartsPerS` per second of the host's clock — a boot storm is admitted at
 * a steady rate instead of all at once. Nothing here is held by a client: a request waiting at the gate holds no
 * lock, and its place is given up when it is admitted, whatever its connection does.
 */
import type { Clock } from '../clock.js';
import { XenError } from '../errors.js';

export class AdmissionGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private nextStartMs = 0;

  /** EINVAL unless maxConcurrent is an integer ≥ 1 and maxStartsPerS a number ≥ 0 (0: no rate limit). */
  constructor(
    private readonly clock: Clock,
    readonly maxConcurrent: number,
    readonly maxStartsPerS: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new XenError(`serve: --max-concurrent-creates must be an integer >= 1, got ${maxConcurrent}`, { code: 'EINVAL', op: 'serve' });
    }
    if (!Number.isFinite(maxStartsPerS) || maxStartsPerS < 0) {
      throw new XenError(`serve: --max-starts-per-s must be a number >= 0 (0: unlimited), got ${maxStartsPerS}`, { code: 'EINVAL', op: 'serve' });
    }
  }

  /** Creations admitted now, and waiting at the gate. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `start` once a place is free and its start time has come; the place is freed when it settles. */
  async run<T>(start: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      if (this.maxStartsPerS > 0) {
        const now = this.clock.now();
        const at = Math.max(now, this.nextStartMs);
        this.nextStartMs = at + 1000 / this.maxStartsPerS;
        if (at > now) await this.clock.sleep(at - now);
      }
      return await start();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
