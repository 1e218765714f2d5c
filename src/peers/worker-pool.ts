/** A fixed number of workers taken in arrival order (xenopsd's worker pool, in the xapi peer model). */
import { Fifo } from '../toolstack/fifo.js';

export class WorkerPool {
  private free: number;
  private readonly waiting = new Fifo<() => void>();

  /** `size` ≥ 1 workers. */
  constructor(size: number) {
    this.free = size;
  }

  /** Resolves once a worker is this caller's; first come, first served. */
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Gives the worker to the next in line, or back to the pool. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
