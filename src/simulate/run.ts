/**
 * Plays a scenario (docs/scenario-format.md) on a fresh mock host in virtual time, once per strategy, and reports
 * what each achieved. Deterministic: the same scenario gives the same report, every time.
 *
 * Per strategy or peer model, in three steps: set up (a new VirtualClock and MockBackend for the scenario's host, the
 * guests added with their profiles and states — running, paused, or still being built by someone else — each
 * request's build rate set by name, a XenHost with the guests' floors, the guests without a balloon driver and the
 * scenario's policy), drive (requests admitted at their `at` times, demands sent to the guests at theirs, the host's
 * memory sampled; the run ends when every request has settled and the host is quiescent: builds, balloon drivers and
 * page returns done), report. Both bounds (bounds.ts) are the same for every admitter; `ratio` is the makespan over
 * the tight one. Each started request's `guaranteedFreeMiB` is sampled the moment its successful build starts: the
 * memory it can count on even if every other guest grew to its target (as far as max_pages lets it) and every other
 * build populated what it still needs — squeezed's verify_memory_is_guaranteed_free, with Xen's max_pages.
 */
import type { BalloonPolicy } from '../admission/balloon-plan.js';
import type { WaitConfig } from '../admission/progress.js';
import type { XenBackend } from '../backend.js';
import { VirtualClock, VirtualTimeLimitError } from '../clock.js';
import { checkTuning, rejectUnknownOptions } from '../host/host-options.js';
import { XenHost } from '../host/xen-host.js';
import { MockBackend } from '../mock/backend.js';
import { parseGuestConfig } from '../mock/config.js';
import type { AdmissionEvent, AdmissionEventType } from '../toolstack/events.js';
import { ADMITTERS, admitterLabel, isPeerModel, type AdmitterName } from '../toolstack/strategy-name.js';
import type { AdmissionResult, AdmissionTuning } from '../toolstack/types.js';
import { kibToMiB, kibToPagesCeil, mibToKiB, mibToPages, pagesToMiB } from '../units.js';
import { checkObject, checkOneOf, invalidArgument } from '../validate.js';
import { scenarioBounds, type ScenarioBounds } from './bounds.js';
import { checkHostInvariants, snapshotMaxPages } from './invariants.js';
import { RunRecorder, type DonorReport, type MemoryTimeline, type RunStep } from './recorder.js';
import { RESERVATION_MIBPS, ScenarioError, SIMULATION_HORIZON_S, validateScenario, type Scenario, type ScenarioDocument, type ScenarioRequest } from './scenario.js';

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
  /** The earliest it could be running were it alone on the host (the tight bound's model); null: it never can. */
  aloneS: number | null;
  /** Its way through the admitter, from the host's events: why it waited, and how it ended. */
  steps: RunStep[];
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
  strategy: AdmitterName;
  /** One of xenclaim's strategies, or a model of a peer toolstack (src/peers). */
  kind: 'strategy' | 'peer-model';
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
  /** The rate-only bound (lower-bound.ts); null when no request can run or the runnable ones cannot all run at once. */
  lowerBoundS: number | null;
  /** The tight bound (tight-bound.ts, docs/bounds.md): all-or-nothing admission; null as lowerBoundS. */
  tightBoundS: number | null;
  /** The tight bound is exact (false: a proven relaxation, with a start rate and many requests). */
  tightBoundExact: boolean;
  /** Requests that could run were they alone (the others can never run: every admitter must fail them). */
  runnable: number;
  /**
   * makespanS / tightBoundS, when the admitter started every runnable request (null otherwise: failing a request can
   * end a run sooner than any admission of them all; and null without a bound, or with a bound of 0).
   */
  ratio: number | null;
  /** Each donor (scenario guest or dom0): what it was asked, when, and what it gave. */
  donors: DonorReport[];
  /** Batch-wide steps (limits, batch ballooning, squeezed's own balancing). */
  hostSteps: RunStep[];
  /** The host's free and claimed memory and every donor's size over time. */
  memory: MemoryTimeline;
  /** The invariants' violations after the run (docs/architecture.md#invariants): must be empty. */
  invariantViolations: string[];
  /** Every domain's final tot_pages, target and max_pages. */
  guests: GuestReport[];
}

/** runScenario's options, each checked (EINVAL naming it); tuning as for a XenHost. */
export interface RunScenarioOptions extends AdmissionTuning {
  /** Which strategies to play (default: the scenario's list). */
  strategies?: readonly AdmitterName[];
  onEvent?: (event: AdmissionEvent) => void;
  /** Give up on a run after this much virtual time (default: the horizon, one day). */
  limitS?: number;
  /** Tests: what the strategy talks to instead of the mock host itself (e.g. a wrapper that injects faults). */
  wrapBackend?: (backend: MockBackend, strategy: AdmitterName) => XenBackend;
}

/** Every event type but donor-progress (a record, so that a new event type cannot be forgotten here). */
const RECORDED: Record<Exclude<AdmissionEventType, 'donor-progress'>, true> = {
  requested: true, building: true, admitted: true, 'claim-refused': true, 'build-refused': true, ballooning: true,
  'donor-uncooperative': true, 'donors-restored': true, 'limits-set': true, 'limits-removed': true, running: true,
  'gave-up': true, failed: true, 'cleanup-failed': true,
};
const RECORDED_EVENTS = Object.keys(RECORDED) as AdmissionEventType[];

/** How often the simulator looks at a demanding guest (virtual time). */
const DEMAND_POLL_MS = 100;

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}


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

const RUN_OPTIONS = ['strategies', 'onEvent', 'limitS', 'wrapBackend', 'policy', 'wait', 'pollMs'];

/** RunScenarioOptions, each checked: EINVAL naming the option. */
function checkRunOptions(op: string, options: unknown): RunScenarioOptions {
  const given = checkObject(op, 'options', options);
  rejectUnknownOptions(op, given, RUN_OPTIONS);
  if (given.strategies !== undefined) {
    if (!Array.isArray(given.strategies) || given.strategies.length === 0) {
      throw invalidArgument(op, 'strategies', `a non-empty array of ${ADMITTERS.join(', ')}`, given.strategies);
    }
    given.strategies.forEach((name, i) => checkOneOf(op, `strategies[${i}]`, name, ADMITTERS));
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
 * Plays `scenario` (a Scenario, or a plain object in the scenario format: it is validated first) once per strategy or
 * peer model — `options.strategies`, else the scenario's — each on a fresh mock host in virtual time, and resolves
 * with one report per strategy, in that order. Rejects with a ScenarioError (EINVAL, naming the JSON path) for an invalid
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
  strategy: AdmitterName;
  clock: VirtualClock;
  backend: MockBackend;
  host: XenHost;
  domids: Map<string, number>;
  baseline: Map<number, number>;
  bounds: ScenarioBounds;
  recorder: RunRecorder;
  balloonRounds: number;
  limitMs: number;
  /** Each request's need (pages), from its 'requested' event. */
  needs: Map<string, number>;
  /** Requests whose build has begun and that are neither running nor failed yet. */
  building: Set<string>;
  /** Each request's guaranteed free memory (pages) at the start of its latest build. */
  guaranteed: Map<string, number>;
}

async function setUp(scenario: Scenario, strategy: AdmitterName, options: RunScenarioOptions, backend: MockBackend): Promise<Stage> {
  const clock = backend.clock as VirtualClock;
  const control = backend.control;
  const domids = new Map<string, number>();
  const floorsKiB = new Map<string, number>();
  for (const guest of scenario.guests) {
    const profile = {
      balloonMiBps: guest.balloonMiBps,
      // A guest without a balloon driver follows no target at all.
      cooperative: guest.cooperative && guest.canBalloon,
      inaccuracyMiB: guest.inaccuracyMiB,
      ...(guest.stallAfterMiB === null ? {} : { stallAfterMiB: guest.stallAfterMiB }),
      ...(guest.intermittent === null ? {} : { intermittent: guest.intermittent }),
      ...(guest.hiddenMinMiB === null ? {} : { hiddenMinMiB: guest.hiddenMinMiB }),
      ...(guest.hiddenMaxMiB === null ? {} : { hiddenMaxMiB: guest.hiddenMaxMiB }),
    };
    let domid: number;
    if (guest.state === 'building') {
      const started = control.startBuildingGuest({ name: guest.name, memoryMiB: guest.memoryMiB, maxMiB: guest.maxMiB, buildMiBps: guest.buildMiBps, ...profile });
      if (started.domid === null) await started.built; // throws why it could not start
      domid = started.domid!;
    } else {
      domid = control.addRunningGuest({
        name: guest.name, memoryMiB: guest.memoryMiB, maxMiB: guest.maxMiB, minMiB: guest.minMiB, paused: guest.state === 'paused', ...profile,
      });
    }
    domids.set(guest.name, domid);
    floorsKiB.set(guest.name, mibToKiB(guest.minMiB));
  }
  for (const request of scenario.requests) {
    control.setGuestProfile(request.name, { buildMiBps: request.memoryMiB === null ? RESERVATION_MIBPS : request.buildMiBps });
  }
  const baseline = await snapshotMaxPages(backend);
  const tuning = scenarioTuning(scenario);
  const policy = { ...tuning.policy, ...options.policy };
  const bounds = await scenarioBounds(backend, scenario, policy, requestConfig);
  control.resetCalls();
  control.resetPeakOutstanding();
  const recorder = new RunRecorder(backend, clock, new Set([...scenario.guests.map((g) => g.name), 'Domain-0']));

  const host = new XenHost({
    backend: options.wrapBackend ? options.wrapBackend(backend, strategy) : backend,
    clock,
    strategy,
    floorsKiB,
    withoutBalloonDriver: scenario.guests.filter((g) => !g.canBalloon).map((g) => g.name),
    policy,
    wait: { ...tuning.wait, ...options.wait },
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  const stage: Stage = {
    scenario, strategy, clock, backend, host, domids, baseline, bounds, recorder, balloonRounds: 0,
    limitMs: (options.limitS ?? SIMULATION_HORIZON_S) * 1000, needs: new Map(), building: new Set(), guaranteed: new Map(),
  };
  const withoutDriver = new Set(scenario.guests.filter((g) => !g.canBalloon).map((g) => g.name));
  // The report needs every event but the donors' progress (hundreds per look in a boot storm): not even made then.
  host.subscribe(
    (event) => {
      if (event.type === 'ballooning') stage.balloonRounds++;
      if (event.type === 'requested') stage.needs.set(event.request, kibToPagesCeil(event.needKiB));
      if (event.type === 'building') {
        stage.guaranteed.set(event.request, guaranteedFreePages(stage, event.request, event.claim, withoutDriver));
        stage.building.add(event.request);
      }
      if (event.type === 'running' || event.type === 'failed' || event.type === 'gave-up') stage.building.delete(event.request);
      recorder.onEvent(event);
      options.onEvent?.(event);
    },
    options.onEvent ? undefined : RECORDED_EVENTS,
  );
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
  // Other builds: found by name among the requests being built (a claimed build need not look at every domain).
  const built = new Set<string>();
  for (const name of stage.building) {
    if (name === request) continue;
    const held = control.pagesWhileBuilding(name);
    if (held === undefined) continue;
    built.add(name);
    free -= Math.max(0, (stage.needs.get(name) ?? 0) - held);
  }
  if (claimed) return free;
  // What every other live guest may still grow to: toward its target, as far as max_pages lets it.
  const others = (name: string | undefined): boolean =>
    name === undefined || (name !== request && !built.has(name) && !withoutDriver.has(name));
  return free - control.growthRoomPages(others);
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

  const settled = new Set<number>();
  const results = await clock.run(
    (async (): Promise<AdmissionResult[]> => {
      stage.recorder.start();
      const all = await Promise.all(
        scenario.requests.map(async (request, i) => {
          await clock.sleep(request.at * 1000);
          const result = request.needMiB === 0 ? reservedNothing(stage, request.name) : await host.admit({ name: request.name, config: requestConfig(request) });
          settled.add(i);
          return result;
        }),
      );
      await host.idle();
      await Promise.all(issued); // every demand has been made
      return all;
    })(),
    limitMs,
  ).catch((error: unknown) => {
    if (!(error instanceof VirtualTimeLimitError)) throw error;
    throw beyondHorizon(stage, settled, error.limitMs);
  });
  // Let the host finish what it is doing (balloon drivers, page returns), then stop watching demands.
  await control.settle(limitMs);
  watching = false;
  await clock.run(Promise.all(watchers), limitMs);
  stage.recorder.stop();
  return { results, demands };
}

/**
 * The scenario could not be played to its end within the simulator's horizon under this strategy (the validator
 * bounds arrivals, builds and start turns, not the time lost waiting for slow or stuck donors): a ScenarioError
 * naming the first request still waiting, or the scenario when only the host's own work was left.
 */
function beyondHorizon(stage: Stage, settled: ReadonlySet<number>, limitMs: number): ScenarioError {
  const waiting = stage.scenario.requests.findIndex((_, i) => !settled.has(i));
  const path = waiting < 0 ? 'scenario' : `requests[${waiting}]`;
  const what = waiting < 0 ? 'the host was still busy' : `${stage.scenario.requests[waiting]!.name} was still waiting`;
  return new ScenarioError(
    path,
    `${what} under ${admitterLabel(stage.strategy)} at ${limitMs / 1000} s of virtual time, the simulator's horizon: the scenario cannot be played to its end (requests arriving too close to the horizon, or donors too slow for what is asked)`,
  );
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
  const { bounds, recorder } = stage;
  const requests: RequestReport[] = results.map((r, i) => ({
    name: r.name,
    needMiB: pagesToMiB(stage.needs.get(r.name) ?? 0),
    requestedAtS: scenario.requests[i]!.at,
    admittedAtS: r.admittedAtMs === null ? null : seconds(r.admittedAtMs),
    runningAtS: r.runningAtMs === null ? null : seconds(r.runningAtMs),
    failedAtS: r.failedAtMs === null ? null : seconds(r.failedAtMs),
    error: r.error === null ? null : r.error.message,
    aloneS: bounds.tight.aloneS[i]!,
    steps: recorder.stepsOf(r.name),
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
  const makespanS = requests.reduce((end, r) => Math.max(end, r.runningAtS ?? r.failedAtS ?? 0), 0);
  const tightBoundS = bounds.tight.boundS;
  const runnable = bounds.tight.aloneS.filter((s) => s !== null).length;
  const comparable = tightBoundS !== null && tightBoundS > 0 && startedRequests.length >= runnable;
  return {
    scenario: scenario.name,
    strategy: stage.strategy,
    kind: isPeerModel(stage.strategy) ? 'peer-model' : 'strategy',
    makespanS,
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
    lowerBoundS: bounds.lowerBoundS,
    tightBoundS,
    tightBoundExact: bounds.tight.exact,
    runnable,
    ratio: comparable ? Math.round((makespanS / tightBoundS) * 1000) / 1000 : null,
    donors: recorder.donors(),
    hostSteps: recorder.hostSteps,
    memory: recorder.timeline(),
    invariantViolations: await checkHostInvariants(backend, stage.baseline, isPeerModel(stage.strategy) ? 'target' : 'original'),
    guests,
  };
}

export async function runStrategy(scenario: Scenario, strategy: AdmitterName, options: RunScenarioOptions = {}): Promise<StrategyReport> {
  const backend = new MockBackend({
    host: {
      memoryMiB: scenario.host.memoryMiB,
      dom0MiB: scenario.host.dom0MiB,
      xenVersion: scenario.host.xenVersion,
      ...(scenario.host.startsPerS === null ? {} : { startsPerS: scenario.host.startsPerS }),
    },
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
