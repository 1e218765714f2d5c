/**
 * Plays a scenario (docs/scenario-format.md) on a fresh mock host in virtual time, once per strategy, and reports
 * what each achieved. Deterministic: the same scenario gives the same report, every time.
 *
 * Per strategy, in three steps: set up (a new VirtualClock and MockBackend for the scenario's host, the running
 * guests added with their profiles, each request's build rate set by name, a XenHost with the guests' floors, the
 * guests without a balloon driver and the scenario's policy), drive (requests admitted at their `at` times, demands
 * sent to the guests at theirs; the run ends when every request has settled and the host is quiescent: builds,
 * balloon drivers and page returns done), report. `lowerBoundS` is the rate-only bound of lower-bound.ts, the same
 * for every strategy. Each started request's `guaranteedFreeMiB` is sampled the moment its successful build starts:
 * the memory it can count on even if every other guest grew to its target (as far as max_pages lets it) and every
 * other build populated what it still needs — squeezed's verify_memory_is_guaranteed_free, with Xen's max_pages.
 */
import { DEFAULT_BALLOON_POLICY, type BalloonPolicy } from '../admission/balloon-plan.js';
import type { WaitConfig } from '../admission/progress.js';
import type { XenBackend } from '../backend.js';
import { VirtualClock } from '../clock.js';
import { checkTuning, rejectUnknownOptions } from '../host/host-options.js';
import { XenHost } from '../host/xen-host.js';
import { MockBackend } from '../mock/backend.js';
import { parseGuestConfig } from '../mock/config.js';
import { DEFAULT_GUEST_PROFILE } from '../mock/spec.js';
import type { AdmissionEvent } from '../toolstack/events.js';
import { STRATEGIES, type StrategyName } from '../toolstack/strategy-name.js';
import type { AdmissionResult, AdmissionTuning } from '../toolstack/types.js';
import { kibToMiB, kibToPagesCeil, mibToKiB, mibToPages, pagesToMiB } from '../units.js';
import { checkObject, checkOneOf, invalidArgument } from '../validate.js';
import { checkHostInvariants, snapshotMaxPages } from './invariants.js';
import { lowerBoundS, type BoundDonor, type BoundInput } from './lower-bound.js';
import { validateScenario, type Scenario, type ScenarioDocument, type ScenarioRequest } from './scenario.js';

/** What became of one creation request, in s of virtual time. */
export interface RequestReport {
  name: string;
  /** What it needed, MiB (libxl's need: its size plus libxl's extra, rounded up to 2 MiB; a reservation's own). */
  needMiB: number;
  requestedAtS: number;
  /** When its successful build began (null when it never got that far). */
  admittedAtS: number | null;
  runningAtS: number | null;
  failedAtS: number | null;
  error: string | null;
  /**
   * The memory it could count on when its successful build started (see the header), MiB; null when it never
   * started. At least needMiB, or the strategy let a donor or a build take what it admitted.
   */
  guaranteedFreeMiB: number | null;
}

/** A domain as the run left it (every guest, dom0 and the new ones): sizes in MiB. */
export interface GuestReport {
  name: string;
  domid: number;
  totMiB: number;
  targetMiB: number | null;
  maxMiB: number;
}

/** What became of one growth demand. */
export interface DemandReport {
  guest: string;
  targetMiB: number;
  requestedAtS: number;
  /** When the guest reached its target; null when it never did (or a toolstack target replaced the demand). */
  satisfiedAtS: number | null;
}

/** One strategy's run of a scenario (docs/scenario-format.md#report). */
export interface StrategyReport {
  scenario: string;
  strategy: StrategyName;
  /** When the last request settled (running or failed), in seconds from the start. */
  makespanS: number;
  /** Mean of runningAtS − requestedAtS over the started requests (null when none started). */
  meanStartLatencyS: number | null;
  started: number;
  failed: number;
  requests: RequestReport[];
  demands: DemandReport[];
  /** Times the strategy set new donor targets. */
  balloonRounds: number;
  /** Hypercalls the toolstack side issued (directly or through libxl): claim, setMaxMem, populate, … */
  hypercalls: Record<string, number>;
  /** Hypercalls the guests' own balloon drivers issued. */
  guestHypercalls: Record<string, number>;
  peakOutstandingPages: number;
  /** Outstanding claims once the run settled: must be 0. */
  leakedClaimPages: number;
  /** No strategy could have every request running sooner (lower-bound.ts); null when they cannot all fit at once. */
  lowerBoundS: number | null;
  /** The invariants' violations after the run (docs/architecture.md#invariants): must be empty. */
  invariantViolations: string[];
  /** Every domain's final tot_pages, target and max_pages. */
  guests: GuestReport[];
}

/** runScenario's options, each checked (EINVAL naming it); tuning as for a XenHost. */
export interface RunScenarioOptions extends AdmissionTuning {
  /** Which strategies to play (default: the scenario's list). */
  strategies?: readonly StrategyName[];
  onEvent?: (event: AdmissionEvent) => void;
  /** Give up on a run after this much virtual time (default one day). */
  limitS?: number;
  /** Tests: what the strategy talks to instead of the mock host itself (e.g. a wrapper that injects faults). */
  wrapBackend?: (backend: MockBackend, strategy: StrategyName) => XenBackend;
}

/** How often the simulator looks at a demanding guest (virtual time). */
const DEMAND_POLL_MS = 100;

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** A reservation's build runs at this rate: its memory is taken in one step of the mock's builder. */
const RESERVATION_MIBPS = 1024 * 1024 * 1024;

type RequestConfig = { c_info: { type: 'pv'; name: string }; b_info: { max_memkb: number; target_memkb: number } };

function pvConfig(name: string, kib: number): RequestConfig {
  return { c_info: { type: 'pv', name }, b_info: { max_memkb: kib, target_memkb: kib } };
}

/**
 * The libxl config a request is played with: a PV guest of its size; for a reservation of needMiB (rounded up to
 * 2 MiB, as libxl rounds every need), the largest PV guest whose libxl need (the mock's, libxl 4.17's: target,
 * paging pool and 1 MiB extra) is at most that — exactly that, as needs come in 2 MiB steps — built in one step. A
 * reservation of 0 is not built at all (see drive).
 */
export function requestConfig(request: ScenarioRequest): RequestConfig {
  if (request.memoryMiB !== null) return pvConfig(request.name, mibToKiB(request.memoryMiB));
  const needKiB = mibToKiB(2 * Math.ceil((request.needMiB ?? 0) / 2));
  const needOf = (kib: number): number => parseGuestConfig('simulate', pvConfig(request.name, kib)).needKiB;
  let low = 0;
  let high = needKiB; // the need is at least the target
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (needOf(mid) <= needKiB) low = mid;
    else high = mid - 1;
  }
  return pvConfig(request.name, low);
}

/** The scenario's policy as the host's tuning (only what the scenario sets; the rest stays the default). */
export function scenarioTuning(scenario: Scenario): { policy: Partial<BalloonPolicy>; wait: Partial<WaitConfig> } {
  const p = scenario.policy;
  const policy: Partial<BalloonPolicy> = {};
  const wait: Partial<WaitConfig> = {};
  if (p.reserveMiB !== null) policy.reserveKiB = mibToKiB(p.reserveMiB);
  if (p.marginPercent !== null) policy.marginFraction = p.marginPercent / 100;
  if (p.marginMinMiB !== null) policy.marginMinPages = mibToPages(p.marginMinMiB);
  if (p.stallTimeoutS !== null) wait.stallTimeoutMs = p.stallTimeoutS * 1000;
  if (p.maxWaitS !== null) wait.maxWaitMs = p.maxWaitS * 1000;
  if (p.toleranceMiB !== null) wait.targetTolerancePages = mibToPages(p.toleranceMiB);
  if (p.dom0MinMiB !== null) policy.dom0MinKiB = mibToKiB(p.dom0MinMiB);
  return { policy, wait };
}

/** What the rate-only lower bound needs, read off the set-up host (before any request) and the scenario. */
async function boundInput(backend: MockBackend, scenario: Scenario, options: RunScenarioOptions): Promise<BoundInput> {
  const physinfo = await backend.physinfo();
  const dom0MinMiB = kibToMiB(options.policy?.dom0MinKiB ?? (scenario.policy.dom0MinMiB === null ? DEFAULT_BALLOON_POLICY.dom0MinKiB : mibToKiB(scenario.policy.dom0MinMiB)));
  const dom0Donates = options.policy?.dom0Ballooning ?? DEFAULT_BALLOON_POLICY.dom0Ballooning;
  const donors: BoundDonor[] = scenario.guests.map((g) => ({
    // Down to its floor, or where a hidden floor, its inaccuracy or a stalling driver stops it first.
    reclaimableMiB: Math.max(
      0,
      Math.min(g.memoryMiB - Math.max(g.minMiB, g.hiddenMinMiB ?? 0) - g.inaccuracyMiB, g.stallAfterMiB ?? Number.POSITIVE_INFINITY),
    ),
    balloonMiBps: g.cooperative && g.canBalloon ? g.balloonMiBps : 0,
  }));
  if (dom0Donates) {
    donors.push({ reclaimableMiB: Math.max(0, scenario.host.dom0MiB - dom0MinMiB), balloonMiBps: DEFAULT_GUEST_PROFILE.balloonMiBps });
  }
  // A demand below a guest's size frees memory no strategy asked for: count it as there from the start.
  const shrinkingMiB = scenario.demands.reduce((sum, d) => {
    const guest = scenario.guests.find((g) => g.name === d.guest);
    return sum + (guest ? Math.max(0, guest.memoryMiB - d.targetMiB) : 0);
  }, 0);
  return {
    headroomMiB: pagesToMiB(physinfo.freePages - physinfo.outstandingPages) + shrinkingMiB,
    donors,
    requests: scenario.requests.map((r) =>
      r.memoryMiB !== null
        ? { at: r.at, memoryMiB: r.memoryMiB, buildMiBps: r.buildMiBps }
        : { at: r.at, memoryMiB: r.needMiB ?? 0, buildMiBps: RESERVATION_MIBPS },
    ),
  };
}

const RUN_OPTIONS = ['strategies', 'onEvent', 'limitS', 'wrapBackend', 'policy', 'wait', 'pollMs'];

/** RunScenarioOptions, each checked: EINVAL naming the option. */
function checkRunOptions(op: string, options: unknown): RunScenarioOptions {
  const given = checkObject(op, 'options', options);
  rejectUnknownOptions(op, given, RUN_OPTIONS);
  if (given.strategies !== undefined) {
    if (!Array.isArray(given.strategies) || given.strategies.length === 0) {
      throw invalidArgument(op, 'strategies', `a non-empty array of ${STRATEGIES.join(', ')}`, given.strategies);
    }
    given.strategies.forEach((name, i) => checkOneOf(op, `strategies[${i}]`, name, STRATEGIES));
  }
  for (const key of ['onEvent', 'wrapBackend'] as const) {
    if (given[key] !== undefined && typeof given[key] !== 'function') throw invalidArgument(op, key, 'a function', given[key]);
  }
  const limitS = given.limitS;
  if (limitS !== undefined && (typeof limitS !== 'number' || !Number.isFinite(limitS) || limitS <= 0)) {
    throw invalidArgument(op, 'limitS', 'a finite number of seconds > 0', limitS);
  }
  checkTuning(op, given);
  return given as RunScenarioOptions;
}

/**
 * Plays `scenario` (a Scenario, or a plain object in the scenario format: it is validated first) once per strategy —
 * `options.strategies`, else the scenario's — each on a fresh mock host in virtual time, and resolves with one
 * report per strategy, in that order. Rejects with a ScenarioError (EINVAL, naming the JSON path) for an invalid
 * scenario and an EINVAL XenError naming the option for bad options, before anything runs.
 */
export async function runScenario(scenario: Scenario | ScenarioDocument, options: RunScenarioOptions = {}): Promise<StrategyReport[]> {
  const checked = checkRunOptions('runScenario', options);
  const valid = validateScenario(scenario);
  const reports: StrategyReport[] = [];
  for (const strategy of checked.strategies ?? valid.strategies) reports.push(await runStrategy(valid, strategy, checked));
  return reports;
}

/** One strategy's run, set up: the simulated host with its guests, the XenHost admitting on it, what is counted. */
interface Stage {
  scenario: Scenario;
  strategy: StrategyName;
  clock: VirtualClock;
  backend: MockBackend;
  host: XenHost;
  domids: Map<string, number>;
  baseline: Map<number, number>;
  bound: number | null;
  balloonRounds: number;
  limitMs: number;
  /** Each request's need (pages), from its 'requested' event. */
  needs: Map<string, number>;
  /** Each request's guaranteed free memory (pages) at the start of its latest build. */
  guaranteed: Map<string, number>;
}

async function setUp(scenario: Scenario, strategy: StrategyName, options: RunScenarioOptions, backend: MockBackend): Promise<Stage> {
  const clock = backend.clock as VirtualClock;
  const control = backend.control;
  const domids = new Map<string, number>();
  const floorsKiB = new Map<string, number>();
  for (const guest of scenario.guests) {
    const domid = control.addRunningGuest({
      name: guest.name,
      memoryMiB: guest.memoryMiB,
      maxMiB: guest.maxMiB,
      minMiB: guest.minMiB,
      balloonMiBps: guest.balloonMiBps,
      // A guest without a balloon driver follows no target at all.
      cooperative: guest.cooperative && guest.canBalloon,
      inaccuracyMiB: guest.inaccuracyMiB,
      ...(guest.stallAfterMiB === null ? {} : { stallAfterMiB: guest.stallAfterMiB }),
      ...(guest.intermittent === null ? {} : { intermittent: guest.intermittent }),
      ...(guest.hiddenMinMiB === null ? {} : { hiddenMinMiB: guest.hiddenMinMiB }),
      ...(guest.hiddenMaxMiB === null ? {} : { hiddenMaxMiB: guest.hiddenMaxMiB }),
    });
    domids.set(guest.name, domid);
    floorsKiB.set(guest.name, mibToKiB(guest.minMiB));
  }
  for (const request of scenario.requests) {
    control.setGuestProfile(request.name, { buildMiBps: request.memoryMiB === null ? RESERVATION_MIBPS : request.buildMiBps });
  }
  const baseline = await snapshotMaxPages(backend);
  const bound = lowerBoundS(await boundInput(backend, scenario, options));
  control.resetCalls();
  control.resetPeakOutstanding();

  const tuning = scenarioTuning(scenario);
  const host = new XenHost({
    backend: options.wrapBackend ? options.wrapBackend(backend, strategy) : backend,
    clock,
    strategy,
    floorsKiB,
    withoutBalloonDriver: scenario.guests.filter((g) => !g.canBalloon).map((g) => g.name),
    policy: { ...tuning.policy, ...options.policy },
    wait: { ...tuning.wait, ...options.wait },
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  const stage: Stage = {
    scenario, strategy, clock, backend, host, domids, baseline, bound, balloonRounds: 0, limitMs: (options.limitS ?? 24 * 3600) * 1000,
    needs: new Map(), guaranteed: new Map(),
  };
  const withoutDriver = new Set(scenario.guests.filter((g) => !g.canBalloon).map((g) => g.name));
  host.subscribe((event) => {
    if (event.type === 'ballooning') stage.balloonRounds++;
    if (event.type === 'requested') stage.needs.set(event.request, kibToPagesCeil(event.needKiB));
    if (event.type === 'building') stage.guaranteed.set(event.request, guaranteedFreePages(stage, event.request, event.claim, withoutDriver));
    options.onEvent?.(event);
  });
  return stage;
}

/**
 * What `request` can count on the moment its build starts (see the file header): free − outstanding claims, less
 * every other build's need not yet populated or claimed, and — for a build without a claim — less what every other
 * live guest with a balloon driver may still grow to: toward its target, as far as its max_pages lets it (squeezed
 * counts target + inaccuracy − actual; a guest asking to grow raises its target, which the toolstack sees). A
 * claimed build is protected from the growth of others by its claim, staked in the same instant on the mock.
 */
function guaranteedFreePages(stage: Stage, request: string, claimed: boolean, withoutDriver: ReadonlySet<string>): number {
  const control = stage.backend.control;
  const accounting = control.accounting();
  let free = accounting.freePages - accounting.outstandingPages;
  for (const domain of control.domainsNow()) {
    if (domain.dying || domain.name === request) continue;
    const need = domain.name === undefined ? undefined : stage.needs.get(domain.name);
    const building = need !== undefined && control.guestState(domain.domid) === undefined;
    if (building) free -= Math.max(0, need - domain.totPages - domain.outstandingPages);
    else if (!claimed && !withoutDriver.has(domain.name ?? '')) {
      // What it may still grow to: toward its target, as far as max_pages lets it.
      const goal = Math.min(domain.maxPages, domain.targetKiB === undefined ? domain.maxPages : kibToPagesCeil(domain.targetKiB));
      free -= Math.max(0, goal - domain.totPages);
    }
  }
  return free;
}

/** Plays the requests and demands at their times; resolves once every request settled and the host is quiet. */
async function drive(stage: Stage): Promise<{ results: AdmissionResult[]; demands: DemandReport[] }> {
  const { scenario, clock, host, domids, limitMs } = stage;
  const control = stage.backend.control;
  let watching = true;
  const demands: DemandReport[] = scenario.demands.map((d) => ({
    guest: d.guest, targetMiB: d.targetMiB, requestedAtS: d.at, satisfiedAtS: null,
  }));
  const issued: Promise<void>[] = [];
  const watchers = scenario.demands.map(async (demand, i) => {
    const at = clock.sleep(demand.at * 1000);
    issued.push(at);
    await at;
    const domid = domids.get(demand.guest)!;
    control.requestGrowth(domid, mibToKiB(demand.targetMiB));
    for (;;) {
      const state = control.guestState(domid);
      if (!state || state.demandPages === undefined) return;
      if (state.demandSatisfied) {
        demands[i]!.satisfiedAtS = seconds(clock.now());
        return;
      }
      if (!watching) return;
      await clock.sleep(DEMAND_POLL_MS);
    }
  });

  const results = await clock.run(
    (async (): Promise<AdmissionResult[]> => {
      const all = await Promise.all(
        scenario.requests.map(async (request) => {
          await clock.sleep(request.at * 1000);
          if (request.needMiB === 0) return reservedNothing(stage, request.name);
          return host.admit({ name: request.name, config: requestConfig(request) });
        }),
      );
      await host.idle();
      await Promise.all(issued); // every demand has been made
      return all;
    })(),
    limitMs,
  );
  // Let the host finish what it is doing (balloon drivers, page returns), then stop watching demands.
  await control.settle(limitMs);
  watching = false;
  await clock.run(Promise.all(watchers), limitMs);
  return { results, demands };
}

/** A reservation of nothing is granted at once: nothing is built, nobody asked, nothing to protect (free memory). */
function reservedNothing(stage: Stage, name: string): AdmissionResult {
  const now = stage.clock.now();
  stage.needs.set(name, 0);
  stage.guaranteed.set(name, guaranteedFreePages(stage, name, true, new Set()));
  return { name, ok: true, domid: null, error: null, report: null, requestedAtMs: now, admittedAtMs: now, runningAtMs: now, failedAtMs: null };
}

/** The strategy's report, from its results and what the simulated host counted. */
async function report(stage: Stage, results: readonly AdmissionResult[], demands: DemandReport[]): Promise<StrategyReport> {
  const { scenario, backend } = stage;
  const accounting = backend.control.accounting();
  const calls = backend.control.calls;
  const requests: RequestReport[] = results.map((r, i) => ({
    name: r.name,
    needMiB: pagesToMiB(stage.needs.get(r.name) ?? 0),
    requestedAtS: scenario.requests[i]!.at,
    admittedAtS: r.admittedAtMs === null ? null : seconds(r.admittedAtMs),
    runningAtS: r.runningAtMs === null ? null : seconds(r.runningAtMs),
    failedAtS: r.failedAtMs === null ? null : seconds(r.failedAtMs),
    error: r.error === null ? null : r.error.message,
    guaranteedFreeMiB: r.ok && stage.guaranteed.has(r.name) ? Math.floor(pagesToMiB(stage.guaranteed.get(r.name)!) * 100) / 100 : null,
  }));
  const guests: GuestReport[] = (await backend.listDomains()).map((d) => ({
    name: d.name ?? `domain-${d.domid}`,
    domid: d.domid,
    totMiB: pagesToMiB(d.totPages),
    targetMiB: d.targetKiB === undefined ? null : kibToMiB(d.targetKiB),
    maxMiB: pagesToMiB(d.maxPages),
  }));
  const startedRequests = requests.filter((r) => r.runningAtS !== null);
  const latencies = startedRequests.map((r) => r.runningAtS! - r.requestedAtS);
  const ends = requests.map((r) => r.runningAtS ?? r.failedAtS ?? 0);
  return {
    scenario: scenario.name,
    strategy: stage.strategy,
    makespanS: ends.length === 0 ? 0 : Math.max(...ends),
    meanStartLatencyS: latencies.length === 0 ? null : Math.round((latencies.reduce((a, b) => a + b, 0) / latencies.length) * 1000) / 1000,
    started: startedRequests.length,
    failed: requests.length - startedRequests.length,
    requests,
    demands,
    balloonRounds: stage.balloonRounds,
    hypercalls: { ...calls.hypercalls },
    guestHypercalls: { ...calls.guestHypercalls },
    peakOutstandingPages: accounting.peakOutstandingPages,
    leakedClaimPages: accounting.outstandingPages,
    lowerBoundS: stage.bound,
    invariantViolations: await checkHostInvariants(backend, stage.baseline),
    guests,
  };
}

export async function runStrategy(scenario: Scenario, strategy: StrategyName, options: RunScenarioOptions = {}): Promise<StrategyReport> {
  const backend = new MockBackend({
    host: { memoryMiB: scenario.host.memoryMiB, dom0MiB: scenario.host.dom0MiB, xenVersion: scenario.host.xenVersion },
    clock: new VirtualClock(),
  });
  try {
    const stage = await setUp(scenario, strategy, options, backend);
    const { results, demands } = await drive(stage);
    return await report(stage, results, demands);
  } finally {
    await backend.close();
  }
}
