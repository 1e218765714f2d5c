/**
 * A MODEL of how Qubes starts a qube under qmemman (QubesOS/qubes-core-admin as of 2026-01, commit 19d3e509) — not
 * qmemman itself:
 *
 * - the qube's start asks qmemmand for its memory (qubes/vm/qubesvm.py `request_mem`); qmemmand takes its one
 *   GLOBAL_LOCK for the request (qubes/tools/qmemmand.py) and holds it until the client closes the connection, which
 *   qubesvm.py does once libvirt has created the domain — so requests, and their builds, run one at a time;
 * - under the lock, `do_balloon` (src/admission/qmemman-balloon.ts) polls every 0.1 s: enough free memory → OK;
 *   donors in proportion ×1.05; a donor that did not move since its last target is left out; less than 300 MiB
 *   gained over the last 3 s → FAIL; no donor able to cover it → FAIL;
 * - the domain is then built by libvirt's libxl driver, without a claim.
 * Managed domains are dom0 and every running guest with a floor (qmemman manages the qubes that report meminfo);
 * paused ones included (their drivers cannot move: they are left out after their first 0.1 s). A target equal to the
 * one already set is not written again. qmemman's own balancing between requests (do_balance on meminfo changes) is
 * not modelled.
 */
import { resolveBalloonPolicy } from '../admission/balloon-plan.js';
import {
  memActualKiB, qmemmanFreeKiB, qmemmanStep, startQmemmanRequest, QMEMMAN_POLL_MS, type QmemmanDomain,
} from '../admission/qmemman-balloon.js';
import type { ObservedState } from '../admission/state.js';
import type { StrategyContext } from '../toolstack/context.js';
import { observe } from '../toolstack/observe.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from '../toolstack/types.js';
import { LIBXL_MIN_DOM0_KIB, pagesToKiB } from '../units.js';
import { mib, PeerAdmissions, startBuilding } from './peer-admissions.js';


export class QmemmanModel implements AdmissionStrategy {
  readonly name = 'qmemman' as const;
  private readonly admissions: PeerAdmissions;
  private readonly dom0FloorKiB: number;
  /** qmemman's last_target of each domain it has set (KiB). */
  private readonly lastTargetKiB = new Map<number, number>();

  constructor(private readonly ctx: StrategyContext) {
    this.admissions = new PeerAdmissions(ctx);
    this.dom0FloorKiB = Math.max(LIBXL_MIN_DOM0_KIB, resolveBalloonPolicy('qmemman', ctx.policy).dom0MinKiB);
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    return this.admissions.admit(request, (r, need, result) =>
      this.ctx.lock.withLock(async () => {
        await this.doBalloon(r.name, pagesToKiB(need));
        return startBuilding(this.ctx, r, result, false);
      }),
    );
  }

  promisedPages(state: ObservedState): number {
    return this.admissions.promisedPages(state);
  }

  idle(): Promise<void> {
    return this.admissions.idle();
  }

  /** do_balloon(memSize): resolves on OK, throws qmemman's FAIL with its reason. */
  private async doBalloon(name: string, memSizeKiB: number): Promise<void> {
    const ctx = this.ctx;
    const request = startQmemmanRequest(memSizeKiB);
    const noProgress = new Set<number>();
    for (;;) {
      const { freeKiB, domains } = await this.view(noProgress);
      const { step, stalled } = qmemmanStep(request, freeKiB, domains);
      for (const domid of stalled) {
        noProgress.add(domid);
        ctx.emit({ type: 'donor-uncooperative', request: name, domid, name: domains.find((d) => d.domid === domid)!.name });
      }
      const failed = (why: string): Error => new Error(`qmemman: not enough memory for ${name} (needs ${mib(memSizeKiB)}): ${why}`);
      switch (step.kind) {
        case 'ok':
          return;
        case 'too-slow':
          throw failed(`free memory grew by ${mib(Math.max(0, step.gainedKiB))} over the last 3 s (less than 100 MiB/s)`);
        case 'no-donors':
          throw failed(`${mib(Math.max(0, freeKiB))} free and the donors that still move cannot give the rest`);
        case 'set-targets': {
          const byDomid = new Map(domains.map((d) => [d.domid, d]));
          const changed = step.targets.filter((t) => byDomid.get(t.domid)!.lastTargetKiB !== t.toKiB);
          if (changed.length > 0) {
            ctx.emit({
              type: 'ballooning', request: name, round: ctx.nextBalloonRound(), method: 'proportional',
              shortfallKiB: Math.max(0, memSizeKiB - freeKiB),
              donors: changed.map((t) => ({ domid: t.domid, name: t.name, fromKiB: byDomid.get(t.domid)!.lastTargetKiB, toKiB: t.toKiB })),
            });
          }
          for (const t of changed) {
            // mem_set: max_pages to the target + LIBXL_MAXMEM_CONSTANT, then the target.
            await ctx.mutations.setTarget({ domid: t.domid, targetKiB: t.toKiB });
            this.lastTargetKiB.set(t.domid, t.toKiB);
          }
          request.asked = new Map(step.targets.map((t) => [t.domid, memActualKiB(byDomid.get(t.domid)!)]));
          request.polls++;
          await ctx.clock.sleep(QMEMMAN_POLL_MS);
        }
      }
    }
  }

  /** refresh_mem_actual and get_free_xen_mem: the managed domains and free memory as qmemman counts it. */
  private async view(noProgress: ReadonlySet<number>): Promise<{ freeKiB: number; domains: QmemmanDomain[] }> {
    const observation = await observe(this.ctx);
    const floors = this.ctx.floorsKiB();
    const infos = new Map(observation.domains.map((d) => [d.domid, d]));
    const domains: QmemmanDomain[] = [];
    for (const d of observation.state.domains) {
      const info = infos.get(d.domid)!;
      // A domain that never ran (paused, no CPU time) has sent no meminfo yet: qmemman does not manage it.
      if (d.dying || d.building || (info.paused && info.cpuTimeNs === 0)) continue;
      // Nor one without a balloon driver (no meminfo-writer reports its memory).
      if (!d.isDom0 && (!floors.has(d.name) || d.canBalloon === false)) continue;
      const known = this.lastTargetKiB.get(d.domid);
      domains.push({
        domid: d.domid,
        name: d.name,
        currentKiB: pagesToKiB(d.totPages),
        lastTargetKiB: known ?? d.targetKiB,
        prefKiB: d.isDom0 ? Math.max(this.dom0FloorKiB, d.minKiB) : d.minKiB,
        noProgress: noProgress.has(d.domid),
      });
    }
    return { freeKiB: qmemmanFreeKiB(pagesToKiB(observation.physinfo.freePages), domains), domains };
  }
}
