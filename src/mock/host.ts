/**
 * The simulated host's state, shared by the backend, the guest processes and the control surface: the heap, the
 * domain list, the clock, fault injection and call counts, plus the two host-side processes — timers owned by the
 * mock (counted, so quiescence is visible) and the gradual return of a destroyed domain's pages.
 */
import type { Clock, Timer } from '../clock.js';
import { XenError } from '../errors.js';
import { DomainTable, notePauseChange, type MockDomain } from './domains.js';
import { FaultInjector, newCallCounts, type CallCounts } from './faults.js';
import { ClaimHeap, heapRulesFor } from './heap.js';
import { PAGES_PER_MIB } from '../units.js';
import { DEFAULT_GUEST_PROFILE, type GuestProfile, type ResolvedHostSpec } from './spec.js';

/** Granularity of every simulated process (builders, balloon drivers, page return): 100 ms of virtual time. */
export const TICK_MS = 100;

/** Something that waits for memory to be freed (a balloon driver refused by the gate or by max_pages). */
export interface MemoryWaiter {
  onMemoryChanged(): void;
}

/** A guest's own activity (boot, balloon driver): stopped when the domain dies or the host closes. */
export interface DomainProcess {
  stop(): void;
}

export class MockHost {
  readonly heap: ClaimHeap;
  readonly domains = new DomainTable();
  readonly faults = new FaultInjector();
  readonly counts: CallCounts = newCallCounts();
  /** Profiles set by guest name (control.setGuestProfile), applied when a guest of that name is created. */
  readonly profilesByName = new Map<string, Partial<GuestProfile>>();
  /** Timers the mock holds right now: 0 means every simulated process is idle. */
  pendingTimers = 0;
  /** The running guest process of each domain that has one (libxl-built guests, running guests and dom0). */
  readonly processes = new Map<number, DomainProcess>();
  private readonly waiters = new Set<MemoryWaiter>();
  private readonly live = new Set<{ cancel(): void; close(): void }>();
  private readonly returning = new Map<number, Timer>();
  private readonly returnDue = new Map<number, number>();
  /** When the next domain creation may happen (host.startsPerS). */
  private nextStartMs = 0;
  /** Pages of a domain mapped from outside it (control.pinPage): a dying domain is freed only once they are unmapped. */
  private readonly pinned = new Map<number, number>();
  closed = false;
  /**
   * Told of every change to the simulated host's state: `urgent` after a toolstack call or a builder step (a
   * persisted host saves at once, so its file is never behind what a caller was told), not urgent after a guest's
   * or the heap's own progress (it may save a little later).
   */
  onChange: ((urgent: boolean) => void) | undefined;

  constructor(readonly spec: ResolvedHostSpec, readonly clock: Clock) {
    this.heap = new ClaimHeap(spec.memoryMiB * PAGES_PER_MIB, spec.xenOverheadPages, heapRulesFor(spec.xenVersion, spec.tmem));
  }

  /** A timer owned by the mock: counted while pending, cancelled on close (`onClose` runs instead, if given). */
  schedule(ms: number, callback: () => void, onClose?: () => void): Timer {
    if (this.closed) {
      onClose?.();
      return { cancel: () => undefined };
    }
    this.pendingTimers++;
    let live = true;
    const finish = (): boolean => {
      if (!live) return false;
      live = false;
      this.pendingTimers--;
      this.live.delete(entry);
      return true;
    };
    const timer = this.clock.setTimer(ms, () => {
      if (finish()) callback();
    });
    const entry = {
      cancel: () => {
        if (finish()) timer.cancel();
      },
      close: () => {
        if (finish()) {
          timer.cancel();
          onClose?.();
        }
      },
    };
    this.live.add(entry);
    return entry;
  }

  /** Waits `ms` of the host's time; resolves early if the host closes (the waiter then sees `closed`). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.schedule(ms, resolve, resolve));
  }

  /** How long a domain creation asked for now must wait for its turn (host.startsPerS); books that turn. */
  takeStartSlot(): number {
    const interval = this.spec.startIntervalMs;
    if (interval === 0) return 0;
    const now = this.clock.now();
    const at = Math.max(now, this.nextStartMs);
    this.nextStartMs = at + interval;
    return at - now;
  }

  profileFor(name: string | undefined): GuestProfile {
    const byName = name === undefined ? undefined : this.profilesByName.get(name);
    return { ...DEFAULT_GUEST_PROFILE, ...this.spec.guestDefaults, ...byName };
  }

  addWaiter(waiter: MemoryWaiter): void {
    this.waiters.add(waiter);
  }

  removeWaiter(waiter: MemoryWaiter): void {
    this.waiters.delete(waiter);
  }

  /** Something changed (see onChange). */
  changed(urgent: boolean): void {
    this.onChange?.(urgent);
  }

  /** Memory was freed, a claim dropped or a max_pages raised: whoever waits for memory may try again. */
  memoryChanged(): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) waiter.onMemoryChanged();
  }

  getOrThrow(op: string, domid: number, code: 'ESRCH' | 'EINVAL' = 'ESRCH'): MockDomain {
    const d = this.domains.get(domid);
    if (d === undefined) {
      throw new XenError(`${op}: ${code} (no domain ${domid})`, { code, op, xenLog: [`(XEN) ${op}: no domain ${domid}`] });
    }
    return d;
  }

  /** One more page of `d` is mapped from outside the domain. */
  pin(d: MockDomain): void {
    this.pinned.set(d.domid, (this.pinned.get(d.domid) ?? 0) + 1);
  }

  /** A page mapped from outside is unmapped: a dying domain held only by it gives it back and goes at once. */
  unpin(d: MockDomain): void {
    const left = (this.pinned.get(d.domid) ?? 0) - 1;
    if (left > 0) this.pinned.set(d.domid, left);
    else this.pinned.delete(d.domid);
    if (d.account.dying && !this.returning.has(d.domid) && this.domains.get(d.domid) === d) this.returnSome(d);
  }

  /**
   * Destruction (XEN_DOMCTL_destroydomain): the claim goes at once and the domain is dying; its pages come back to
   * the heap after destroyReturnDelayS, at destroyReturnMiBps; the domain leaves the list when all are back. Pages
   * still mapped from outside (pin) stay with it until unmapped: the domain is listed as dying until then.
   */
  beginDestroy(d: MockDomain): void {
    if (d.account.dying) return;
    const stubdom = d.guest?.stubdomDomid === undefined ? undefined : this.domains.get(d.guest.stubdomDomid);
    if (stubdom) this.beginDestroy(stubdom);
    this.processes.get(d.domid)?.stop();
    this.processes.delete(d.domid);
    this.heap.beginDying(d.account);
    notePauseChange(d, this.clock.now());
    this.memoryChanged();
    if (d.account.totPages + d.account.poolPages === 0) {
      this.finishDestroy(d);
      return;
    }
    this.returning.set(d.domid, this.schedule(this.spec.destroyReturnDelayS * 1000, () => this.returnSome(d)));
  }

  /** Pages still held by dying domains. */
  get pendingReturnPages(): number {
    return this.heap.dyingPages;
  }

  private returnSome(d: MockDomain): void {
    this.returning.delete(d.domid);
    const held = Math.min(this.pinned.get(d.domid) ?? 0, d.account.totPages);
    const returnable = d.account.totPages + d.account.poolPages - held;
    if (returnable > 0) {
      // Pages due this tick at the return rate; the fraction carries over so the rate is exact over time.
      const due = (this.returnDue.get(d.domid) ?? 0) + (this.spec.destroyReturnMiBps * PAGES_PER_MIB * TICK_MS) / 1000;
      const chunk = Math.min(returnable, Math.max(1, Math.floor(due)));
      this.returnDue.set(d.domid, Math.max(0, due - chunk));
      this.heap.returnDyingPages(d.account, chunk);
      this.changed(false);
      this.memoryChanged();
    }
    if (d.account.totPages + d.account.poolPages === 0) {
      this.finishDestroy(d);
      return;
    }
    // Only pinned pages left: the domain stays dying until they are unmapped (unpin).
    if (d.account.totPages + d.account.poolPages > held) {
      this.returning.set(d.domid, this.schedule(TICK_MS, () => this.returnSome(d)));
    }
  }

  /** A restored host: a domain that was dying when the state was saved goes on returning its pages. */
  resumeDestroy(d: MockDomain): void {
    if (!d.account.dying || this.returning.has(d.domid)) return;
    if (d.account.totPages + d.account.poolPages === 0) {
      this.finishDestroy(d);
      return;
    }
    this.returning.set(d.domid, this.schedule(TICK_MS, () => this.returnSome(d)));
  }

  private finishDestroy(d: MockDomain): void {
    this.returning.delete(d.domid);
    this.returnDue.delete(d.domid);
    this.pinned.delete(d.domid);
    this.heap.forget(d.account);
    this.domains.remove(d.domid);
    this.memoryChanged();
  }

  close(): void {
    this.closed = true;
    for (const process of this.processes.values()) process.stop();
    this.processes.clear();
    for (const timer of this.returning.values()) timer.cancel();
    this.returning.clear();
    this.waiters.clear();
    for (const entry of [...this.live]) entry.close();
  }
}
