/**
 * limit-and-check, as George Dunlap described it in the 2013 claim debate. One loop per batch (a batch lasts while
 * requests wait or build):
 *   check: set max_pages of every running guest to its current size (setMaxMem), observe, admit from that pool in
 *   arrival order (checkRound), build the admitted guests with claim: false, balloon round-robin for what waits;
 *   then re-check only after every guest being built has finished — or, when nothing is building, once the
 *   ballooning has freed enough (progress.ts: stall per donor, wall-time budget);
 *   end: remove every limit, on every path (finally), failures and exceptions included.
 * A request arriving while guests are built is admitted from what is left of the last check's pool when it fits;
 * otherwise it waits for the re-check after those builds (which is what makes this strategy slow in case B).
 * On a host with tmem (before Xen 4.13) the batch also freezes tmem and caps it at its size, and thaws it at the end;
 * on Xen ≥ 4.13 there is no tmem (features.tmem is false) and nothing is called.
 * Donors ballooned for requests that end up admitted keep their targets; when the wait gives up they get back
 * what was asked of them.
 */
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import {
  addLimits, applyRound, buildFinished, checkRound, enqueue, giveUpWaiting, limitsFor, nextAction, startSession,
  type LimitAndCheckSession, type MaxMemLimit,
} from '../admission/limit-and-check.js';
import { applyPlan, observeProgress, startWaiting, type GiveUpCause, type WaitState, type WaitStep } from '../admission/progress.js';
import { planBalloon, type BalloonPlan } from '../admission/balloon-plan.js';
import { headroomPages, type ObservedState } from '../admission/state.js';
import { DonorLedger, impossibleRequestError, Shell, Signal, takeQueuedRequest } from './shell.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest, StrategyOptions } from './types.js';

interface Entry {
  request: GuestRequest;
  needPages: number;
  result: AdmissionResult;
  resolve: (result: AdmissionResult) => void;
}

export class LimitAndCheckStrategy implements AdmissionStrategy {
  readonly name = 'limit-and-check' as const;
  readonly shell: Shell;
  private session: LimitAndCheckSession | undefined;
  private readonly entries = new Map<string, Entry>();
  /** Names of requests in this strategy, from the moment they arrive until they settle. */
  private readonly names = new Set<string>();
  private readonly changed = new Signal();
  private loop: Promise<void> | undefined;
  /** What is left of the pool the last check computed. */
  private poolLeftPages = 0;
  /** tmem frozen and capped by this batch (pre-4.13 hosts only). */
  private tmemFrozen = false;
  /** The last check's observation and the most any later check could find. */
  private lastCheck: { state: ObservedState; capacityPages: number } | undefined;
  /** What this batch's ballooning asked of donors and no started guest has used yet. */
  private readonly ledger = new DonorLedger();
  private readonly builds = new Set<Promise<void>>();
  private readonly admissions = new Set<Promise<AdmissionResult>>();

  constructor(options: StrategyOptions) {
    this.shell = new Shell('limit-and-check', options);
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    const work = this.enter(request);
    this.admissions.add(work);
    void work.finally(() => this.admissions.delete(work));
    return work;
  }

  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.admissions, ...this.builds, ...(this.loop ? [this.loop] : [])];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  private async enter(request: GuestRequest): Promise<AdmissionResult> {
    const shell = this.shell;
    const result = shell.newResult(request);
    let needPages: number;
    try {
      needPages = await takeQueuedRequest(shell, this.names, request);
    } catch (error) {
      return shell.fail(result, error);
    }
    return new Promise<AdmissionResult>((resolve) => {
      this.entries.set(request.name, { request, needPages, result, resolve });
      const pool = { id: request.name, needPages };
      if (this.session === undefined) {
        this.session = startSession([pool]);
        this.startLoop();
      } else {
        this.session = enqueue(this.session, pool);
        this.changed.notify();
      }
    });
  }

  private startLoop(): void {
    const loop = this.runBatch();
    this.loop = loop;
    void loop.finally(() => {
      if (this.loop === loop) this.loop = undefined;
    });
  }

  private settle(id: string, outcome: { domid: number } | { error: unknown }): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.names.delete(id);
    if ('domid' in outcome) entry.resolve(this.shell.succeed(entry.result, outcome.domid));
    else {
      this.shell.ours.delete(id);
      entry.resolve(this.shell.fail(entry.result, outcome.error));
    }
  }

  private startBuild(id: string): void {
    const entry = this.entries.get(id)!;
    const shell = this.shell;
    entry.result.admittedAtMs = shell.now();
    const afterAsks = this.ledger.size > 0;
    shell.ours.add(id);
    shell.emit({ type: 'admitted', request: id, via: 'pool' });
    shell.emit({ type: 'building', request: id, claim: false, attempt: 1 });
    const build = shell.backend.createGuest(entry.request.config, { claim: false, paused: entry.request.paused ?? false }).then(
      (domid) => {
        // Admitted while donors were being asked: it used what they gave, so they keep their targets.
        if (afterAsks) this.ledger.commit();
        this.session = this.session && buildFinished(this.session, id, true);
        this.settle(id, { domid });
      },
      (error: unknown) => {
        this.session = this.session && buildFinished(this.session, id, false);
        this.settle(id, { error });
      },
    );
    this.builds.add(build);
    void build.finally(() => {
      this.builds.delete(build);
      this.changed.notify();
    });
  }

  /** Pre-4.13 hosts only: tmem must not grow into the pool either — freeze it and cap it at its current size. */
  private async freezeTmem(): Promise<void> {
    const backend = this.shell.backend;
    this.tmemFrozen = true; // set first: a failure below still thaws at the end
    await backend.tmemFreeze();
    await backend.tmemSetCap(await backend.tmemFreeablePages());
  }

  /**
   * While builds run, a newcomer is admitted from what is left of the pool the last check computed (no re-check:
   * memory freed since is not in it), in arrival order; the first that does not fit waits for the re-check.
   */
  private admitFromPool(): void {
    // More than any re-check could find (the last pool, everything reclaimable, pages still coming back): fail now.
    const last = this.lastCheck;
    if (last !== undefined) {
      for (const pending of this.session!.pending.filter((p) => p.needPages > last.capacityPages)) {
        this.session = { ...this.session!, pending: this.session!.pending.filter((p) => p.id !== pending.id) };
        this.settle(pending.id, { error: impossibleRequestError(this.shell, pending.id, pending.needPages, last.state) });
      }
    }
    const session = this.session!;
    const admitted: string[] = [];
    for (const pending of session.pending) {
      if (pending.needPages > this.poolLeftPages) break;
      this.poolLeftPages -= pending.needPages;
      admitted.push(pending.id);
    }
    if (admitted.length === 0) return;
    this.session = {
      ...session,
      pending: session.pending.filter((p) => !admitted.includes(p.id)),
      building: [...session.building, ...admitted],
    };
    for (const id of admitted) this.startBuild(id);
  }

  private failWaiting(cause: GiveUpCause, wait: WaitState | undefined, lastPlan: BalloonPlan | undefined): void {
    const session = this.session!;
    for (const pending of session.pending) {
      const error = wait
        ? new AdmissionError(buildGiveUpReport({
            request: pending.id, cause, wait: { ...wait, needPages: pending.needPages }, nowMs: this.shell.now(), lastPlan,
          }))
        : new Error(`${pending.id}: gave up waiting for memory (${cause})`);
      this.settle(pending.id, { error });
    }
    this.session = giveUpWaiting(session);
  }

  /** One batch: checks until nothing waits or builds; the limits are removed however it ends. */
  private async runBatch(): Promise<void> {
    const shell = this.shell;
    let wait: WaitState | undefined;
    let lastPlan: BalloonPlan | undefined;
    let rotateAfterDomid: number | undefined;
    const ledger = this.ledger;
    try {
      // Requests arriving at the same instant join the first check.
      await shell.clock.sleep(0);
      for (;;) {
        const action = nextAction(this.session!);
        if (action.kind === 'release-limits') break;
        if (action.kind === 'wait-for-builds') {
          this.admitFromPool();
          await this.changed.wait();
          continue;
        }

        // Check: limit, read free memory once, admit from that pool.
        if (shell.backend.features.tmem && !this.tmemFrozen) await this.freezeTmem();
        let observation = await shell.observe();
        const limits = limitsFor(observation.state, {}, this.session!.limits);
        if (limits.length > 0) {
          const set: MaxMemLimit[] = [];
          try {
            for (const limit of limits) {
              await shell.backend.setMaxMem(limit.domid, limit.toKiB);
              this.session = addLimits(this.session!, [limit]);
              set.push(limit);
            }
          } finally {
            if (set.length > 0) shell.emit({ type: 'limits-set', request: null, limits: set });
          }
          observation = await shell.observe();
        }
        const round = checkRound(observation.state, this.session!.pending, { policy: shell.planPolicy(), rotateAfterDomid });
        this.session = applyRound(this.session!, round);
        this.poolLeftPages = round.remainingPoolPages;
        const reclaimable = planBalloon(observation.state, { needPages: 0, policy: { ...shell.planPolicy(), countPendingGrowth: false } }).reclaimablePages;
        const returning = observation.domains.filter((d) => d.dying).reduce((sum, d) => sum + d.totPages, 0);
        this.lastCheck = { state: observation.state, capacityPages: round.poolPages + reclaimable + returning };
        for (const impossible of round.impossible) {
          this.settle(impossible.id, { error: impossibleRequestError(shell, impossible.id, impossible.needPages, observation.state, wait) });
        }
        // Nobody left to benefit from what was asked: donors get it back.
        if (round.admitted.length === 0 && this.session!.pending.length === 0 && this.session!.building.length === 0) {
          await shell.restoreDonors(ledger, null);
        }
        for (const admitted of round.admitted) this.startBuild(admitted.id);
        if (round.admitted.length > 0) wait = undefined;

        const plan = round.balloon;
        if (plan === null) continue;
        lastPlan = plan;
        const target = round.remainingPoolPages + plan.shortfallPages;
        let step: WaitStep = wait === undefined
          ? startWaiting({ needPages: target, plan, nowMs: shell.now(), headroomPages: round.remainingPoolPages, config: shell.options.wait })
          : applyPlan({ ...wait, needPages: target }, plan, shell.now());
        wait = step.state;
        if (step.decision.kind !== 'give-up') {
          await shell.setDonorTargets(plan, null, ledger);
          const asked = plan.donors.filter((d) => d.askedPages > 0);
          if (asked.length > 0) rotateAfterDomid = asked[asked.length - 1]!.domid;
        }
        // Builds in flight: the next check waits for all of them (the ballooning goes on meanwhile).
        if (this.session!.building.length > 0 && step.decision.kind !== 'give-up') continue;

        // Nothing building: wait on the donors until the pool would cover the waiting run, then check again.
        for (;;) {
          const decision = step.decision;
          if (decision.kind === 'give-up') {
            this.failWaiting(decision.cause, wait, lastPlan);
            wait = undefined;
            // Builds use no claims: donors growing back now could take the pool lent to them, so only when none run
            // (otherwise the end of the batch gives it back).
            if (this.session!.building.length === 0) await shell.restoreDonors(ledger, null);
            break;
          }
          if (decision.kind === 'retry-claim') break;
          if (decision.kind === 'replan') {
            await shell.pause();
            break;
          }
          if (decision.kind === 'mark-uncooperative') {
            await shell.markUncooperative(ledger, null, wait, decision.domids);
            break;
          }
          const arrived = this.session!.pending.length;
          await Promise.race([shell.pause(decision.untilMs), this.changed.wait()]);
          // A newcomer is checked at once (nothing is building, so a re-check is allowed).
          if (this.session!.pending.length > arrived) break;
          const seen = await shell.observe();
          shell.donorProgress(null, wait.asked, seen.domains);
          step = observeProgress(wait, {
            nowMs: shell.now(),
            headroomPages: headroomPages(seen.state.host),
            donors: seen.domains.map((d) => ({ domid: d.domid, totPages: d.totPages })),
          });
          wait = step.state;
        }
      }
    } catch (error) {
      // An observation or a limit failed: fail what waits; builds in flight finish on their own, and what was asked
      // of donors is given back once they have (releaseLimits).
      const session = this.session!;
      for (const pending of session.pending) this.settle(pending.id, { error });
      this.session = { ...session, pending: [] };
    } finally {
      await this.releaseLimits();
    }
  }

  /** Removes every limit of the batch (each retried once), then starts a new batch for requests that came meanwhile. */
  private async releaseLimits(): Promise<void> {
    const shell = this.shell;
    // Builds admitted from the pool still run: the batch ends when they have finished.
    while (this.session!.building.length > 0) await this.changed.wait();
    // Asks no started guest used (its request failed or gave up): given back before the limits go.
    await shell.restoreDonors(this.ledger, null);
    const limits = [...this.session!.limits];
    const removed: MaxMemLimit[] = [];
    for (const limit of limits) {
      const ok = await shell.cleanup(null, `remove the max_pages limit of ${limit.name} (domid ${limit.domid})`, () =>
        shell.backend.setMaxMem(limit.domid, limit.fromKiB),
      );
      if (ok) removed.push({ ...limit, fromKiB: limit.toKiB, toKiB: limit.fromKiB });
    }
    if (removed.length > 0) shell.emit({ type: 'limits-removed', request: null, limits: removed });
    if (this.tmemFrozen) {
      this.tmemFrozen = false;
      // The cap is lifted (tmem has no "get cap" to restore an earlier one from) and tmem may take pages again.
      await shell.cleanup(null, 'lift the tmem cap', () => shell.backend.tmemSetCap(Number.MAX_SAFE_INTEGER));
      await shell.cleanup(null, 'thaw tmem', () => shell.backend.tmemThaw());
    }
    const late = this.session!.pending;
    this.session = undefined;
    this.lastCheck = undefined;
    if (late.length > 0) {
      this.session = startSession(late);
      this.startLoop();
    }
  }
}
