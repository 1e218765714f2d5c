/**
 * A MODEL of how xapi starts VMs (xapi-project/xen-api master of 2026-08, commit e2ee48d688) — not xapi itself:
 *
 * - xenopsd runs VM operations on a pool of 4 workers (ocaml/xenopsd/lib/xenopsd.ml `worker_pool_size`); a start
 *   waits for a free worker and holds it to the end of its build;
 * - it first asks squeezed to reserve the VM's memory (ocaml/squeezed/src/memory_server.ml `reserve_memory`, under
 *   squeezed's one `big_server_mutex`): xapi's own memory check fails at once a VM larger than the host could free by
 *   squeezing every guest to its dynamic-min; otherwise squeezed balances (`change_host_free_memory`, iterations 1 s
 *   apart, src/admission/squeeze.ts) until free memory less every reservation covers the VM plus the 72 MiB slush,
 *   and records the reservation; a squeeze that ends short fails the start (Domains_refused_to_cooperate);
 * - the domain is built with a claim of its whole allocation (ocaml/xenopsd/xc/domain.ml: "A failure here is a hard
 *   failure"): ENOMEM fails the start; the reservation counts against free memory until the guest runs;
 * - squeezed sets each donor's target with max_pages following it, and every 10 s, if the host is not balanced,
 *   gives memory above the slush back to the guests up to their dynamic-max (squeezed.ml `balance_check_interval`).
 * As in XenServer, dom0 is not managed (`manage_domain_zero` false). A guest's dynamic-min is the scenario's floor and
 * its dynamic-max its target when xapi first sees it. Paused guests that have run count as able to balloon — their
 * drivers cannot move, so squeezed finds them stuck after 5 s, as it does on a real host.
 */
import {
  maximumFreeKiB, squeezeIteration, updateStuckness, SQUEEZED_BALANCE_INTERVAL_MS, SQUEEZED_INACCURACY_KIB,
  SQUEEZED_ITERATION_MS, SQUEEZED_SLUSH_KIB, SQUEEZED_TOLERANCE_KIB, type SqueezeDomain, type Stuckness,
} from '../admission/squeeze.js';
import type { ObservedState } from '../admission/state.js';
import type { StrategyContext } from '../toolstack/context.js';
import { observe } from '../toolstack/observe.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from '../toolstack/types.js';
import { pagesToKiB } from '../units.js';
import { mib, PeerAdmissions, startBuilding } from './peer-admissions.js';
import { WorkerPool } from './worker-pool.js';

/** xenopsd.ml: worker_pool_size. */
export const XENOPSD_WORKERS = 4;

interface SqueezedView {
  /** physinfo free less every reservation not yet populated (squeezed's make_host), KiB. */
  freeKiB: number;
  domains: SqueezeDomain[];
}


export class XapiModel implements AdmissionStrategy {
  readonly name = 'xapi' as const;
  private readonly admissions: PeerAdmissions;
  private readonly workers = new WorkerPool(XENOPSD_WORKERS);
  /** squeezed's reservations by VM name, in KiB, until the VM runs. */
  private readonly reservations = new Map<string, number>();
  /** Each guest's dynamic-max: its target when first seen. */
  private readonly dynamicMaxKiB = new Map<number, number>();
  private balancer: AbortController | undefined;
  private balancing: Promise<void> | undefined;

  constructor(private readonly ctx: StrategyContext) {
    this.admissions = new PeerAdmissions(ctx);
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    this.startBalancer();
    const work = this.admissions.admit(request, (r, need, result) => this.start(r, pagesToKiB(need), result));
    void work.finally(() => {
      if (this.admissions.size > 0) return;
      this.balancer?.abort();
      this.balancer = undefined;
    });
    return work;
  }

  promisedPages(state: ObservedState): number {
    return this.admissions.promisedPages(state);
  }

  async idle(): Promise<void> {
    await this.admissions.idle();
    await this.balancing;
  }

  private async start(request: GuestRequest, needKiB: number, result: AdmissionResult): Promise<number> {
    await this.workers.acquire();
    try {
      await this.ctx.lock.withLock(() => this.reserve(request.name, needKiB));
      return await startBuilding(this.ctx, request, result, true);
    } finally {
      this.reservations.delete(request.name);
      this.workers.release();
    }
  }

  /** reserve_memory: xapi's check, then squeezed frees need + slush and records the reservation. */
  private async reserve(name: string, needKiB: number): Promise<void> {
    const view = await this.view();
    const most = maximumFreeKiB(view.freeKiB, view.domains);
    if (needKiB > most) {
      throw new Error(
        `xapi: HOST_NOT_ENOUGH_FREE_MEMORY: needs ${mib(needKiB)}; squeezing every guest to its dynamic-min would free at ` +
          `most ${mib(Math.max(0, most))} (with ${mib(SQUEEZED_SLUSH_KIB)} kept free)`,
      );
    }
    const requiredKiB = needKiB + SQUEEZED_SLUSH_KIB;
    const outcome = await this.changeHostFreeMemory(name, requiredKiB, (free) => free >= requiredKiB, view);
    if (outcome.kind === 'failed') {
      throw new Error(
        `xapi: squeezed could not free ${mib(requiredKiB)} (${mib(outcome.freeKiB)} free after squeezing)` +
          (outcome.blamed.length > 0 ? `: domains refused to cooperate: ${outcome.blamed.join(', ')}` : ''),
      );
    }
    this.reservations.set(name, needKiB);
  }

  /** Squeeze.change_host_free_memory: iterations 1 s apart until success or failure. */
  private async changeHostFreeMemory(
    request: string | null,
    hostTargetKiB: number,
    succeeded: (freeKiB: number) => boolean,
    first: SqueezedView,
  ): Promise<{ kind: 'success' } | { kind: 'failed'; blamed: string[]; freeKiB: number }> {
    const ctx = this.ctx;
    let view = first;
    const reached = view.domains.every((d) => !d.canBalloon || Math.abs(d.actualKiB - d.targetKiB) <= SQUEEZED_INACCURACY_KIB);
    if (hostTargetKiB !== SQUEEZED_SLUSH_KIB && view.freeKiB >= hostTargetKiB && reached) return { kind: 'success' };
    let stuckness = new Map<number, Stuckness>();
    for (;;) {
      const before = stuckness;
      stuckness = updateStuckness(before, view.domains, ctx.clock.now());
      for (const d of view.domains) {
        if (d.canBalloon && stuckness.get(d.domid)!.stuck && !before.get(d.domid)?.stuck) {
          ctx.emit({ type: 'donor-uncooperative', request, domid: d.domid, name: d.name });
        }
      }
      const action = squeezeIteration(view.freeKiB, hostTargetKiB, view.domains, stuckness, succeeded);
      if (action.kind === 'success') return action;
      if (action.kind === 'failed') {
        const names = view.domains.filter((d) => action.blamed.includes(d.domid)).map((d) => d.name);
        return { kind: 'failed', blamed: names, freeKiB: view.freeKiB };
      }
      if (action.targets.length > 0) {
        ctx.emit({
          type: 'ballooning', request, round: ctx.nextBalloonRound(), method: 'proportional',
          shortfallKiB: Math.max(0, hostTargetKiB - view.freeKiB), donors: action.targets,
        });
        for (const t of action.targets) await ctx.mutations.setTarget({ domid: t.domid, targetKiB: t.toKiB });
      }
      await ctx.clock.sleep(SQUEEZED_ITERATION_MS);
      view = await this.view();
    }
  }

  /** squeezed's make_host: free memory less reservations, and every domain but dom0 with its dynamic range. */
  private async view(): Promise<SqueezedView> {
    const observation = await observe(this.ctx);
    const infos = new Map(observation.domains.map((d) => [d.domid, d]));
    let freeKiB = pagesToKiB(observation.physinfo.freePages);
    const domains: SqueezeDomain[] = [];
    const reservedFor = new Set<string>();
    for (const d of observation.state.domains) {
      if (d.isDom0 || d.dying) continue;
      const info = infos.get(d.domid)!;
      const actualKiB = pagesToKiB(d.totPages);
      const reservation = this.reservations.get(d.name);
      // A domain that has never run (paused, no CPU time) uses at least its initial reservation.
      const neverRun = info.paused && info.cpuTimeNs === 0;
      if (reservation !== undefined) reservedFor.add(d.name);
      if (reservation !== undefined || neverRun) freeKiB -= Math.max(0, (reservation ?? d.targetKiB) - actualKiB);
      let dynamicMaxKiB = this.dynamicMaxKiB.get(d.domid);
      if (dynamicMaxKiB === undefined) {
        dynamicMaxKiB = d.targetKiB;
        this.dynamicMaxKiB.set(d.domid, dynamicMaxKiB);
      }
      domains.push({
        // A guest without a balloon driver (no feature-balloon) is never squeezed: squeezed's can_balloon.
        domid: d.domid, name: d.name, canBalloon: !neverRun && !d.building && d.canBalloon !== false,
        dynamicMinKiB: Math.min(d.minKiB, dynamicMaxKiB), dynamicMaxKiB, targetKiB: d.targetKiB, actualKiB,
      });
    }
    for (const [name, kib] of this.reservations) if (!reservedFor.has(name)) freeKiB -= kib;
    return { freeKiB, domains };
  }

  /** squeezed's balance thread: every 10 s while starts are in flight, balance the host if it is not. */
  private startBalancer(): void {
    if (this.balancer !== undefined) return;
    const controller = new AbortController();
    this.balancer = controller;
    this.balancing = (async () => {
      for (;;) {
        try {
          await this.ctx.clock.sleep(SQUEEZED_BALANCE_INTERVAL_MS, controller.signal);
        } catch {
          return; // aborted: no start is in flight any more
        }
        await this.ctx.lock.withLock(() => this.balance()).catch(() => undefined); // balance_memory logs and goes on
      }
    })();
  }

  /** is_host_memory_unbalanced, then balance_memory: keep the slush free, give the rest to the guests. */
  private async balance(): Promise<void> {
    const view = await this.view();
    const balanced = (free: number): boolean => free - SQUEEZED_SLUSH_KIB < SQUEEZED_TOLERANCE_KIB;
    const probe = squeezeIteration(view.freeKiB, SQUEEZED_SLUSH_KIB, view.domains, new Map(), balanced);
    if (probe.kind === 'adjust' && probe.targets.length > 0) await this.changeHostFreeMemory(null, SQUEEZED_SLUSH_KIB, balanced, view);
  }
}
