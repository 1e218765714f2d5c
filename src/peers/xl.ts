/**
 * A MODEL of `xl create` (Xen 4.17, tools/xl/xl_vmcontrol.c `create_domain` and `freemem`, RELEASE-4.17.5), with
 * xl.conf's defaults claim_mode=1 and autoballoon on — not xl itself. Each request is one `xl create`:
 *
 *   acquire_lock()                     the global lock file (/var/lock/xl), held
 *   freemem()                          — balloon dom0 only, until free memory covers the need (src/admission/xl-freemem.ts)
 *   libxl_domain_create_new()          — the whole build, with a claim (claim_mode): ENOMEM fails the request
 *   release_lock()                     until the build has returned
 *
 * so with autoballoon on, creations are serialized by the lock for the whole build, whether they balloon or not.
 * (With autoballoon off — xl's "auto" when dom0_mem= is on Xen's command line — xl takes no lock and no memory from
 * anyone: builds run in parallel and a claim refused fails the request; that is claim-first without its fallback.)
 * xl gives dom0 nothing back when a request fails. dom0's floor is the scenario's (see xl-freemem.ts).
 */
import { resolveBalloonPolicy } from '../admission/balloon-plan.js';
import {
  startXlTargetWait, xlFreememStep, xlTargetWaitStep, XL_FREEMEM_CREDIT_MS, XL_WAIT_POLL_MS,
} from '../admission/xl-freemem.js';
import type { ObservedState } from '../admission/state.js';
import type { StrategyContext } from '../toolstack/context.js';
import type { AdmissionResult, AdmissionStrategy, GuestRequest } from '../toolstack/types.js';
import { LIBXL_MIN_DOM0_KIB, pagesToKiB } from '../units.js';
import { mib, PeerAdmissions, startBuilding } from './peer-admissions.js';

const DOM0 = 0;


export class XlModel implements AdmissionStrategy {
  readonly name = 'xl' as const;
  private readonly admissions: PeerAdmissions;
  private readonly dom0FloorKiB: number;

  constructor(private readonly ctx: StrategyContext) {
    this.admissions = new PeerAdmissions(ctx);
    this.dom0FloorKiB = Math.max(LIBXL_MIN_DOM0_KIB, resolveBalloonPolicy('xl', ctx.policy).dom0MinKiB);
  }

  admit(request: GuestRequest): Promise<AdmissionResult> {
    return this.admissions.admit(request, (r, need, result) => this.create(r, pagesToKiB(need), result));
  }

  promisedPages(state: ObservedState): number {
    return this.admissions.promisedPages(state);
  }

  idle(): Promise<void> {
    return this.admissions.idle();
  }

  private create(request: GuestRequest, needKiB: number, result: AdmissionResult): Promise<number> {
    return this.ctx.lock.withLock(async () => {
      await this.freemem(request.name, needKiB);
      return startBuilding(this.ctx, request, result, true);
    });
  }

  /** freemem(): throws "failed to free memory for the domain" with xl's reason when it returns false. */
  private async freemem(name: string, needKiB: number): Promise<void> {
    const ctx = this.ctx;
    let creditMs = XL_FREEMEM_CREDIT_MS;
    for (;;) {
      const freeKiB = await ctx.backend.freeMemoryKiB();
      const dom0 = await ctx.backend.getDomain(DOM0);
      const dom0TargetKiB = dom0.targetKiB ?? pagesToKiB(dom0.totPages);
      const step = xlFreememStep({ freeKiB, needKiB, dom0TargetKiB, dom0FloorKiB: this.dom0FloorKiB, creditMs });
      const failed = (why: string): Error => new Error(`xl: failed to free memory for the domain: ${why}`);
      switch (step.kind) {
        case 'enough':
          return;
        case 'credit-spent':
          throw failed(`30 s of ballooning dom0 were not enough (needs ${mib(needKiB)}, ${mib(freeKiB)} free)`);
        case 'below-dom0-floor':
          throw failed(
            `needs ${mib(needKiB)}, ${mib(freeKiB)} free; dom0 would have to go to ${mib(step.targetKiB)}, below its floor of ` +
              `${mib(this.dom0FloorKiB)} (xl balloons only dom0)`,
          );
        case 'balloon-dom0': {
          ctx.emit({
            type: 'ballooning', request: name, round: ctx.nextBalloonRound(), method: 'dom0-only', shortfallKiB: needKiB - freeKiB,
            donors: [{ domid: DOM0, name: dom0.name ?? 'Domain-0', fromKiB: dom0TargetKiB, toKiB: step.targetKiB }],
          });
          await ctx.mutations.lowerTarget({ domid: DOM0, name: dom0.name ?? 'Domain-0', request: name, fromKiB: dom0TargetKiB, toKiB: step.targetKiB });
          const startedMs = ctx.clock.now();
          const reached = await this.waitForDom0(step.targetKiB);
          creditMs -= ctx.clock.now() - startedMs;
          if (reached !== 'reached') {
            const how = reached === 'rose' ? 'its memory rose' : 'no progress for 10 s';
            throw failed(`dom0 did not reach its target of ${mib(step.targetKiB)} (${how})`);
          }
        }
      }
    }
  }

  /** libxl_wait_for_memory_target(ctx, 0, 10). */
  private async waitForDom0(targetKiB: number): Promise<'reached' | 'rose' | 'timed-out'> {
    let wait = startXlTargetWait();
    for (;;) {
      await this.ctx.clock.sleep(XL_WAIT_POLL_MS);
      const dom0 = await this.ctx.backend.getDomain(DOM0);
      const step = xlTargetWaitStep(wait, pagesToKiB(dom0.totPages + dom0.outstandingPages), targetKiB);
      if (step.kind !== 'wait') return step.kind === 'timed-out' ? 'timed-out' : step.kind;
      wait = step.state;
    }
  }
}
