/**
 * A simulated guest's own life after the domain builder: its kernel boots some time after the first unpause, then
 * its balloon driver follows memory/target (or the guest's own growth demand) at its balloon rate, one 100 ms tick
 * at a time: down by decrease_reservation, up by populate through the allocation gate and max_pages. Refused, it
 * waits for memory to be freed and retries after balloonRetryS. A driver that never booted, is paused, is
 * uncooperative or has stalled does nothing — and holds no timer, so an idle host is quiescent.
 * The kinds of driver squeezed's simulator tests its balancer with (ocaml/squeezed/test/squeeze_test.ml in
 * xapi-project/xen-api) are profiles here: one that stops short of its target by an inaccuracy, one held above a
 * hidden floor or below a hidden ceiling, one that moves and stops by turns (intermittent), one that is stuck.
 */
import type { Timer } from '../clock.js';
import type { MockDomain } from './domains.js';
import { EPERM, OK } from './heap.js';
import { TICK_MS, type DomainProcess, type MemoryWaiter, type MockHost } from './host.js';
import { kibToPagesFloor, PAGES_PER_MIB, pagesToKiB } from '../units.js';
import type { GuestProfile } from './spec.js';

export type BlockReason = 'memory' | 'maxPages' | 'fault';

export interface GuestState {
  domid: number;
  name: string | undefined;
  profile: GuestProfile;
  booted: boolean;
  /** The balloon driver stopped for good after stallAfterMiB. */
  stalled: boolean;
  /** Why the balloon driver is waiting, if it is. */
  blocked: BlockReason | undefined;
  /** The size (pages) the balloon driver is heading for. */
  goalPages: number;
  /** The guest's own growth demand (pages), until libxl writes a new target. */
  demandPages: number | undefined;
  /** The demand is met: tot_pages reached it. */
  demandSatisfied: boolean;
  /** Pages the balloon driver has moved so far, both ways. */
  movedPages: number;
  /** The balloon driver has work and is doing it (a tick or a retry is scheduled). */
  active: boolean;
}

/** What a persisted host keeps of a guest's own process (src/mock/persist.ts). */
export interface SavedGuestProcess {
  profile: GuestProfile;
  offsetPages: number;
  booted: boolean;
  /** Boot time still to run once unpaused, in ms. */
  bootLeftMs: number;
  stalled: boolean;
  demandPages: number | undefined;
  movedPages: number;
}

export class GuestProcess implements DomainProcess, MemoryWaiter {
  booted: boolean;
  stalled = false;
  blocked: BlockReason | undefined;
  demandPages: number | undefined;
  movedPages = 0;
  private duePages = 0;
  private bootTimer: Timer | undefined;
  private bootLeftMs: number;
  private bootStartedAt = 0;
  private tickTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private stopped = false;

  /**
   * @param offsetPages tot_pages minus target/4 right after the build (HVM video RAM and VGA hole): the balloon
   *   driver keeps that difference, as Linux's does with what it does not manage.
   */
  constructor(
    private readonly host: MockHost,
    readonly domain: MockDomain,
    public profile: GuestProfile,
    readonly offsetPages: number,
    booted: boolean,
  ) {
    this.booted = booted;
    this.bootLeftMs = profile.bootDelayS * 1000;
  }

  goalPages(): number {
    if (this.demandPages !== undefined) return this.demandPages;
    const target = this.domain.guest?.targetKiB ?? pagesToKiB(this.domain.account.totPages);
    return Math.max(0, kibToPagesFloor(target) + this.offsetPages);
  }

  state(): GuestState {
    return {
      domid: this.domain.domid,
      name: this.domain.guest?.name,
      profile: { ...this.profile },
      booted: this.booted,
      stalled: this.stalled,
      blocked: this.blocked,
      goalPages: this.goalPages(),
      demandPages: this.demandPages,
      demandSatisfied: this.demandPages !== undefined && this.domain.account.totPages >= this.demandPages,
      movedPages: this.movedPages,
      active: this.tickTimer !== undefined || this.retryTimer !== undefined || this.bootTimer !== undefined,
    };
  }

  saved(): SavedGuestProcess {
    const running = this.bootTimer !== undefined ? this.host.clock.now() - this.bootStartedAt : 0;
    return {
      profile: { ...this.profile },
      offsetPages: this.offsetPages,
      booted: this.booted,
      bootLeftMs: Math.max(0, this.bootLeftMs - running),
      stalled: this.stalled,
      demandPages: this.demandPages,
      movedPages: this.movedPages,
    };
  }

  /** A restored host: the process takes up where the saved one was, and runs on if its domain is unpaused. */
  static resume(host: MockHost, domain: MockDomain, saved: SavedGuestProcess): GuestProcess {
    const process = new GuestProcess(host, domain, saved.profile, saved.offsetPages, saved.booted);
    process.bootLeftMs = saved.bootLeftMs;
    process.stalled = saved.stalled;
    process.demandPages = saved.demandPages;
    process.movedPages = saved.movedPages;
    if (domain.pauseCount === 0) process.onUnpaused();
    return process;
  }

  /** The domain was unpaused: the kernel boots (once), the driver resumes. */
  onUnpaused(): void {
    if (!this.booted && this.bootTimer === undefined) {
      this.bootStartedAt = this.host.clock.now();
      this.bootTimer = this.host.schedule(this.bootLeftMs, () => {
        this.bootTimer = undefined;
        this.booted = true;
        this.host.changed(false);
        this.kick();
      });
    }
    this.kick();
  }

  /** The domain was paused: vCPUs stop, so does the boot countdown and the driver. */
  onPaused(): void {
    if (this.bootTimer) {
      this.bootTimer.cancel();
      this.bootTimer = undefined;
      this.bootLeftMs = Math.max(0, this.bootLeftMs - (this.host.clock.now() - this.bootStartedAt));
    }
    this.cancelTimers();
  }

  setProfile(profile: GuestProfile): void {
    this.profile = profile;
    if (!this.booted && this.bootTimer === undefined) this.bootLeftMs = profile.bootDelayS * 1000;
    this.kick();
  }

  /** libxl wrote a new memory/target: it replaces any growth demand of the guest's own. */
  targetChanged(): void {
    this.demandPages = undefined;
    this.unblockAndKick();
  }

  /** The guest itself wants to grow to `pages` (a demand); it balloons up on its own once booted. */
  requestGrowth(pages: number): void {
    this.demandPages = pages;
    this.unblockAndKick();
  }

  onMemoryChanged(): void {
    if (this.blocked === undefined || this.retryTimer !== undefined || this.stopped) return;
    this.retryTimer = this.host.schedule(this.host.spec.balloonRetryS * 1000, () => {
      this.retryTimer = undefined;
      this.host.removeWaiter(this);
      this.blocked = undefined;
      this.kick();
    });
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimers();
    if (this.bootTimer) this.bootTimer.cancel();
    this.bootTimer = undefined;
    this.host.removeWaiter(this);
  }

  /**
   * Where the driver stops on its way to its goal: short of it by its inaccuracy, and never past its hidden floor
   * (going down) or ceiling (going up); never beyond where it is when it has nothing to do.
   */
  stopPages(): number {
    const tot = this.domain.account.totPages;
    const goal = this.goalPages();
    const { inaccuracyMiB, hiddenMinMiB, hiddenMaxMiB } = this.profile;
    const slack = Math.floor(inaccuracyMiB * PAGES_PER_MIB);
    if (goal < tot) {
      const stop = Math.max(goal + slack, hiddenMinMiB === undefined ? 0 : Math.ceil(hiddenMinMiB * PAGES_PER_MIB));
      return Math.min(tot, stop);
    }
    if (goal > tot) {
      const stop = Math.min(goal - slack, hiddenMaxMiB === undefined ? Number.MAX_SAFE_INTEGER : Math.floor(hiddenMaxMiB * PAGES_PER_MIB));
      return Math.max(tot, stop);
    }
    return tot;
  }

  /** An intermittent driver's phase at `nowMs`: moving or not, and until when (ms); always moving otherwise. */
  private phase(nowMs: number): { moving: boolean; untilMs: number } {
    const cycle = this.profile.intermittent;
    if (cycle === undefined || cycle.stuckS === 0) return { moving: true, untilMs: Number.POSITIVE_INFINITY };
    // Whole milliseconds: a fractional period would let float error wake it a hair too early, over and over.
    const movingMs = Math.max(1, Math.round(cycle.movingS * 1000));
    const periodMs = movingMs + Math.max(1, Math.round(cycle.stuckS * 1000));
    const into = Math.floor(nowMs) % periodMs;
    const moving = into < movingMs;
    return { moving, untilMs: Math.floor(nowMs) - into + (moving ? movingMs : periodMs) };
  }

  /** Schedules the next balloon tick when there is work the driver can do now. */
  kick(): void {
    if (this.tickTimer !== undefined || this.retryTimer !== undefined || this.blocked !== undefined) return;
    if (!this.canRun() || this.stopPages() === this.domain.account.totPages) {
      this.duePages = 0;
      return;
    }
    this.tickTimer = this.host.schedule(TICK_MS, () => {
      this.tickTimer = undefined;
      this.tick();
    });
  }

  private unblockAndKick(): void {
    if (this.retryTimer) {
      this.retryTimer.cancel();
      this.retryTimer = undefined;
    }
    this.blocked = undefined;
    this.host.removeWaiter(this);
    this.kick();
  }

  private canRun(): boolean {
    const d = this.domain;
    return !this.stopped && this.booted && !this.stalled && this.profile.cooperative && d.pauseCount === 0
      && !d.account.dying && !d.shutdown;
  }

  private tick(): void {
    if (!this.canRun()) return;
    const account = this.domain.account;
    const diff = this.stopPages() - account.totPages;
    if (diff === 0) return;
    const now = this.host.clock.now();
    const phase = this.phase(now);
    if (!phase.moving) {
      // Stuck for now: look again when the moving phase comes back.
      this.tickTimer = this.host.schedule(Math.max(1, phase.untilMs - now), () => {
        this.tickTimer = undefined;
        this.tick();
      });
      return;
    }
    // Pages due this tick at the balloon rate; the fraction carries over so the rate is exact over time.
    this.duePages += (this.profile.balloonMiBps * PAGES_PER_MIB * TICK_MS) / 1000;
    let chunk = Math.min(Math.abs(diff), Math.max(1, Math.floor(this.duePages)));
    if (this.profile.stallAfterMiB !== undefined) {
      chunk = Math.min(chunk, Math.max(0, Math.floor(this.profile.stallAfterMiB * PAGES_PER_MIB) - this.movedPages));
      if (chunk === 0) {
        this.stalled = true;
        return;
      }
    }
    this.duePages = Math.max(0, this.duePages - chunk);
    const host = this.host;
    if (diff < 0) {
      host.counts.guestHypercalls.decreaseReservation++;
      if (host.faults.take('balloon:decrease')) return this.block('fault');
      host.heap.release(account, chunk);
      this.movedPages += chunk;
      host.memoryChanged();
    } else {
      host.counts.guestHypercalls.populate++;
      if (host.faults.take('balloon:populate')) return this.block('fault');
      const result = host.heap.allocate(account, chunk, 0);
      this.movedPages += result.pages;
      if (result.errno !== OK && result.pages < chunk) {
        return this.block(result.errno === EPERM ? 'maxPages' : 'memory');
      }
    }
    this.host.changed(false);
    this.kick();
  }

  private block(reason: BlockReason): void {
    this.blocked = reason;
    this.host.addWaiter(this);
    // A fault is transient: retry as after a refusal, without waiting for another domain to free memory.
    if (reason === 'fault') this.onMemoryChanged();
  }

  private cancelTimers(): void {
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    this.host.removeWaiter(this);
    this.blocked = undefined;
  }
}
