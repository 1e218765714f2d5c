/**
 * What the two queueing strategies (limit-and-check, model) share: requests wait in one loop of the strategy's own,
 * are admitted by it and built without a claim (their admission is the strategy's, not the hypervisor's). The queue
 * takes each request in (checked, named once, its need read), starts and tracks the builds, settles each request
 * exactly once, runs the strategy's loop while there is work, and knows when everything is idle.
 */
import { DonorLedger } from '../admission/donor-ledger.js';
import type { ObservedState } from '../admission/state.js';
import type { StrategyContext } from './context.js';
import { takeQueuedRequest } from './requests.js';
import { fail, newResult, succeed } from './results.js';
import { Signal } from './signal.js';
import type { AdmissionResult, GuestRequest } from './types.js';

/** A request in a queueing strategy, from arrival until it settles. */
export interface QueuedRequest {
  request: GuestRequest;
  needPages: number;
  result: AdmissionResult;
  resolve: (result: AdmissionResult) => void;
  /** Builds started for it so far. */
  attempts: number;
}

/** How a request settles: running as `domid`, or failed with `error`. */
export type BuildOutcome = { domid: number } | { error: unknown };

/** What the strategy does when one of its unclaimed builds ends. */
export interface BuildHooks {
  /** The build returned: the strategy updates its own books (before the request settles). */
  built(entry: QueuedRequest): void;
  /** The build failed: true when the strategy took the request back to try again (it is not settled then). */
  failed(entry: QueuedRequest, error: unknown): boolean;
}

/** The intake, builds and settling of limit-and-check and model (see the file header). */
export class BuildQueue {
  /** What the ballooning asked of donors and no started guest has used yet. */
  readonly ledger = new DonorLedger();
  /** Notified when a request arrives (through `arrive`) or a build ends. */
  readonly changed = new Signal();
  /** Requests not settled yet, by name. */
  private readonly entries = new Map<string, QueuedRequest>();
  private readonly names = new Set<string>();
  private readonly tasks = new Set<Promise<unknown>>();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly ctx: StrategyContext,
    /** How the strategy admits, for the 'admitted' event. */
    private readonly via: 'pool' | 'model',
    private readonly hooks: BuildHooks,
  ) {}

  /**
   * Takes a request in; `arrive` queues it in the strategy's order and starts or wakes its loop. Resolves when the
   * request settles; never rejects.
   */
  admit(request: GuestRequest, arrive: (entry: QueuedRequest) => void): Promise<AdmissionResult> {
    const work = this.enter(request, arrive);
    this.track(work);
    return work;
  }

  /** Resolves once every request has settled, every build ended and the loop stopped. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.tasks, ...(this.loop ? [this.loop] : [])];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Starts the strategy's loop; when it ends, `restart()` says whether work arrived meanwhile that needs a new one. */
  startLoop(run: () => Promise<void>, restart: () => boolean = () => false): void {
    const loop = run();
    this.loop = loop;
    void loop.finally(() => {
      if (this.loop === loop) this.loop = undefined;
      if (this.loop === undefined && restart()) this.startLoop(run, restart);
    });
  }

  entry(name: string): QueuedRequest | undefined {
    return this.entries.get(name);
  }

  /**
   * What the strategy has promised out of the headroom of `state`: the needs of the requests `waiting`, and what the
   * builds `building` still have to populate (their need less their domain's tot_pages).
   */
  promisedPages(state: ObservedState, waiting: readonly string[], building: readonly string[]): number {
    let pages = 0;
    for (const name of waiting) pages += this.entries.get(name)?.needPages ?? 0;
    for (const name of building) {
      const need = this.entries.get(name)?.needPages ?? 0;
      const domain = state.domains.find((d) => d.name === name && !d.dying);
      pages += Math.max(0, need - (domain?.totPages ?? 0));
    }
    return pages;
  }

  /** Settles the request (once): running as `domid`, or failed with `error`. */
  settle(entry: QueuedRequest, outcome: BuildOutcome): void {
    const name = entry.request.name;
    if (this.entries.get(name) !== entry) return;
    this.entries.delete(name);
    this.names.delete(name);
    if ('domid' in outcome) entry.resolve(succeed(this.ctx, entry.result, outcome.domid));
    else {
      this.ctx.building.delete(name);
      entry.resolve(fail(this.ctx, entry.result, outcome.error));
    }
  }

  /**
   * Admitted: builds the guest without a claim. If donors had been asked when it was admitted, it used what they
   * gave, so they keep their targets once it runs.
   */
  startBuild(entry: QueuedRequest): void {
    const ctx = this.ctx;
    const name = entry.request.name;
    entry.attempts++;
    entry.result.admittedAtMs = ctx.clock.now();
    const afterAsks = this.ledger.size > 0;
    ctx.building.add(name);
    ctx.emit({ type: 'admitted', request: name, via: this.via });
    ctx.emit({ type: 'building', request: name, claim: false, attempt: entry.attempts });
    const build = ctx.mutations.buildGuest({ name, claim: false, paused: entry.request.paused ?? false }, entry.request.config).then(
      (domid) => {
        this.hooks.built(entry);
        if (afterAsks) this.ledger.commit();
        this.settle(entry, { domid });
      },
      (error: unknown) => {
        if (!this.hooks.failed(entry, error)) this.settle(entry, { error });
      },
    );
    this.track(build);
    void build.finally(() => this.changed.notify());
  }

  private async enter(request: GuestRequest, arrive: (entry: QueuedRequest) => void): Promise<AdmissionResult> {
    const result = newResult(this.ctx, request);
    let needPages: number;
    try {
      needPages = await takeQueuedRequest(this.ctx, this.names, request);
    } catch (error) {
      return fail(this.ctx, result, error);
    }
    return new Promise<AdmissionResult>((resolve) => {
      const entry: QueuedRequest = { request, needPages, result, resolve, attempts: 0 };
      this.entries.set(request.name, entry);
      arrive(entry);
    });
  }

  private track(work: Promise<unknown>): void {
    this.tasks.add(work);
    void work.finally(() => this.tasks.delete(work));
  }
}
