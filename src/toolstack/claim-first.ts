/**
 * claim-first (the default): every build claims its whole need in the domain builder (createGuest with claim: true,
 * libxl's claim_mode), so the hypervisor serializes admissions and builds run in parallel without a toolstack lock.
 * A claim refused with ENOMEM starts the ballooning fallback, which runs under the HostLock (one brain per host):
 * observe → planBalloon → set donor targets → wait (progress.ts, on the Clock) → mark stuck donors uncooperative and
 * replan → retry the creation. The lock is held until the retried build's claim is staked (seen as the new domain's
 * outstanding pages), so the memory freed for this request cannot be taken by the next one in line.
 * While a fallback holds the lock, newcomers queue behind it instead of claiming first: memory being freed is spoken for.
 * Donors keep their lowered targets only if the creation succeeds; otherwise what was asked of them is given back.
 */
import { planBalloon, type BalloonPlan } from '../admission/balloon-plan.js';
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import { applyPlan, observeProgress, startWaiting, type WaitState, type WaitStep } from '../admission/progress.js';
import { headroomPages } from '../admission/state.js';
import { eventError } from './events.js';
import { HostLock } from './host-lock.js';
import { DonorLedger, impossibleRequestError, isOutOfMemory, Shell, takeRequestName } from './shell.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest, StrategyOptions } from './types.js';

export interface ClaimFirstOptions extends StrategyOptions {
  /** Share one lock between every strategy instance on the same host (default: a lock of this instance). */
  lock?: HostLock;
}

type RetryOutcome = { kind: 'claimed'; build: Promise<number>; atMs: number } | { kind: 'refused' };

export class ClaimFirstStrategy implements AdmissionStrategy {
  readonly name = 'claim-first' as const;
  readonly shell: Shell;
  private readonly lock: HostLock;
  private readonly inFlight = new Set<Promise<AdmissionResult>>();
  /** Names of requests in flight: a second request for the same name fails at once. */
  private readonly names = new Set<string>();

  constructor(options: ClaimFirstOptions) {
    this.shell = new Shell('claim-first', options);
    this.lock = options.lock ?? new HostLock();
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    const work = this.run(request);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async run(request: GuestRequest): Promise<AdmissionResult> {
    const shell = this.shell;
    const result = shell.newResult(request);
    try {
      takeRequestName(this.names, request);
    } catch (error) {
      return shell.fail(result, error);
    }
    try {
      return await this.admitOne(request, result);
    } finally {
      this.names.delete(request.name);
    }
  }

  private async admitOne(request: GuestRequest, result: AdmissionResult): Promise<AdmissionResult> {
    const shell = this.shell;
    try {
      const needPages = await shell.needPages(request);
      shell.ours.add(request.name);
      let attempt = 0;
      if (!this.lock.locked) {
        attempt++;
        const atMs = shell.now();
        shell.emit({ type: 'building', request: request.name, claim: true, attempt });
        try {
          const domid = await shell.backend.createGuest(request.config, { claim: true, paused: request.paused ?? false });
          result.admittedAtMs = atMs;
          return shell.succeed(result, domid);
        } catch (error) {
          if (!isOutOfMemory(error)) throw error;
          shell.emit({ type: 'claim-refused', request: request.name, error: eventError(error) });
        }
      }
      // More than the host could ever give (headroom + everything reclaimable + pages still coming back): fail
      // now, without waiting for the lock and without asking anyone.
      const observation = await shell.observe();
      const plan = planBalloon(observation.state, { needPages, policy: shell.planPolicy() });
      const returning = observation.domains.filter((d) => d.dying).reduce((sum, d) => sum + d.totPages, 0);
      if (needPages > headroomPages(observation.state.host) + plan.reclaimablePages + returning) {
        throw impossibleRequestError(shell, request.name, needPages, observation.state);
      }
      return await this.fallback(request, needPages, result, attempt);
    } catch (error) {
      shell.ours.delete(request.name);
      return shell.fail(result, error);
    }
  }

  private async fallback(request: GuestRequest, needPages: number, result: AdmissionResult, attempts: number): Promise<AdmissionResult> {
    const shell = this.shell;
    const name = request.name;
    let wait: WaitState | undefined;
    let lastPlan: BalloonPlan | undefined;
    let attempt = attempts;
    let buildAtMs = 0;
    const ledger = new DonorLedger();
    const giveUp = (cause: 'budget-exhausted' | 'nothing-left-to-ask'): AdmissionError =>
      new AdmissionError(buildGiveUpReport({ request: name, cause, wait: wait!, nowMs: shell.now(), lastPlan }));

    try {
      const claimed = await this.lock.withLock(async (): Promise<{ build: Promise<number> }> => {
        const replan = async (): Promise<WaitStep> => {
          const observation = await shell.observe();
          const plan = planBalloon(observation.state, { needPages, policy: shell.planPolicy() });
          lastPlan = plan;
          const nowMs = shell.now();
          const step = wait === undefined
            ? startWaiting({ needPages, plan, nowMs, headroomPages: headroomPages(observation.state.host), config: shell.options.wait })
            : applyPlan(wait, plan, nowMs);
          wait = step.state;
          if (step.decision.kind !== 'give-up') await shell.setDonorTargets(plan, name, ledger);
          return step;
        };

        let step = await replan();
        for (;;) {
          const decision = step.decision;
          switch (decision.kind) {
            case 'give-up':
              throw giveUp(decision.cause);
            case 'retry-claim': {
              attempt++;
              const outcome = await this.buildHoldingUntilClaimed(request, attempt);
              if (outcome.kind === 'claimed') {
                buildAtMs = outcome.atMs;
                // Wrapped: returning the promise itself would keep the lock until the build ends.
                return { build: outcome.build };
              }
              // Refused again (the memory went elsewhere, or an injected ENOMEM): within the budget, look again.
              if (shell.now() - wait!.startedMs >= wait!.config.budgetMs) throw giveUp('budget-exhausted');
              await shell.pause();
              step = await replan();
              break;
            }
            case 'mark-uncooperative':
              // A stuck donor keeps what it gave and is asked for nothing more; the others are asked instead.
              await shell.markUncooperative(ledger, name, wait!, decision.domids);
              step = await replan();
              break;
            case 'replan':
              // Every donor reached its target and it is still short: let time pass once, then ask again.
              await shell.pause();
              step = await replan();
              break;
            case 'wait': {
              await shell.pause(decision.untilMs);
              const observation = await shell.observe();
              shell.donorProgress(name, wait!.asked, observation.domains);
              step = observeProgress(wait!, {
                nowMs: shell.now(),
                headroomPages: headroomPages(observation.state.host),
                donors: observation.domains.map((d) => ({ domid: d.domid, totPages: d.totPages })),
              });
              wait = step.state;
              break;
            }
          }
        }
      });
      result.admittedAtMs = buildAtMs;
      const domid = await claimed.build;
      return shell.succeed(result, domid);
    } catch (error) {
      if (ledger.size > 0) await this.lock.withLock(() => shell.restoreDonors(ledger, name));
      throw error;
    }
  }

  /**
   * Starts the build and returns once its claim is staked (or the build settled), so the lock can be released while
   * the guest populates. A refusal with ENOMEM returns 'refused'; any other failure throws.
   */
  private async buildHoldingUntilClaimed(request: GuestRequest, attempt: number): Promise<RetryOutcome> {
    const shell = this.shell;
    const atMs = shell.now();
    shell.emit({ type: 'building', request: request.name, claim: true, attempt });
    const build = shell.backend.createGuest(request.config, { claim: true, paused: request.paused ?? false });
    let settled: { ok: true; domid: number } | { ok: false; error: unknown } | undefined;
    build.then(
      (domid) => (settled = { ok: true, domid }),
      (error: unknown) => (settled = { ok: false, error }),
    );
    let delayMs = 0;
    for (;;) {
      await shell.clock.sleep(delayMs);
      delayMs = shell.pollMs;
      if (settled) {
        if (settled.ok) return { kind: 'claimed', build, atMs };
        if (isOutOfMemory(settled.error)) {
          shell.emit({ type: 'claim-refused', request: request.name, error: eventError(settled.error) });
          return { kind: 'refused' };
        }
        throw settled.error;
      }
      let domains;
      try {
        domains = await shell.backend.listDomains();
      } catch {
        continue; // Looking is best effort; the build's own outcome still decides.
      }
      const mine = domains.find((d) => d.name === request.name && !d.dying);
      if (mine && (mine.outstandingPages > 0 || mine.totPages > 0)) {
        shell.emit({ type: 'admitted', request: request.name, via: 'claim' });
        return { kind: 'claimed', build, atMs };
      }
    }
  }
}
