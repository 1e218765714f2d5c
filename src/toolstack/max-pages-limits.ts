/**
 * The host's max_pages limits, one book for every strategy (docs/architecture.md#max-pages-limits): who holds a
 * limit on which guest and why, what the guest's max_pages was before any limit, and the one value Xen has now —
 * the lowest limit any holder has, never above the original. A holder is a request (claim-first: the donors it
 * lowered), or a strategy's batch or queue. Releasing a holder's limit gives the guest the lowest limit still held,
 * or its original max_pages back. Every change passes the mutation port as limit-max-pages / restore-max-pages with
 * the reason and the original, so a journal can restore it after a crash.
 *
 * Never limited: a guest still being built or without a balloon driver (the callers never ask; squeezed's 2026 rule).
 * Operations run one at a time, in the order they were asked (a promise chain): two holders never race on a guest.
 */
import type { EventBody, LimitChange } from './events.js';
import { XenError } from '../errors.js';
import type { LimitReason, MutationPort } from './mutations.js';

interface Held {
  kib: number;
  reason: LimitReason;
}

interface LimitedGuest {
  name: string;
  /** max_pages before any limit, in KiB (what is restored when the last holder lets go). */
  originalKiB: number;
  /** What this book last set. */
  currentKiB: number;
  holders: Map<string, Held>;
}

/** One guest to limit: its domid, name and max_pages (KiB) as observed (read afresh before its first limit). */
export interface LimitTarget {
  domid: number;
  name: string;
  maxKiB: number;
}

export class MaxPagesLimits {
  private readonly guests = new Map<number, LimitedGuest>();
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * `readMaxKiB` reads a guest's max_pages (KiB) now: a guest's original is read with it when its first limit is set,
   * inside the book's serial order — an observation made before another holder's limit was lifted would otherwise
   * record that limit as the original, and each release would ratchet max_pages down (a 100-guest storm did). Without
   * it (unit tests) the caller's observed value is trusted.
   */
  constructor(
    private readonly mutations: MutationPort,
    private readonly emit: (body: EventBody) => void,
    private readonly readMaxKiB?: (domid: number) => Promise<number>,
  ) {}

  /** The guests limited now, by domid: the limit Xen has and the original. */
  snapshot(): Map<number, { name: string; limitKiB: number; originalKiB: number; holders: string[] }> {
    return new Map([...this.guests].map(([domid, g]) => [domid, { name: g.name, limitKiB: g.currentKiB, originalKiB: g.originalKiB, holders: [...g.holders.keys()] }]));
  }

  /** The domids `holder` limits. */
  heldBy(holder: string): number[] {
    return [...this.guests].filter(([, g]) => g.holders.has(holder)).map(([domid]) => domid);
  }

  /**
   * Sets `holder`'s limit on each guest to `kib` (it may go up or down); Xen's max_pages becomes the lowest limit
   * held, never above the original. A guest whose max_pages is already at or below `kib` and has no limit yet is
   * left alone. Rejects with the backend's error for the first guest that failed (the holder's limit on it is then
   * dropped: it was never in place); the ones before it stay limited.
   */
  limit(holder: string, reason: LimitReason, request: string | null, targets: readonly (LimitTarget & { kib: number })[]): Promise<void> {
    return this.serial(async () => {
      const changes: LimitChange[] = [];
      try {
        for (const target of targets) {
          let guest = this.guests.get(target.domid);
          if (guest === undefined) {
            const maxKiB = await this.freshMaxKiB(target);
            if (maxKiB === null || maxKiB <= target.kib) continue;
            guest = { name: target.name, originalKiB: maxKiB, currentKiB: maxKiB, holders: new Map() };
            this.guests.set(target.domid, guest);
          }
          const before = guest.holders.get(holder);
          guest.holders.set(holder, { kib: target.kib, reason });
          try {
            const change = await this.apply(target.domid, guest, holder, reason);
            if (change) changes.push(change);
          } catch (error) {
            if (before) guest.holders.set(holder, before);
            else guest.holders.delete(holder);
            if (guest.holders.size === 0) this.guests.delete(target.domid);
            throw error;
          }
        }
      } finally {
        this.report(changes, request, reason);
      }
    });
  }

  /**
   * Lets go of `holder`'s limits (on every guest, or on `domids`): each guest gets the lowest limit still held, or
   * its original max_pages. Each change is tried twice; a guest that is gone counts as done. Never rejects: a
   * change that failed twice is a cleanup-failed event (the holder's limit is dropped from the book either way, so a
   * later release does not retry it forever).
   */
  release(holder: string, request: string | null, domids?: readonly number[]): Promise<void> {
    return this.serial(async () => {
      const changes: LimitChange[] = [];
      for (const [domid, guest] of [...this.guests]) {
        if (!guest.holders.has(holder) || (domids !== undefined && !domids.includes(domid))) continue;
        const reason = guest.holders.get(holder)!.reason;
        guest.holders.delete(holder);
        let last: unknown;
        let done = false;
        for (let attempt = 0; attempt < 2 && !done; attempt++) {
          try {
            const change = await this.apply(domid, guest, holder, reason);
            if (change) changes.push(change);
            done = true;
          } catch (error) {
            if (error instanceof XenError && error.code === 'ESRCH') {
              this.guests.delete(domid);
              done = true;
            } else last = error;
          }
        }
        if (!done) {
          this.emit({
            type: 'cleanup-failed',
            request,
            step: `lift the max_pages limit of ${guest.name} (domid ${domid})`,
            error: { code: last instanceof XenError ? last.code : null, errno: null, message: last instanceof Error ? last.message : String(last) },
          });
        }
        if (guest.holders.size === 0) this.guests.delete(domid);
      }
      this.report(changes, request, null);
    });
  }

  /**
   * Someone else set the guest's max_pages (an operator's mem-set or mem-max through the host) to `maxKiB`, and
   * `grownToKiB`, if given, is a raised target that was admitted: every holder's limit rises to at least it, and
   * the new max_pages is what a release restores. Xen's value is brought back to the lowest limit held.
   */
  changedElsewhere(domid: number, maxKiB: number, grownToKiB?: number): Promise<void> {
    return this.serial(async () => {
      const guest = this.guests.get(domid);
      if (guest === undefined) return;
      guest.originalKiB = maxKiB;
      guest.currentKiB = maxKiB;
      if (grownToKiB !== undefined) {
        for (const held of guest.holders.values()) held.kib = Math.max(held.kib, grownToKiB);
      }
      const change = await this.apply(domid, guest, [...guest.holders.keys()][0] ?? 'operator', [...guest.holders.values()][0]?.reason ?? 'donor');
      if (change) this.report([change], null, null);
    });
  }

  /** `from`'s limits become `to`'s (a request hands what it held to the one that adopts its donors' gains). */
  transfer(from: string, to: string): Promise<void> {
    return this.serial(async () => {
      for (const guest of this.guests.values()) {
        const held = guest.holders.get(from);
        if (held === undefined) continue;
        guest.holders.delete(from);
        const theirs = guest.holders.get(to);
        guest.holders.set(to, theirs ? { kib: Math.min(theirs.kib, held.kib), reason: held.reason } : held);
      }
    });
  }

  /** The domain is gone: forget its limits. */
  forget(domid: number): void {
    this.guests.delete(domid);
  }

  /** The guest's max_pages now (null: it is gone), or as the caller observed it without a reader. */
  private async freshMaxKiB(target: LimitTarget): Promise<number | null> {
    if (this.readMaxKiB === undefined) return target.maxKiB;
    try {
      return await this.readMaxKiB(target.domid);
    } catch (error) {
      if (error instanceof XenError && error.code === 'ESRCH') return null;
      throw error;
    }
  }

  /** Brings Xen's max_pages to what the book says (lowest limit held, or the original); the change made, if any. */
  private async apply(domid: number, guest: LimitedGuest, holder: string, reason: LimitReason): Promise<LimitChange | null> {
    const limits = [...guest.holders.values()].map((h) => h.kib);
    const want = Math.min(guest.originalKiB, ...limits);
    if (want === guest.currentKiB) return null;
    const intent = { domid, name: guest.name, fromKiB: guest.currentKiB, toKiB: want, originalKiB: guest.originalKiB, reason, holder };
    if (want < guest.currentKiB) await this.mutations.limitMaxPages(intent);
    else await this.mutations.restoreMaxPages(intent);
    const change = { domid, name: guest.name, fromKiB: guest.currentKiB, toKiB: want };
    guest.currentKiB = want;
    return change;
  }

  private report(changes: LimitChange[], request: string | null, reason: LimitReason | null): void {
    const set = changes.filter((c) => c.toKiB < c.fromKiB);
    const lifted = changes.filter((c) => c.toKiB > c.fromKiB);
    if (set.length > 0) this.emit({ type: 'limits-set', request, reason: reason ?? 'donor', limits: set });
    if (lifted.length > 0) this.emit({ type: 'limits-removed', request, limits: lifted });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
