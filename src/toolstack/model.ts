/**
 * The model strategy (xapi's squeezed): one loop keeps an internal model of free memory — host headroom minus what
 * running guests will still grow to minus what admitted builds are still owed (reservations) — and admits from it,
 * in arrival order, without limits or claims (builds use claim: false). Each poll it observes the host, ties
 * reservations to the domains being built, reconciles the model with what the hypervisor reports (guests converge,
 * donors free memory), admits what now fits, and balloons donors (the same fraction of each range) for what waits.
 * A build finishing releases its reservation. Stuck donors are detected by progress.ts and never asked again;
 * the wait for memory is budgeted by wall time. A build refused memory by the hypervisor (something grew that the
 * model could not foresee, e.g. a guest ballooning up on its own) goes back to the queue while the budget lasts.
 */
import { AdmissionError, buildGiveUpReport } from '../admission/give-up.js';
import {
  admitFromModel, createModel, modelFreePages, reconcile, releaseReservation, transferReservation, type HostModel,
} from '../admission/model.js';
import { applyPlan, observeProgress, resolveWaitConfig, startWaiting, type WaitState, type WaitStep } from '../admission/progress.js';
import type { BalloonPlan } from '../admission/balloon-plan.js';
import { eventError } from './events.js';
import { DonorLedger, impossibleRequestError, isOutOfMemory, Shell, Signal, takeQueuedRequest } from './shell.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest, StrategyOptions } from './types.js';

interface Entry {
  request: GuestRequest;
  needPages: number;
  result: AdmissionResult;
  resolve: (result: AdmissionResult) => void;
  attempts: number;
  firstAdmittedAtMs: number | null;
}

export class ModelStrategy implements AdmissionStrategy {
  readonly name = 'model' as const;
  readonly shell: Shell;
  private model: HostModel | undefined;
  /** Waiting, in arrival order. */
  private pending: Entry[] = [];
  private readonly building = new Map<string, Entry>();
  /** Names of requests in this strategy, from the moment they arrive until they settle. */
  private readonly names = new Set<string>();
  private readonly changed = new Signal();
  private loop: Promise<void> | undefined;
  private readonly tasks = new Set<Promise<unknown>>();
  /** What the ballooning asked of donors and no started guest has used yet. */
  private readonly ledger = new DonorLedger();

  constructor(options: StrategyOptions) {
    this.shell = new Shell('model', options);
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    const work = this.enter(request);
    this.track(work);
    return work;
  }

  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.tasks, ...(this.loop ? [this.loop] : [])];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  private track(work: Promise<unknown>): void {
    this.tasks.add(work);
    void work.finally(() => this.tasks.delete(work));
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
      this.pending.push({ request, needPages, result, resolve, attempts: 0, firstAdmittedAtMs: null });
      if (this.loop === undefined) this.startLoop();
      else this.changed.notify();
    });
  }

  private startLoop(): void {
    const loop = this.run();
    this.loop = loop;
    void loop.finally(() => {
      if (this.loop === loop) this.loop = undefined;
      if (this.loop === undefined && this.pending.length > 0) this.startLoop();
    });
  }

  private settle(entry: Entry, outcome: { domid: number } | { error: unknown }): void {
    this.names.delete(entry.request.name);
    if ('domid' in outcome) entry.resolve(this.shell.succeed(entry.result, outcome.domid));
    else {
      this.shell.ours.delete(entry.request.name);
      entry.resolve(this.shell.fail(entry.result, outcome.error));
    }
  }

  private startBuild(entry: Entry): void {
    const shell = this.shell;
    const name = entry.request.name;
    entry.attempts++;
    entry.result.admittedAtMs = shell.now();
    const afterAsks = this.ledger.size > 0;
    shell.ours.add(name);
    this.building.set(name, entry);
    shell.emit({ type: 'admitted', request: name, via: 'model' });
    shell.emit({ type: 'building', request: name, claim: false, attempt: entry.attempts });
    const build = shell.backend.createGuest(entry.request.config, { claim: false, paused: entry.request.paused ?? false }).then(
      (domid) => {
        this.release(name);
        // Admitted while donors were being asked: it used what they gave, so they keep their targets.
        if (afterAsks) this.ledger.commit();
        this.settle(entry, { domid });
      },
      (error: unknown) => {
        this.release(name);
        const budgetMs = resolveWaitConfig(shell.options.wait).budgetMs;
        if (isOutOfMemory(error) && shell.now() - entry.result.requestedAtMs < budgetMs) {
          // The hypervisor disagreed with the model: reconcile and try again from the queue.
          shell.emit({ type: 'claim-refused', request: name, error: eventError(error) });
          entry.result.admittedAtMs = null;
          this.pending.unshift(entry);
          if (this.loop === undefined) this.startLoop();
          return;
        }
        this.settle(entry, { error });
      },
    );
    this.track(build);
    void build.finally(() => this.changed.notify());
  }

  private release(name: string): void {
    this.building.delete(name);
    if (this.model) this.model = releaseReservation(this.model, name);
  }

  private async run(): Promise<void> {
    const shell = this.shell;
    let wait: WaitState | undefined;
    let lastPlan: BalloonPlan | undefined;
    const ledger = this.ledger;
    try {
      this.model = createModel((await shell.observe()).state);
      while (this.pending.length > 0 || this.building.size > 0) {
        const observation = await shell.observe();
        let model = this.model!;
        for (const reservation of model.reservations) {
          if (reservation.domid !== undefined) continue;
          const domain = observation.domains.find((d) => d.name === reservation.id && !d.dying);
          if (domain) model = transferReservation(model, reservation.id, domain.domid);
        }
        model = reconcile(model, observation.state).model;

        const waiting = this.pending.map((e) => ({ id: e.request.name, needPages: e.needPages }));
        const admission = admitFromModel(model, waiting, shell.planPolicy());
        this.model = admission.model;
        const byName = new Map(this.pending.map((e) => [e.request.name, e]));
        const leaving = new Set([...admission.admitted, ...admission.impossible].map((r) => r.id));
        this.pending = this.pending.filter((e) => !leaving.has(e.request.name));
        for (const impossible of admission.impossible) {
          this.settle(byName.get(impossible.id)!, {
            error: impossibleRequestError(shell, impossible.id, impossible.needPages, observation.state, wait),
          });
        }
        // Nobody left to benefit from what was asked: donors get it back.
        if (admission.admitted.length === 0 && this.pending.length === 0 && this.building.size === 0) {
          await shell.restoreDonors(ledger, null);
        }
        for (const admitted of admission.admitted) this.startBuild(byName.get(admitted.id)!);

        const plan = admission.balloon;
        if (plan === null || this.pending.length === 0) {
          wait = undefined;
          if (this.pending.length === 0 && this.building.size > 0) await this.changed.wait();
          continue;
        }
        lastPlan = plan;
        const freePages = modelFreePages(this.model);
        const target = Math.max(1, plan.shortfallPages + Math.max(0, freePages));
        let step: WaitStep;
        const newAsks = plan.donors.some((d) => d.askedPages > 0);
        if (!plan.feasible && this.building.size > 0) {
          // What is reserved for builds in flight blocks the plan: wait for them to finish and look again.
          await Promise.race([this.changed.wait(), shell.pause()]);
          continue;
        }
        if (wait === undefined) {
          step = startWaiting({ needPages: target, plan, nowMs: shell.now(), headroomPages: Math.max(0, freePages), config: shell.options.wait });
        } else if (newAsks || !plan.feasible) {
          step = applyPlan({ ...wait, needPages: target }, plan, shell.now());
        } else {
          shell.donorProgress(null, wait.asked, observation.domains);
          step = observeProgress({ ...wait, needPages: target }, {
            nowMs: shell.now(),
            headroomPages: Math.max(0, freePages),
            donors: observation.domains.map((d) => ({ domid: d.domid, totPages: d.totPages })),
          });
        }
        wait = step.state;
        const decision = step.decision;
        if (decision.kind === 'give-up') {
          for (const entry of this.pending) {
            const report = buildGiveUpReport({
              request: entry.request.name, cause: decision.cause, wait: { ...wait, needPages: entry.needPages }, nowMs: shell.now(), lastPlan,
            });
            this.settle(entry, { error: new AdmissionError(report) });
          }
          this.pending = [];
          wait = undefined;
          continue; // what was asked is given back once the builds in flight are done
        }
        if (newAsks) await shell.setDonorTargets(plan, null, ledger);
        if (decision.kind === 'mark-uncooperative') {
          await shell.markUncooperative(ledger, null, wait, decision.domids);
          continue;
        }
        await Promise.race([this.changed.wait(), shell.pause(decision.kind === 'wait' ? decision.untilMs : undefined)]);
      }
    } catch (error) {
      // An observation failed: fail what waits.
      const waiting = this.pending;
      this.pending = [];
      for (const entry of waiting) this.settle(entry, { error });
    }
    // Builds in flight finish first (their memory must not be ballooned back into), then asks no started guest
    // used are given back.
    while (this.building.size > 0) await this.changed.wait();
    await shell.restoreDonors(ledger, null);
  }
}
