/**
 * The one wait loop (src/toolstack/wait-for-memory.ts), driven for real on a VirtualClock the way xapi's squeezed
 * drives its balancer in ocaml/squeezed/test/squeeze_test.ml (xapi-project/xen-api): simulated donors whose balloon
 * drivers are idealised (move at a rate), stuck (never move), intermittently stuck (move, stop, move…) or stop at a
 * hidden limit above the floor they were given. The loop runs with the toolstack's own observe, set-targets and
 * mark-uncooperative steps over a simulated backend; a retry "claims" the need from the simulated free memory, and
 * at that moment the memory must be guaranteed free: even if every donor went to its target, the need is there.
 * The donors' max_pages follow their lowered targets (the toolstack's carryOutPlan), so the property is checked
 * with max_pages as Xen enforces it: a donor may take at most max_pages − tot_pages back.
 * Then the loop's contract itself: which hook each decision calls, and leaving it.
 */
import { describe, expect, it } from 'vitest';
import { planBalloon } from '../../src/admission/balloon-plan.js';
import { DonorLedger } from '../../src/admission/donor-ledger.js';
import { afterRefusedRetry, applyPlan, donorRates, startWaiting, type WaitState, type WaitStep } from '../../src/admission/progress.js';
import { headroomPages } from '../../src/admission/state.js';
import type { DomainInfo, Physinfo, SetMemoryTargetOptions, XenBackend } from '../../src/backend.js';
import { VirtualClock } from '../../src/clock.js';
import { XenError } from '../../src/errors.js';
import { pause, planPolicy, type StrategyContext } from '../../src/toolstack/context.js';
import { carryOutPlan, markUncooperative, releaseUnneededAsks } from '../../src/toolstack/donors.js';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { HostLock } from '../../src/toolstack/host-lock.js';
import { MaxPagesLimits } from '../../src/toolstack/max-pages-limits.js';
import { BackendMutations } from '../../src/toolstack/mutations.js';
import { observe } from '../../src/toolstack/observe.js';
import {
  LEAVE, lookAtDonors, waitForMemory, type WaitForMemoryIo, type WaitOutcome,
} from '../../src/toolstack/wait-for-memory.js';
import { kibToPagesCeil, pagesToKiB, PAGES_PER_MIB } from '../../src/units.js';
import { domainInfo } from '../helpers/domain-info.js';

const MIB = PAGES_PER_MIB;

/** How a simulated balloon driver moves toward its target (rates in MiB/s, times in ms). */
type Driver =
  | { kind: 'idealised'; mibps: number }
  | { kind: 'stuck' }
  | { kind: 'intermittent'; mibps: number; movingMs: number; stuckMs: number }
  | { kind: 'hidden-limit'; mibps: number; limitMiB: number };

interface SimDonor {
  domid: number;
  name: string;
  totPages: number;
  targetPages: number;
  maxPages: number;
  floorMiB: number;
  driver: Driver;
}

/** Time in [from, to) during which an intermittent driver moves: moving first, then stuck, repeating. */
function movingTime(from: number, to: number, movingMs: number, stuckMs: number): number {
  const cycle = movingMs + stuckMs;
  let t = from;
  let moving = 0;
  while (t < to) {
    const inCycle = t % cycle;
    const phaseEnd = t - inCycle + (inCycle < movingMs ? movingMs : cycle);
    const end = Math.min(to, phaseEnd);
    if (inCycle < movingMs) moving += end - t;
    t = end;
  }
  return moving;
}

/** A host of donors and free memory, advanced lazily to the clock's time whenever it is looked at or changed. */
class SimHost {
  freePages: number;
  private last = 0;
  readonly donors: SimDonor[];

  constructor(readonly clock: VirtualClock, freeMiB: number, donors: Omit<SimDonor, 'targetPages' | 'maxPages'>[]) {
    this.freePages = freeMiB * MIB;
    this.donors = donors.map((d) => ({ ...d, targetPages: d.totPages, maxPages: d.totPages }));
  }

  advance(): void {
    const now = this.clock.now();
    for (const d of this.donors) {
      if (d.driver.kind === 'stuck') continue;
      const useful = d.driver.kind === 'intermittent' ? movingTime(this.last, now, d.driver.movingMs, d.driver.stuckMs) : now - this.last;
      const budget = Math.floor((d.driver.mibps * MIB * useful) / 1000);
      if (d.totPages > d.targetPages) {
        const lowest = d.driver.kind === 'hidden-limit' ? Math.max(d.targetPages, d.driver.limitMiB * MIB) : d.targetPages;
        const give = Math.max(0, Math.min(budget, d.totPages - lowest));
        d.totPages -= give;
        this.freePages += give;
      } else if (d.totPages < d.targetPages) {
        // Growing back is bounded by max_pages, as Xen bounds every allocation.
        const take = Math.max(0, Math.min(budget, d.targetPages - d.totPages, this.freePages, d.maxPages - d.totPages));
        d.totPages += take;
        this.freePages -= take;
      }
    }
    this.last = now;
  }

  /** Free memory that stays free even if every donor grew to its max_pages (what Xen lets it take). */
  guaranteedFreePages(): number {
    return this.freePages - this.donors.reduce((sum, d) => sum + Math.max(0, d.maxPages - d.totPages), 0);
  }

  /** The backend the toolstack's steps talk to: physinfo, listDomains and setMemoryTarget, nothing else. */
  backend(): XenBackend {
    const unsupported = (op: string) => (): never => {
      throw new XenError(`${op}: not simulated`, { code: 'ENOSYS', op });
    };
    const backend = {
      kind: 'mock',
      features: { claims: true, tmem: false, libxl: true },
      physinfo: async (): Promise<Physinfo> => {
        this.advance();
        const used = this.donors.reduce((s, d) => s + d.totPages, 0) + 1024 * MIB;
        return { totalPages: used + this.freePages, freePages: this.freePages, scrubPages: 0, outstandingPages: 0, nrCpus: 1, nrNodes: 1, cpuKhz: 1 };
      },
      listDomains: async (): Promise<DomainInfo[]> => {
        this.advance();
        return [
          domainInfo(0, { name: 'Domain-0', totPages: 1024 * MIB, maxPages: 1024 * MIB, targetKiB: pagesToKiB(1024 * MIB) }),
          ...this.donors.map((d) => domainInfo(d.domid, { name: d.name, totPages: d.totPages, maxPages: d.maxPages, targetKiB: pagesToKiB(d.targetPages) })),
        ];
      },
      setMemoryTarget: async (domid: number, kib: number, options: SetMemoryTargetOptions = {}): Promise<void> => {
        this.advance();
        const d = this.donors.find((x) => x.domid === domid);
        if (!d) throw new XenError(`setMemoryTarget: no domain ${domid}`, { code: 'ESRCH', op: 'setMemoryTarget' });
        d.targetPages = kibToPagesCeil(options.relative ? pagesToKiB(d.targetPages) + kib : kib);
      },
      setMaxMem: async (domid: number, kib: number): Promise<void> => {
        this.advance();
        const d = this.donors.find((x) => x.domid === domid);
        if (!d) throw new XenError(`setMaxMem: no domain ${domid}`, { code: 'ESRCH', op: 'setMaxMem' });
        d.maxPages = Math.floor(kib / 4);
      },
    };
    return new Proxy(backend, {
      get: (target, prop) => (prop in target ? target[prop as keyof typeof target] : typeof prop === 'string' ? unsupported(prop) : undefined),
    }) as unknown as XenBackend;
  }
}

interface Played {
  outcome: WaitOutcome<{ atMs: number; guaranteedFreePages: number }>;
  events: AdmissionEvent[];
  uncooperative: string[];
  sim: SimHost;
}

/**
 * One request of `needMiB` on a simulated host with `freeMiB` free: the first plan, then the real loop with the
 * toolstack's own steps (as claim-first uses them), until it is done or gives up.
 */
async function play(
  freeMiB: number,
  needMiB: number,
  donors: Omit<SimDonor, 'targetPages' | 'maxPages'>[],
  maxWaitMs: number | null = null,
): Promise<Played> {
  const clock = new VirtualClock();
  const sim = new SimHost(clock, freeMiB, donors);
  const backend = sim.backend();
  const events: AdmissionEvent[] = [];
  const mutations = new BackendMutations(backend);
  const emit = (body: Parameters<StrategyContext['emit']>[0]): void => {
    events.push({ ...body, atMs: clock.now(), strategy: 'claim-first' } as AdmissionEvent);
  };
  const ctx: StrategyContext = {
    strategy: 'claim-first',
    backend,
    mutations,
    clock,
    pollMs: 250,
    // squeeze_test.ml's io keeps no slush free: neither do these.
    policy: { dom0Ballooning: false, reserveKiB: 0 },
    wait: { maxWaitMs },
    lock: new HostLock(),
    building: new Set(),
    uncooperative: new Set(),
    withoutBalloonDriver: new Set(),
    limits: new MaxPagesLimits(mutations, emit),
    handover: new DonorLedger(),
    floorsKiB: () => new Map(donors.map((d) => [d.name, d.floorMiB * 1024])),
    emit,
    nextBalloonRound: () => events.filter((e) => e.type === 'ballooning').length + 1,
    started: () => undefined,
  };
  const need = needMiB * MIB;
  const ledger = new DonorLedger();
  const replan = async (wait: WaitState | undefined): Promise<WaitStep> => {
    const observation = await observe(ctx);
    const plan = planBalloon(observation.state, { needPages: need, policy: planPolicy(ctx), ...(wait ? { rates: donorRates(wait) } : {}) });
    const set = plan.feasible ? await carryOutPlan(ctx, plan, 'new', ledger, 'new') : plan;
    return wait === undefined
      ? startWaiting({ needPages: need, plan: set, nowMs: clock.now(), headroomPages: headroomPages(observation.state.host), config: ctx.wait })
      : applyPlan(wait, set, clock.now());
  };
  const io: WaitForMemoryIo<{ atMs: number; guaranteedFreePages: number }> = {
    waitForProgress: (untilMs) => pause(ctx, untilMs),
    look: (wait) => lookAtDonors(ctx, 'new', wait),
    replan,
    markUncooperative: (wait, domids) => markUncooperative(ctx, ledger, 'new', 'new', wait, domids),
    retry: async (wait) => {
      sim.advance();
      if (sim.freePages < need) return { kind: 'step', step: afterRefusedRetry(wait, clock.now()) };
      const guaranteedFreePages = sim.guaranteedFreePages();
      sim.freePages -= need; // the claim takes it
      await releaseUnneededAsks(ctx, ledger, 'new', 'new', wait);
      return { kind: 'done', value: { atMs: clock.now(), guaranteedFreePages } };
    },
  };
  const outcome = await clock.run(replan(undefined).then((first) => waitForMemory(io, first)));
  const uncooperative = [...ctx.uncooperative].map((domid) => donors.find((d) => d.domid === domid)!.name).sort();
  return { outcome, events, uncooperative, sim };
}

function donor(domid: number, name: string, sizeMiB: number, floorMiB: number, driver: Driver): Omit<SimDonor, 'targetPages' | 'maxPages'> {
  return { domid, name, totPages: sizeMiB * MIB, floorMiB, driver };
}

function doneAt(played: Played, needMiB: number): number {
  expect(played.outcome.kind).toBe('done');
  if (played.outcome.kind !== 'done') throw new Error('not done');
  // squeezed's verify_memory_is_guaranteed_free: what was freed cannot be taken back by a donor heading elsewhere.
  expect(played.outcome.value.guaranteedFreePages).toBeGreaterThanOrEqual(needMiB * MIB);
  return played.outcome.value.atMs;
}

describe('waitForMemory with simulated donors (after squeeze_test.ml)', () => {
  it('idealised donors: the need is freed in about the time their rates allow, nobody is marked', async () => {
    // 1000 MiB to free from two donors of 1500 MiB (floors 500) moving 100 MiB/s each: ~5 s.
    const played = await play(0, 1000, [
      donor(1, 'a', 1500, 500, { kind: 'idealised', mibps: 100 }),
      donor(2, 'b', 1500, 500, { kind: 'idealised', mibps: 100 }),
    ]);
    const at = doneAt(played, 1000);
    expect(at).toBeGreaterThanOrEqual(5000);
    expect(at).toBeLessThan(6500);
    expect(played.uncooperative).toEqual([]);
    // One round, the same fraction of each (equal) range asked.
    const rounds = played.events.filter((e): e is Extract<AdmissionEvent, { type: 'ballooning' }> => e.type === 'ballooning');
    expect(rounds.length).toBe(1);
    expect(new Set(rounds[0]!.donors.map((d) => d.toKiB)).size).toBe(1);
  });

  it('a stuck donor costs less than the stall timeout: the first replan moves its share to the others, and it gets its ask back', async () => {
    const played = await play(0, 1000, [
      donor(1, 'stuck', 2000, 500, { kind: 'stuck' }),
      donor(2, 'ok', 2000, 500, { kind: 'idealised', mibps: 200 }),
    ]);
    const at = doneAt(played, 1000);
    // The whole 1000 MiB from 'ok' alone at 200 MiB/s takes 5 s: it never idled.
    expect(at).toBeLessThanOrEqual(5250);
    const rounds = played.events.filter((e) => e.type === 'ballooning');
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    expect(played.uncooperative).toEqual([]);
    // It gave nothing: its target and max_pages are as before it was asked.
    expect(played.sim.donors[0]!.targetPages).toBe(2000 * MIB);
    expect(played.sim.donors[0]!.maxPages).toBe(2000 * MIB);
  });

  it('a stuck donor is marked after exactly the stall timeout when the others cannot cover for it sooner', async () => {
    const played = await play(0, 1000, [
      donor(1, 'stuck', 2000, 500, { kind: 'stuck' }),
      donor(2, 'ok', 2000, 500, { kind: 'idealised', mibps: 50 }),
    ]);
    doneAt(played, 1000);
    expect(played.uncooperative).toEqual(['stuck']);
    const marked = played.events.find((e) => e.type === 'donor-uncooperative')!;
    expect(marked.atMs).toBe(5000);
    // Where it stopped: its original size, so no phantom growth is left behind.
    expect(played.sim.donors[0]!.targetPages).toBe(2000 * MIB);
  });

  it('an intermittently stuck donor whose pauses are shorter than the stall timeout is never marked', async () => {
    // squeeze_test's scenario b, the donor with the short period: it moves 1 s, stops 1.5 s, moves again.
    const played = await play(0, 1000, [
      donor(1, 'sticky', 3000, 500, { kind: 'intermittent', mibps: 200, movingMs: 1000, stuckMs: 1500 }),
      donor(2, 'sticky2', 3000, 500, { kind: 'intermittent', mibps: 200, movingMs: 1000, stuckMs: 1000 }),
    ]);
    doneAt(played, 1000);
    expect(played.uncooperative).toEqual([]);
  });

  it('a donor stuck for longer than the stall timeout: the others cover for it, none idles', async () => {
    // Scenario b's other donor: stuck for 6 s at a time, longer than squeezed's (and our) 5 s.
    const played = await play(0, 1000, [
      donor(1, 'long-pauses', 3000, 500, { kind: 'intermittent', mibps: 100, movingMs: 500, stuckMs: 6000 }),
      donor(2, 'steady', 3000, 500, { kind: 'idealised', mibps: 100 }),
    ]);
    const at = doneAt(played, 1000);
    // 'steady' alone would take 10 s; the first half second of the other and its share moved to 'steady' beat that.
    expect(at).toBeLessThan(10_000);
  });

  it('a donor with a hidden limit above its floor: the working donor takes up the slack; it keeps what it gave', async () => {
    // Scenario a: a small donor that stops above what it was asked, and a large one that works.
    const played = await play(0, 1000, [
      donor(1, 'limited', 1500, 500, { kind: 'hidden-limit', mibps: 100, limitMiB: 1250 }),
      donor(2, 'large', 3500, 2500, { kind: 'idealised', mibps: 500 }),
    ]);
    doneAt(played, 1000);
    expect(played.sim.donors[0]!.totPages).toBeGreaterThanOrEqual(1250 * MIB);
    expect(played.sim.donors[0]!.totPages).toBeLessThan(1500 * MIB);
    // It moved, so it is no "still" donor: it keeps its lower target, and its max_pages follows it (it cannot grow
    // back into what it gave while the request needs it).
    expect(played.sim.donors[0]!.targetPages).toBeLessThan(1500 * MIB);
    expect(played.sim.donors[0]!.maxPages).toBeLessThanOrEqual(played.sim.donors[0]!.targetPages);
  });

  it('gives up when a hidden limit leaves too little and nobody else can give (squeeze_test d)', async () => {
    const played = await play(0, 1000, [
      donor(1, 'ok', 1500, 1000, { kind: 'idealised', mibps: 100 }),
      donor(2, 'limited', 2500, 2000, { kind: 'hidden-limit', mibps: 100, limitMiB: 2250 }),
    ]);
    expect(played.outcome.kind).toBe('gave-up');
    if (played.outcome.kind !== 'gave-up') return;
    expect(played.outcome.cause).toBe('cannot-free-enough');
    expect(played.uncooperative).toEqual(['limited']);
  });

  it('floors too high to free the need (squeeze_test c): gives up at once, having asked nobody', async () => {
    const played = await play(0, 1500, [
      donor(1, 'a', 1500, 1000, { kind: 'idealised', mibps: 100 }),
      donor(2, 'b', 2500, 2000, { kind: 'idealised', mibps: 100 }),
    ]);
    expect(played.outcome).toMatchObject({ kind: 'gave-up', cause: 'cannot-free-enough' });
    expect(played.events.filter((e) => e.type === 'ballooning')).toEqual([]);
    expect(played.sim.donors.map((d) => d.targetPages)).toEqual([1500 * MIB, 2500 * MIB]);
  });

  it('free memory already covers the need: done at once, nobody asked', async () => {
    const played = await play(2000, 1000, [donor(1, 'a', 1500, 500, { kind: 'idealised', mibps: 100 })]);
    expect(doneAt(played, 1000)).toBe(0);
    expect(played.events.filter((e) => e.type === 'ballooning')).toEqual([]);
  });

  it('a slow donor that makes steady progress is waited for, however long it takes', async () => {
    const played = await play(0, 1000, [donor(1, 'slow', 2000, 500, { kind: 'idealised', mibps: 10 })]);
    // 1000 MiB at 10 MiB/s: 100 s, far past the 60 s xenclaim used to give up after.
    expect(doneAt(played, 1000)).toBeGreaterThanOrEqual(100_000);
    expect(played.uncooperative).toEqual([]);
  });

  it('with an operator\'s wait limit, a donor too slow to make it gives up as soon as its rate says so', async () => {
    const played = await play(0, 1000, [donor(1, 'slow', 2000, 500, { kind: 'idealised', mibps: 10 })], 20_000);
    expect(played.outcome).toMatchObject({ kind: 'gave-up', cause: 'too-slow' });
    expect(played.events.at(-1)!.atMs).toBeLessThan(20_000);
    expect(played.uncooperative).toEqual([]);
  });
});

describe('waitForMemory: which hook each decision calls', () => {
  const state = startWaiting({
    needPages: 10,
    plan: {
      method: 'proportional', feasible: true, shortfallPages: 0, coveredPages: 0, gamma: 0, finishS: null, marginPages: 0, donors: [],
      excluded: [], usableHeadroomPages: 10, promisedPages: 0, reservePages: 0, reclaimablePages: 0,
    },
    nowMs: 0,
    headroomPages: 10,
  }).state;
  const step = (decision: WaitStep['decision']): WaitStep => ({ state, decision });

  function scripted(script: WaitStep['decision'][], overrides: Partial<WaitForMemoryIo<string>> = {}): { io: WaitForMemoryIo<string>; calls: string[] } {
    const calls: string[] = [];
    const next = async (name: string): Promise<WaitStep> => {
      calls.push(name);
      const decision = script.shift();
      if (decision === undefined) throw new Error(`script exhausted at ${name}`);
      return step(decision);
    };
    const io: WaitForMemoryIo<string> = {
      waitForProgress: async (untilMs) => {
        calls.push(`waitForProgress(${untilMs})`);
      },
      look: () => next('look'),
      replan: () => next('replan'),
      markUncooperative: async (_wait, domids) => {
        calls.push(`mark(${domids.join(',')})`);
      },
      retry: async () => {
        calls.push('retry');
        return { kind: 'done', value: 'built' };
      },
      ...overrides,
    };
    return { io, calls };
  }

  it('wait → look, mark → replan, replan → replan at once (work-conserving), retry → done', async () => {
    const { io, calls } = scripted([{ kind: 'mark-uncooperative', domids: [3, 4] }, { kind: 'replan' }, { kind: 'retry-claim' }]);
    const outcome = await waitForMemory(io, step({ kind: 'wait', untilMs: 1234 }));
    expect(outcome).toEqual({ kind: 'done', value: 'built' });
    expect(calls).toEqual(['waitForProgress(1234)', 'look', 'mark(3,4)', 'replan', 'replan', 'retry']);
  });

  it('give-up returns the cause and the wait as it stands, calling nothing', async () => {
    const { io, calls } = scripted([]);
    const outcome = await waitForMemory(io, step({ kind: 'give-up', cause: 'max-wait' }));
    expect(outcome).toEqual({ kind: 'gave-up', cause: 'max-wait', wait: state });
    expect(calls).toEqual([]);
  });

  it('a refused retry carries on with the step it gives', async () => {
    const { io, calls } = scripted([{ kind: 'give-up', cause: 'cannot-free-enough' }], {
      retry: async () => ({ kind: 'step', step: step({ kind: 'replan' }) }),
    });
    const outcome = await waitForMemory(io, step({ kind: 'retry-claim' }));
    expect(outcome.kind).toBe('gave-up');
    expect(calls).toEqual(['replan']);
  });

  it('any hook may leave: the loop returns the wait as it stands', async () => {
    for (const [first, overrides] of [
      [{ kind: 'wait', untilMs: 5 }, { waitForProgress: async () => LEAVE }],
      [{ kind: 'wait', untilMs: 5 }, { look: async () => LEAVE }],
      [{ kind: 'replan' }, { replan: async () => LEAVE }],
      [{ kind: 'mark-uncooperative', domids: [1] }, { replan: async () => LEAVE }],
      [{ kind: 'retry-claim' }, { retry: async () => LEAVE }],
    ] as [WaitStep['decision'], Partial<WaitForMemoryIo<string>>][]) {
      const { io } = scripted([], overrides);
      expect(await waitForMemory(io, step(first))).toEqual({ kind: 'left', wait: state });
    }
  });
});
