/**
 * Both bounds of a scenario (docs/bounds.md), from the scenario and its host once set up (before any request): the
 * rate-only bound (lower-bound.ts) and the tight bound (tight-bound.ts). Every admitter played works from the same
 * floors, so the donors here are the scenario's: running guests that are not paused and have a balloon driver, down
 * to where their driver stops — their floor plus the driver's inaccuracy, or a hidden floor below which it never goes
 * — and no further than a stalling driver goes (an uncooperative one gives nothing, an intermittent one only in its
 * moving windows); a guest still being built once it runs; dom0 down to the policy's floor. A pure reservation
 * (requests[].needMiB) is a request whose build takes its memory at once.
 */
import { DEFAULT_BALLOON_POLICY, resolveBalloonPolicy, type BalloonPolicy } from '../admission/balloon-plan.js';
import type { MockBackend } from '../mock/backend.js';
import { kibToMiB, LIBXL_MIN_DOM0_KIB, pagesToMiB } from '../units.js';
import { lowerBoundS } from './lower-bound.js';
import { RESERVATION_MIBPS, type Scenario, type ScenarioRequest } from './scenario.js';
import type { SupplyDonor } from './supply.js';
import { tightBound, type TightBound } from './tight-bound.js';

export interface ScenarioBounds {
  /** The rate-only bound: null when no request can run, or the runnable ones cannot all run at once. */
  lowerBoundS: number | null;
  tight: TightBound;
}

/**
 * σ's margin (docs/bounds.md#sigma): the most any admitter keeps free beyond the requests' needs before it balloons —
 * qmemman's overhead factor (0.78 % of free memory) and its 25 MiB, squeezed's 72 MiB slush — with room to spare, or
 * the reserve xenclaim's strategies keep for Xen (`reserveMiB`, the policy's; 64 MiB by default) when that is more.
 */
export function ballooningMarginMiB(headroomMiB: number, reserveMiB = 0): number {
  return Math.max(0.008 * Math.max(0, headroomMiB) + 128, reserveMiB);
}

/** How much a scenario guest can give at most, in MiB, as a donor of the bounds (see the header). */
export function reclaimableMiBOf(g: Scenario['guests'][number]): number {
  const lowest = Math.max(g.minMiB + g.inaccuracyMiB, g.hiddenMinMiB ?? 0);
  return Math.max(0, Math.min(g.memoryMiB - lowest, g.stallAfterMiB ?? Number.POSITIVE_INFINITY));
}

/** Runs `config(request)` through the set-up host's libxl to learn each request's need, then both bounds. */
export async function scenarioBounds(
  backend: MockBackend,
  scenario: Scenario,
  policy: Partial<BalloonPolicy> | undefined,
  config: (request: ScenarioRequest) => { b_info: { target_memkb: number } } & Parameters<MockBackend['needMemoryKiB']>[0],
): Promise<ScenarioBounds> {
  const physinfo = await backend.physinfo();
  const resolved = resolveBalloonPolicy('scenarioBounds', policy ?? {});
  const dom0MinKiB = Math.max(LIBXL_MIN_DOM0_KIB, resolved.dom0MinKiB);
  const dom0Donates = resolved.dom0Ballooning;
  const profile = backend.hostSpec.guestDefaults;
  const donors: SupplyDonor[] = [];
  for (const g of scenario.guests) {
    // Paused guests and guests without a balloon driver are never donors.
    if (g.state === 'paused' || !g.canBalloon) continue;
    donors.push({
      reclaimableMiB: reclaimableMiBOf(g),
      balloonMiBps: g.cooperative ? g.balloonMiBps : 0,
      fromS: g.state === 'building' ? g.memoryMiB / g.buildMiBps + profile.bootDelayS : 0,
      intermittent: g.intermittent,
    });
  }
  if (dom0Donates) {
    donors.push({ reclaimableMiB: Math.max(0, scenario.host.dom0MiB - kibToMiB(dom0MinKiB)), balloonMiBps: profile.balloonMiBps, fromS: 0 });
  }
  // A demand below a guest's size frees memory no admitter asked for: count it as there from the start.
  const guests = new Map(scenario.guests.map((g) => [g.name, g]));
  const shrinkingMiB = scenario.demands.reduce((sum, d) => sum + Math.max(0, (guests.get(d.guest)?.memoryMiB ?? 0) - d.targetMiB), 0);
  const headroomMiB = pagesToMiB(physinfo.freePages - physinfo.outstandingPages) + shrinkingMiB;
  const requests = [];
  for (const r of scenario.requests) {
    // A reservation of nothing is granted at its arrival; any other request is played as the guest `config` gives.
    if (r.memoryMiB === null && r.needMiB === 0) {
      requests.push({ at: r.at, memoryMiB: 0, needMiB: 0, buildMiBps: 1 });
      continue;
    }
    const played = config(r);
    const memoryMiB = r.memoryMiB ?? kibToMiB(played.b_info.target_memkb);
    const buildMiBps = r.memoryMiB === null ? RESERVATION_MIBPS : r.buildMiBps;
    requests.push({ at: r.at, memoryMiB, needMiB: kibToMiB(await backend.needMemoryKiB(played)), buildMiBps });
  }
  // What an admitter could believe it can find: free pages with claims not subtracted, every running or paused
  // guest's range (stuck or stalling ones in full) and dom0's.
  const apparentCapacityMiB = pagesToMiB(physinfo.freePages) + shrinkingMiB
    + scenario.guests.reduce((sum, g) => sum + (g.state === 'building' ? 0 : Math.max(0, g.memoryMiB - g.minMiB)), 0)
    + (dom0Donates ? Math.max(0, scenario.host.dom0MiB - kibToMiB(dom0MinKiB)) : 0);
  return {
    lowerBoundS: lowerBoundS({ headroomMiB, donors, requests }),
    tight: tightBound({
      headroomMiB, donors, requests, startsPerS: scenario.host.startsPerS ?? 0,
      marginMiB: ballooningMarginMiB(headroomMiB, kibToMiB(resolved.reserveKiB)), apparentCapacityMiB,
    }),
  };
}
