/**
 * What every peer model shares (src/peers): a request taken in like a strategy takes it (checked, one request per
 * name, libxl's need read), handed to the model's own way of creating it, and settled once — running or failed —
 * with the same events and results the strategies give, so the simulator reports and draws them side by side.
 */
import type { ObservedState } from '../admission/state.js';
import { stillToTake } from '../toolstack/builds-in-flight.js';
import type { StrategyContext } from '../toolstack/context.js';
import { needPages, takeRequestName } from '../toolstack/requests.js';
import { fail, newResult, succeed } from '../toolstack/results.js';
import type { AdmissionResult, GuestRequest } from '../toolstack/types.js';
import { kibToMiB } from '../units.js';

/** A size for a peer model's error text: KiB as whole MiB ("1004 MiB"). */
export function mib(kib: number): string {
  return `${Math.round(kibToMiB(kib))} MiB`;
}

/** A model's way of creating one guest: resolves with its domid, or throws why it could not (the failure text). */
export type CreateGuest = (request: GuestRequest, needPages: number, result: AdmissionResult) => Promise<number>;

export class PeerAdmissions {
  private readonly inFlight = new Set<Promise<AdmissionResult>>();
  private readonly names = new Set<string>();
  /** Each request in flight whose need is known: name → pages. */
  private readonly needs = new Map<string, number>();

  constructor(private readonly ctx: StrategyContext) {}

  /** Requests not settled yet. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Takes the request in and creates it with `create`. Never rejects: the outcome is in the result. */
  admit(request: GuestRequest, create: CreateGuest): Promise<AdmissionResult> {
    const work = this.run(request, create);
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return work;
  }

  /**
   * What the requests in flight still need beyond what Xen shows for them (their domain's tot_pages plus its claim),
   * in pages: what a model has promised out of the headroom (AdmissionStrategy.promisedPages).
   */
  promisedPages(state: ObservedState): number {
    return stillToTake(this.needs, state);
  }

  /** Resolves once every request has settled. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async run(request: GuestRequest, create: CreateGuest): Promise<AdmissionResult> {
    const ctx = this.ctx;
    const result = newResult(ctx, request);
    try {
      takeRequestName(this.names, request);
    } catch (error) {
      return fail(ctx, result, error);
    }
    try {
      const need = await needPages(ctx, request);
      this.needs.set(request.name, need);
      return succeed(ctx, result, await create(request, need, result));
    } catch (error) {
      ctx.building.delete(request.name);
      return fail(ctx, result, error);
    } finally {
      this.needs.delete(request.name);
      this.names.delete(request.name);
    }
  }
}

/** The guest's build starts now (admittedAtMs), as one of the host's builds, with or without a claim. */
export function startBuilding(ctx: StrategyContext, request: GuestRequest, result: AdmissionResult, claim: boolean): Promise<number> {
  result.admittedAtMs = ctx.clock.now();
  ctx.building.add(request.name);
  ctx.emit({ type: 'building', request: request.name, claim, attempt: 1 });
  return ctx.mutations.buildGuest({ name: request.name, claim, paused: request.paused ?? false }, request.config);
}
