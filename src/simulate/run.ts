/**
 * Plays a scenario (docs/scenario-format.md) on a fresh mock host in virtual time, once per strategy, and reports
 * what each achieved. Deterministic: the same scenario gives the same report, every time.
 *
 * Per strategy or peer model, in three steps: set up (a new VirtualClock and MockBackend for the scenario's host, the
 * guests added with their profiles and states — running, paused, or still being built by someone else — each
 * request's build rate set by name, a XenHost with the guests' floors), drive (requests admitted at their `at` times,
 * demands sent to the guests at theirs, the host's memory sampled; the run ends when every request has settled and
 * the host is quiescent: builds, balloon drivers and page returns done), report. Both bounds (bounds.ts) are the same
 * for every admitter; `ratio` is the makespan over the tight one.
 */
import type { XenBackend } from '../backend.js';
import { VirtualClock } from '../clock.js';
import { XenHost } from '../host/xen-host.js';
import { MockBackend } from '../mock/backend.js';
import type { AdmissionEvent, AdmissionEventType } from '../toolstack/events.js';
import { isPeerModel, type AdmitterName } from '../toolstack/strategy-name.js';
import type { AdmissionResult, AdmissionTuning } from '../toolstack/types.js';
import { mibToKiB } from '../units.js';
import { scenarioBounds, type ScenarioBounds } from './bounds.js';
import { checkHostInvariants, snapshotMaxPages } from './invariants.js';
import { RunRecorder, type DonorReport, type MemoryTimeline, type RunStep } from './recorder.js';
import { SIMULATION_HORIZON_S, type Scenario, type ScenarioRequest } from './scenario.js';

export interface RequestReport {
  name: string;
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
}

export interface DemandReport {
  guest: string;
  targetMiB: number;
  requestedAtS: number;
  /** When the guest reached its target; null when it never did (or a toolstack target replaced the demand). */
  satisfiedAtS: number | null;
}

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
}

export interface RunScenarioOptions extends AdmissionTuning {
  /** Which strategies to play (default: the scenario's list). */
  strategies?: readonly AdmitterName[];
  onEvent?: (event: AdmissionEvent) => void;
  /** Give up on a run after this much virtual time (default: the horizon, one day). */
  limitS?: number;
  /** Tests: what the strategy talks to instead of the mock host itself (e.g. a wrapper that injects faults). */
  wrapBackend?: (backend: MockBackend, strategy: AdmitterName) => XenBackend;
}

/** Every event type but donor-progress. */
const RECORDED_EVENTS: readonly AdmissionEventType[] = [
  'requested', 'building', 'admitted', 'claim-refused', 'ballooning', 'donor-uncooperative', 'donors-restored',
  'limits-set', 'limits-removed', 'running', 'gave-up', 'failed', 'cleanup-failed',
];

/** How often the simulator looks at a demanding guest (virtual time). */
const DEMAND_POLL_MS = 100;

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

export function requestConfig(request: ScenarioRequest): { c_info: { type: 'pv'; name: string }; b_info: { max_memkb: number; target_memkb: number } } {
  return {
    c_info: { type: 'pv', name: request.name },
    b_info: { max_memkb: mibToKiB(request.memoryMiB), target_memkb: mibToKiB(request.memoryMiB) },
  };
}

export async function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): Promise<StrategyReport[]> {
  const reports: StrategyReport[] = [];
  for (const strategy of options.strategies ?? scenario.strategies) reports.push(await runStrategy(scenario, strategy, options));
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
}

async function setUp(scenario: Scenario, strategy: AdmitterName, options: RunScenarioOptions, backend: MockBackend): Promise<Stage> {
  const clock = backend.clock as VirtualClock;
  const control = backend.control;
  const domids = new Map<string, number>();
  const floorsKiB = new Map<string, number>();
  for (const guest of scenario.guests) {
    const profile = {
      balloonMiBps: guest.balloonMiBps,
      cooperative: guest.cooperative,
      ...(guest.stallAfterMiB === null ? {} : { stallAfterMiB: guest.stallAfterMiB }),
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
  for (const request of scenario.requests) control.setGuestProfile(request.name, { buildMiBps: request.buildMiBps });
  const baseline = await snapshotMaxPages(backend);
  const bounds = await scenarioBounds(backend, scenario, options.policy, requestConfig);
  control.resetCalls();
  control.resetPeakOutstanding();
  const recorder = new RunRecorder(backend, clock, new Set([...scenario.guests.map((g) => g.name), 'Domain-0']));

  const host = new XenHost({
    backend: options.wrapBackend ? options.wrapBackend(backend, strategy) : backend,
    clock,
    strategy,
    floorsKiB,
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.wait ? { wait: options.wait } : {}),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  const stage: Stage = {
    scenario, strategy, clock, backend, host, domids, baseline, bounds, recorder, balloonRounds: 0,
    limitMs: (options.limitS ?? SIMULATION_HORIZON_S) * 1000,
  };
  // The report needs every event but the donors' progress (hundreds per look in a boot storm): not even made then.
  host.subscribe(
    (event) => {
      if (event.type === 'ballooning') stage.balloonRounds++;
      recorder.onEvent(event);
      options.onEvent?.(event);
    },
    options.onEvent ? undefined : RECORDED_EVENTS,
  );
  return stage;
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
      stage.recorder.start();
      const all = await Promise.all(
        scenario.requests.map(async (request) => {
          await clock.sleep(request.at * 1000);
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
  stage.recorder.stop();
  return { results, demands };
}

/** The strategy's report, from its results and what the simulated host counted. */
async function report(stage: Stage, results: readonly AdmissionResult[], demands: DemandReport[]): Promise<StrategyReport> {
  const { scenario, backend } = stage;
  const accounting = backend.control.accounting();
  const calls = backend.control.calls;
  const { bounds, recorder } = stage;
  const requests: RequestReport[] = results.map((r, i) => ({
    name: r.name,
    requestedAtS: scenario.requests[i]!.at,
    admittedAtS: r.admittedAtMs === null ? null : seconds(r.admittedAtMs),
    runningAtS: r.runningAtMs === null ? null : seconds(r.runningAtMs),
    failedAtS: r.failedAtMs === null ? null : seconds(r.failedAtMs),
    error: r.error === null ? null : r.error.message,
    aloneS: bounds.tight.aloneS[i]!,
    steps: recorder.stepsOf(r.name),
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
