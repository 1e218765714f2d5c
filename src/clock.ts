/**
 * Time, injected. Toolstack code never calls setTimeout or Date.now itself: it is handed a Clock.
 * SystemClock is the real one (this file is the only place in src/ that touches timers); VirtualClock runs
 * simulated time for tests and the simulator, deterministically, driven by its owner; AutoClock is simulated time
 * that drives itself, the mock host's clock for library users and the CLI; ScaledClock is wall-clock time run N×
 * faster, the clock of the daemon's mock host.
 */
import { BinaryHeap } from './binary-heap.js';

/** A timer set with Clock.setTimer: cancel() stops it if it has not fired yet. */
export interface Timer {
  cancel(): void;
}

/** Time, injected: how every part of xenclaim reads the time and waits (docs/architecture.md#time). */
export interface Clock {
  /** Milliseconds since an arbitrary origin (monotonic). */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` once after `ms` milliseconds of this clock's time. */
  setTimer(ms: number, callback: () => void): Timer;
  /**
   * Lets this clock's time pass until `work` settles, and settles like it: real time passes by itself; simulated
   * time is advanced from timer to timer (VirtualClock.run).
   */
  run<T>(work: Promise<T>): Promise<T>;
}

function checkDelay(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock delay must be a finite number >= 0 ms, got ${ms}`);
  return ms;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** Sleep built from setTimer, shared by both clocks so abort handling is written once. */
function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Real time: performance.now() and Node's timers (the only place in src/ that touches them). */
export class SystemClock implements Clock {
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, checkDelay(ms), signal);
  }

  setTimer(ms: number, callback: () => void): Timer {
    const handle = setTimeout(callback, checkDelay(ms));
    return { cancel: () => clearTimeout(handle) };
  }

  run<T>(work: Promise<T>): Promise<T> {
    return work;
  }
}

interface PendingTimer {
  due: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** Lets every queued promise continuation run: the simulated world settles before time moves on. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** VirtualClock.run's work was still pending when its limit of virtual time (`limitMs`, ms) was reached. */
export class VirtualTimeLimitError extends Error {
  constructor(readonly limitMs: number) {
    super(`VirtualClock.run: work still pending after ${limitMs} ms of virtual time`);
    this.name = 'VirtualTimeLimitError';
  }
}

/**
 * Simulated time. Nothing happens until the owner advances it; timers due at the same instant fire in the order
 * they were set, and pending promise continuations run between timers, so a run is the same every time.
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  /** Timers by (due, seq): the earliest first, those due together in the order they were set. */
  private readonly heap = new BinaryHeap<PendingTimer>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, checkDelay(ms), signal);
  }

  setTimer(ms: number, callback: () => void): Timer {
    const timer: PendingTimer = { due: this.current + checkDelay(ms), seq: this.seq++, callback, cancelled: false };
    this.heap.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** How many live timers are waiting. */
  get pendingTimers(): number {
    return this.heap.values().reduce((n, t) => n + (t.cancelled ? 0 : 1), 0);
  }

  /** When the next live timer is due, or undefined when none is. */
  nextDue(): number | undefined {
    this.dropCancelled();
    return this.heap.peek()?.due;
  }

  /** Moves time forward by `ms`, firing every timer due on the way in order. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + checkDelay(ms));
  }

  /** Moves time forward to `targetMs`, firing every timer due on the way in order. */
  async advanceTo(targetMs: number): Promise<void> {
    await settle();
    for (;;) {
      const due = this.nextDue();
      if (due === undefined || due > targetMs) break;
      this.fireNext();
      await settle();
    }
    if (targetMs > this.current) this.current = targetMs;
  }

  /**
   * Runs the simulated world until `work` settles: whenever everything is waiting on time, jumps to the next timer.
   * Throws if `work` is still pending when no timer is left (a deadlock) or after `limitMs` of virtual time.
   */
  async run<T>(work: Promise<T>, limitMs = Number.POSITIVE_INFINITY): Promise<T> {
    let done = false;
    const watched = work.then(
      (value) => {
        done = true;
        return value;
      },
      (error: unknown) => {
        done = true;
        throw error;
      },
    );
    watched.catch(() => undefined);
    const deadline = this.current + limitMs;
    await settle();
    while (!done) {
      const due = this.nextDue();
      if (due === undefined) throw new Error('VirtualClock.run: work is waiting but no timer is pending (deadlock)');
      if (due > deadline) throw new VirtualTimeLimitError(limitMs);
      this.fireNext();
      await settle();
    }
    return watched;
  }

  private fireNext(): void {
    const timer = this.heap.pop();
    if (!timer) return;
    if (timer.due > this.current) this.current = timer.due;
    timer.callback();
  }

  private dropCancelled(): void {
    while (this.heap.peek()?.cancelled === true) this.heap.pop();
  }
}

/**
 * Simulated time that passes by itself: whenever a timer is pending, the clock jumps to the next one on a later turn
 * of the event loop, once pending promise continuations (and any real I/O callbacks due) have run. Work on the mock
 * host finishes as fast as the CPU allows, in the same order VirtualClock.run would play it, without anyone driving
 * the clock: `await backend.createGuest(config)` simply resolves. When no timer is pending the clock holds nothing,
 * so a process whose simulated host has gone quiet can exit.
 *
 * The mock host's default clock (MockBackend, openBackend). Tests and the simulator pass a VirtualClock instead and
 * drive it themselves, which is what makes them deterministic step by step.
 */
export class AutoClock implements Clock {
  private readonly virtual: VirtualClock;
  private driving = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(startMs = 0) {
    this.virtual = new VirtualClock(startMs);
  }

  now(): number {
    return this.virtual.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, checkDelay(ms), signal);
  }

  setTimer(ms: number, callback: () => void): Timer {
    const timer = this.virtual.setTimer(ms, callback);
    this.drive();
    return timer;
  }

  /** Time passes by itself: `work` is returned as it is. */
  run<T>(work: Promise<T>): Promise<T> {
    return work;
  }

  /** How many live timers are waiting. */
  get pendingTimers(): number {
    return this.virtual.pendingTimers;
  }

  /** Resolves once no timer is pending (at once when none is). */
  whenIdle(): Promise<void> {
    if (!this.driving) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drive(): void {
    if (this.driving) return;
    this.driving = true;
    void this.loop();
  }

  /** Fires timers one instant at a time until none is pending; `driving` is cleared in the same turn it stops. */
  private async loop(): Promise<void> {
    try {
      for (;;) {
        await settle();
        const due = this.virtual.nextDue();
        if (due === undefined) break;
        await this.virtual.advanceTo(due);
      }
    } catch (error) {
      // A timer callback threw: as with a real timer, that is an uncaught exception, not a silent stop.
      setImmediate(() => {
        throw error;
      });
    }
    this.driving = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/**
 * Wall-clock time run `speed` times faster (the daemon's mock host: `xenclaim serve --backend mock --mock-speed N`).
 * One ms of this clock is 1/speed ms of real time; speed 1 is the system clock.
 */
export class ScaledClock implements Clock {
  private readonly origin = performance.now();

  /** RangeError unless speed is a finite number > 0. */
  constructor(readonly speed: number) {
    if (!Number.isFinite(speed) || speed <= 0) throw new RangeError(`clock speed must be a finite number > 0, got ${speed}`);
  }

  now(): number {
    return (performance.now() - this.origin) * this.speed;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, checkDelay(ms), signal);
  }

  setTimer(ms: number, callback: () => void): Timer {
    const handle = setTimeout(callback, checkDelay(ms) / this.speed);
    return { cancel: () => clearTimeout(handle) };
  }

  run<T>(work: Promise<T>): Promise<T> {
    return work;
  }
}
