/**
 * One brain per host: every ballooning decision is taken while holding this lock, so two requests never balloon
 * against each other or re-give memory freed for the other (Qubes #9431). FIFO, so a request waiting for the
 * planner cannot be overtaken forever.
 */
export class HostLock {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  get locked(): boolean {
    return this.held;
  }

  /** How many are waiting for the lock. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Runs `critical` with the lock held; the lock is released however `critical` ends. */
  async withLock<T>(critical: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await critical();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}
