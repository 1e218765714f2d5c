/**
 * What a simulated run shows beyond its results: why each request waited (its steps, from the host's events), what
 * each donor was asked and gave, and the host's memory over time — free and claimed, and every donor's size — sampled
 * every 100 ms of virtual time (less often in long runs: sampleEveryMs) from the mock host without counting a call. Series are kept as their corners (points
 * on a straight line are merged), so a donor ballooning at a steady rate costs three points, not one per tick.
 */
import type { VirtualClock, Timer } from '../clock.js';
import type { MockBackend } from '../mock/backend.js';
import type { AdmissionEvent } from '../toolstack/events.js';
import { kibToMiB, pagesToMiB } from '../units.js';

/** [seconds, MiB] */
export type Point = [number, number];

export interface MemorySeries {
  name: string;
  domid: number;
  points: Point[];
}

export interface MemoryTimeline {
  freeMiB: Point[];
  /** Outstanding claims. */
  claimedMiB: Point[];
  /** Every donor (a scenario guest or dom0) whose size changed, over time. */
  donors: MemorySeries[];
  /** How many donors never changed size (not drawn). */
  unchangedDonors: number;
}

/** One step of a request (or of the host, for batch-wide steps) on its way. */
export interface RunStep {
  atS: number;
  what: string;
}

export interface DonorAsk {
  atS: number;
  /** The request it was asked for (null: a batch, or squeezed's own balancing). */
  request: string | null;
  fromMiB: number;
  toMiB: number;
  /** lower: asked to give; raise: given back (a failed request's ask, a stuck donor's rest, what a replan no longer needs). */
  kind: 'lower' | 'raise';
}

export interface DonorReport {
  name: string;
  domid: number;
  startMiB: number;
  lowestMiB: number;
  endMiB: number;
  /** startMiB − endMiB: what it gave for good (negative when it grew). */
  gaveMiB: number;
  asks: DonorAsk[];
}

const SAMPLE_MS = 100;

/** Every 100 ms for the first 30 s, then every 0.5 s, and every second after two minutes: long runs stay cheap. */
function sampleEveryMs(atS: number): number {
  return atS < 30 ? SAMPLE_MS : atS < 120 ? 500 : 1000;
}
const MAX_DONORS_IN_A_STEP = 4;

function secondsOf(ms: number): number {
  return Math.round(ms) / 1000;
}

function round1(mib: number): number {
  return Math.round(mib * 10) / 10;
}

/** Appends a point, merging it into the last segment when the three are on one line. */
function extend(points: Point[], t: number, v: number): void {
  const n = points.length;
  if (n > 0 && points[n - 1]![1] === v && n > 1 && points[n - 2]![1] === v) {
    points[n - 1]![0] = t;
    return;
  }
  if (n > 1) {
    const [t1, v1] = points[n - 2]!;
    const [t2, v2] = points[n - 1]!;
    if (t2 > t1 && Math.abs((v2 - v1) / (t2 - t1) - (v - v2) / (t - t2)) < 1e-6) {
      points[n - 1] = [t, v];
      return;
    }
  }
  points.push([t, v]);
}

function describeStep(event: AdmissionEvent): string | null {
  const mib = (kib: number): string => `${Math.round(kibToMiB(kib))} MiB`;
  switch (event.type) {
    case 'requested':
      return `requested: needs ${mib(event.needKiB)}`;
    case 'building':
      return `build${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''} started${event.claim ? ', claiming its memory' : ''}`;
    case 'admitted':
      return `admitted (${event.via})`;
    case 'claim-refused':
      return `refused: ${event.error.message}`;
    case 'build-refused':
      return `build refused memory, back in the queue: ${event.error.message}`;
    case 'ballooning': {
      const shown = event.donors.slice(0, MAX_DONORS_IN_A_STEP).map((d) => `${d.name} ${mib(d.fromKiB)}→${mib(d.toKiB)}`);
      const more = event.donors.length > MAX_DONORS_IN_A_STEP ? ` and ${event.donors.length - MAX_DONORS_IN_A_STEP} more` : '';
      return `ballooning (round ${event.round}, ${mib(event.shortfallKiB)} short): ${shown.join(', ')}${more}`;
    }
    case 'donor-uncooperative':
      return `donor ${event.name} did not move: not asked again`;
    case 'donors-restored':
      return `given back to ${event.donors.map((d) => d.name).join(', ')}`;
    case 'limits-set': {
      const to = event.reason === 'batch' ? 'their size' : 'their targets';
      return `max_pages of ${event.limits.length} guest(s) limited to ${to}`;
    }
    case 'limits-removed':
      return `max_pages limits removed`;
    case 'running':
      return `running (domid ${event.domid})`;
    case 'gave-up':
      return `gave up: ${event.message}`;
    case 'failed':
      return `failed: ${event.error.message}`;
    case 'cleanup-failed':
      return `cleanup failed: ${event.step}: ${event.error.message}`;
    case 'donor-progress':
      return null;
  }
}

/** Records one run: subscribe `onEvent` to the host, `start()` once set up, `stop()` once settled. */
export class RunRecorder {
  private readonly steps = new Map<string, RunStep[]>();
  readonly hostSteps: RunStep[] = [];
  private readonly asks = new Map<number, DonorAsk[]>();
  private readonly free: Point[] = [];
  private readonly claimed: Point[] = [];
  private readonly series = new Map<number, MemorySeries>();
  private readonly start0 = new Map<number, number>();
  private readonly lowest = new Map<number, number>();
  private timer: Timer | undefined;

  constructor(
    private readonly backend: MockBackend,
    private readonly clock: VirtualClock,
    /** Names of the potential donors: the scenario's guests and dom0. */
    private readonly donorNames: ReadonlySet<string>,
  ) {}

  onEvent(event: AdmissionEvent): void {
    const what = describeStep(event);
    if (what !== null) {
      const step = { atS: secondsOf(event.atMs), what };
      if (event.request === null) this.hostSteps.push(step);
      else {
        let list = this.steps.get(event.request);
        if (list === undefined) this.steps.set(event.request, (list = []));
        list.push(step);
      }
    }
    if (event.type === 'ballooning' || event.type === 'donors-restored') {
      for (const d of event.donors) {
        let list = this.asks.get(d.domid);
        if (list === undefined) this.asks.set(d.domid, (list = []));
        list.push({
          atS: secondsOf(event.atMs), request: event.request, fromMiB: round1(kibToMiB(d.fromKiB)), toMiB: round1(kibToMiB(d.toKiB)),
          kind: d.toKiB < d.fromKiB ? 'lower' : 'raise',
        });
      }
    }
  }

  /** Takes the first sample and keeps sampling every 100 ms while anything else is still to happen. */
  start(): void {
    this.sample(false);
    this.timer = this.clock.setTimer(SAMPLE_MS, () => this.sample());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.sample(false);
  }

  stepsOf(request: string): RunStep[] {
    return this.steps.get(request) ?? [];
  }

  private sample(again = true): void {
    const t = secondsOf(this.clock.now());
    const control = this.backend.control;
    const accounting = control.accounting();
    extend(this.free, t, round1(pagesToMiB(accounting.freePages)));
    extend(this.claimed, t, round1(pagesToMiB(accounting.outstandingPages)));
    if (this.series.size === 0) {
      // The donors are there from the start: found once by name, then read by domid.
      for (const d of control.memorySnapshot().domains) {
        if (d.name === undefined || !this.donorNames.has(d.name)) continue;
        const mib = round1(pagesToMiB(d.totPages));
        this.series.set(d.domid, { name: d.name, domid: d.domid, points: [] });
        this.start0.set(d.domid, mib);
      }
    }
    for (const series of this.series.values()) {
      const pages = control.totPagesOf(series.domid);
      if (pages === undefined) continue;
      const mib = round1(pagesToMiB(pages));
      extend(series.points, t, mib);
      if (mib < (this.lowest.get(series.domid) ?? Number.POSITIVE_INFINITY)) this.lowest.set(series.domid, mib);
    }
    // Sample while anything else is still to happen; an idle world stops the sampler with it.
    if (again && this.clock.nextDue() !== undefined) this.timer = this.clock.setTimer(sampleEveryMs(t), () => this.sample());
  }

  timeline(): MemoryTimeline {
    const all = [...this.series.values()];
    const changed = all.filter((s) => s.points.some((p) => p[1] !== s.points[0]![1]));
    return { freeMiB: this.free, claimedMiB: this.claimed, donors: changed, unchangedDonors: all.length - changed.length };
  }

  donors(): DonorReport[] {
    return [...this.series.values()].map((s) => {
      const startMiB = this.start0.get(s.domid)!;
      const endMiB = s.points[s.points.length - 1]![1];
      return {
        name: s.name, domid: s.domid, startMiB, lowestMiB: this.lowest.get(s.domid)!, endMiB,
        gaveMiB: round1(startMiB - endMiB), asks: this.asks.get(s.domid) ?? [],
      };
    });
  }
}
