import { describe, expect, it } from 'vitest';
import { hostSizeForFreeMiB, parseScenario, ScenarioError, validateScenario } from '../../src/simulate/scenario.js';
import { defaultXenOverheadMiB } from '../../src/mock/spec.js';
import { STRATEGIES } from '../../src/toolstack/strategy-name.js';

/** What every guest and request gets when the scenario says nothing more. */
const GUEST_DEFAULTS = { state: 'running', buildMiBps: 1024, canBalloon: true, intermittent: null, hiddenMinMiB: null, hiddenMaxMiB: null, inaccuracyMiB: 0 };
const NO_POLICY = { reserveMiB: null, marginPercent: null, marginMinMiB: null, stallTimeoutS: null, maxWaitS: null, toleranceMiB: null, dom0MinMiB: null };

/** The example from docs/scenario-format.md. */
const EXAMPLE = {
  name: 'case B: some requests need ballooning',
  host: { memoryMiB: 65536, dom0MiB: 2048, xenVersion: '4.17' },
  guests: [{ name: 'web1', memoryMiB: 24576, minMiB: 4096, maxMiB: 24576, balloonMiBps: 1024, cooperative: true }],
  requests: [{ at: 0.0, name: 'new1', memoryMiB: 16384, buildMiBps: 2048 }],
  demands: [{ at: 1.0, guest: 'web1', targetMiB: 24576 }],
  strategies: ['claim-first', 'limit-and-check', 'model'],
};

function example(): Record<string, any> {
  return structuredClone(EXAMPLE);
}

function errorOf(doc: unknown): ScenarioError {
  try {
    validateScenario(doc);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return error as ScenarioError;
  }
  throw new Error('expected a ScenarioError, the scenario was accepted');
}

describe('valid scenarios', () => {
  it('reads the documented example as given', () => {
    expect(parseScenario(JSON.stringify(EXAMPLE))).toEqual({
      name: 'case B: some requests need ballooning',
      host: { memoryMiB: 65536, dom0MiB: 2048, xenVersion: '4.17', startsPerS: null, freeMiB: null },
      guests: [
        { name: 'web1', memoryMiB: 24576, minMiB: 4096, maxMiB: 24576, balloonMiBps: 1024, cooperative: true, stallAfterMiB: null, ...GUEST_DEFAULTS },
      ],
      requests: [{ at: 0, name: 'new1', memoryMiB: 16384, needMiB: null, buildMiBps: 2048 }],
      demands: [{ at: 1, guest: 'web1', targetMiB: 24576 }],
      policy: NO_POLICY,
      strategies: ['claim-first', 'limit-and-check', 'model'],
    });
  });

  it('fills in the documented defaults', () => {
    const scenario = validateScenario({
      host: { memoryMiB: 16384 },
      guests: [{ name: 'g', memoryMiB: 1001 }],
      requests: [{ name: 'r', memoryMiB: 512 }],
    });
    expect(scenario).toEqual({
      name: 'unnamed scenario',
      host: { memoryMiB: 16384, dom0MiB: 1024, xenVersion: '4.17', startsPerS: null, freeMiB: null },
      guests: [{ name: 'g', memoryMiB: 1001, minMiB: 251, maxMiB: 1001, balloonMiBps: 512, cooperative: true, stallAfterMiB: null, ...GUEST_DEFAULTS }],
      requests: [{ at: 0, name: 'r', memoryMiB: 512, needMiB: null, buildMiBps: 1024 }],
      demands: [],
      policy: NO_POLICY,
      strategies: [...STRATEGIES],
    });
  });

  it('accepts paused guests, guests still building, a start rate, the peer models, and many requests that cannot all run', () => {
    const doc = example();
    doc.guests.push({ name: 'asleep', memoryMiB: 2048, state: 'paused' });
    doc.guests.push({ name: 'coming', memoryMiB: 2048, state: 'building', buildMiBps: 256 });
    doc.host.startsPerS = 2.5;
    doc.strategies = ['claim-first', 'xl', 'xapi', 'qmemman'];
    const scenario = validateScenario(doc);
    expect(scenario.guests.map((g) => [g.state, g.buildMiBps])).toEqual([['running', 1024], ['paused', 1024], ['building', 256]]);
    expect(scenario.host.startsPerS).toBe(2.5);
    expect(scenario.strategies).toEqual(['claim-first', 'xl', 'xapi', 'qmemman']);
    // 100,000 requests of 64 MiB on a 64 GiB host: at most ~1000 can ever run at once, so the domids suffice.
    doc.requests = Array.from({ length: 100_000 }, (_, i) => ({ name: `r${i}`, memoryMiB: 64 }));
    expect(validateScenario(doc).requests).toHaveLength(100_000);
  });

  it('accepts a stuck donor, a stalling one, a subset of strategies, and a request larger than the host', () => {
    const doc = example();
    doc.guests.push({ name: 'stuck', memoryMiB: 4096, cooperative: false });
    doc.guests.push({ name: 'halfway', memoryMiB: 4096, stallAfterMiB: 1000.5 });
    doc.requests.push({ at: 2.5, name: 'huge', memoryMiB: 100_000 });
    doc.strategies = ['model'];
    doc.host.xenVersion = '4.22';
    const scenario = validateScenario(doc);
    expect(scenario.guests[1]).toMatchObject({ cooperative: false, stallAfterMiB: null });
    expect(scenario.guests[2]).toMatchObject({ cooperative: true, stallAfterMiB: 1000.5 });
    expect(scenario.requests[1]).toEqual({ at: 2.5, name: 'huge', memoryMiB: 100_000, needMiB: null, buildMiBps: 1024 });
    expect(scenario.strategies).toEqual(['model']);
    expect(scenario.host.xenVersion).toBe('4.22');
  });

  it('reads the fields squeezed\'s and qmemman\'s cases need: free memory, reservations, donor kinds, policy', () => {
    const scenario = validateScenario({
      host: { freeMiB: 0, dom0MiB: 1024 },
      guests: [
        { name: 'nodriver', memoryMiB: 2048, canBalloon: false },
        { name: 'sticky', memoryMiB: 2048, intermittent: { movingS: 0.25, stuckS: 0.25 }, inaccuracyMiB: 4 },
        { name: 'limited', memoryMiB: 2048, hiddenMinMiB: 1250, hiddenMaxMiB: 2048 },
      ],
      requests: [{ name: 'reserve', needMiB: 0 }, { name: 'guest', needMiB: 1000, at: 1 }],
      policy: { reserveMiB: 0, marginPercent: 5, marginMinMiB: 1, stallTimeoutS: 5, maxWaitS: 600, toleranceMiB: 4, dom0MinMiB: 512 },
    });
    expect(scenario.host.freeMiB).toBe(0);
    // Sized so that exactly nothing is free once dom0 and the guests run.
    const used = 1024 + 3 * 2048;
    expect(scenario.host.memoryMiB - defaultXenOverheadMiB(scenario.host.memoryMiB) - used).toBe(0);
    expect(scenario.guests.map((g) => [g.canBalloon, g.intermittent, g.inaccuracyMiB, g.hiddenMinMiB])).toEqual([
      [false, null, 0, null],
      [true, { movingS: 0.25, stuckS: 0.25 }, 4, null],
      [true, null, 0, 1250],
    ]);
    expect(scenario.requests.map((r) => [r.memoryMiB, r.needMiB])).toEqual([[null, 0], [null, 1000]]);
    expect(scenario.policy).toEqual({ reserveMiB: 0, marginPercent: 5, marginMinMiB: 1, stallTimeoutS: 5, maxWaitS: 600, toleranceMiB: 4, dom0MinMiB: 512 });
  });

  it('hostSizeForFreeMiB is exact wherever Xen\'s own memory steps', () => {
    for (const used of [0, 127, 128, 1000, 14_143, 262_144]) {
      for (const free of [0, 1, 127, 5000]) {
        const memory = hostSizeForFreeMiB(used, free);
        expect(memory - defaultXenOverheadMiB(memory) - used).toBe(free);
      }
    }
  });
});

describe('invalid scenarios: every error names the JSON path', () => {
  type Case = [title: string, mutate: (doc: Record<string, any>) => unknown, path: string, problem: RegExp];
  const cases: Case[] = [
    ['not JSON object', () => [1, 2], 'scenario', /must be an object, got an array/],
    ['unknown top-level field', (d) => ((d.colour = 'red'), d), 'colour', /unknown field \(known fields here: name, host/],
    ['unknown host field', (d) => ((d.host.tmem = true), d), 'host.tmem', /unknown field/],
    ['unknown guest field', (d) => ((d.guests[0].weight = 3), d), 'guests[0].weight', /unknown field/],
    ['unknown request field', (d) => ((d.requests[0].vcpus = 2), d), 'requests[0].vcpus', /unknown field/],
    ['unknown demand field', (d) => ((d.demands[0].why = 'x'), d), 'demands[0].why', /unknown field/],
    ['missing host', (d) => (delete d.host, d), 'host', /is required/],
    ['missing host memory', (d) => (delete d.host.memoryMiB, d), 'host.memoryMiB', /exactly one of host\.memoryMiB .* and host\.freeMiB/],
    ['host memory and free memory both', (d) => ((d.host.freeMiB = 100), d), 'host.freeMiB', /exactly one of/],
    ['negative free memory', (d) => (delete d.host.memoryMiB, (d.host.freeMiB = -1), d), 'host.freeMiB', /must be an integer >= 0/],
    ['request with a size and a need', (d) => ((d.requests[0].needMiB = 5), d), 'requests[0].needMiB', /exactly one of memoryMiB .* and needMiB/],
    ['fractional need', (d) => (delete d.requests[0].memoryMiB, (d.requests[0].needMiB = 0.5), d), 'requests[0].needMiB', /must be an integer >= 0/],
    ['canBalloon not boolean', (d) => ((d.guests[0].canBalloon = 1), d), 'guests[0].canBalloon', /must be true or false/],
    ['intermittent without stuckS', (d) => ((d.guests[0].intermittent = { movingS: 1 }), d), 'guests[0].intermittent.stuckS', /is required/],
    ['intermittent never moving', (d) => ((d.guests[0].intermittent = { movingS: 0, stuckS: 1 }), d), 'guests[0].intermittent.movingS', /must be a finite number > 0/],
    ['hidden floor above hidden ceiling', (d) => ((d.guests[0].hiddenMinMiB = 9), (d.guests[0].hiddenMaxMiB = 8), d), 'guests[0].hiddenMinMiB', /at most hiddenMaxMiB \(8\)/],
    ['negative inaccuracy', (d) => ((d.guests[0].inaccuracyMiB = -1), d), 'guests[0].inaccuracyMiB', /must be a finite number >= 0/],
    ['unknown policy field', (d) => ((d.policy = { budgetS: 60 }), d), 'policy.budgetS', /unknown field \(known fields here: reserveMiB/],
    ['margin above 100 %', (d) => ((d.policy = { marginPercent: 150 }), d), 'policy.marginPercent', /<= 100, got 150/],
    ['zero stall timeout', (d) => ((d.policy = { stallTimeoutS: 0 }), d), 'policy.stallTimeoutS', /must be a finite number > 0/],
    ['missing requests', (d) => (delete d.requests, d), 'requests', /is required/],
    ['missing guest name', (d) => (delete d.guests[0].name, d), 'guests[0].name', /is required/],
    ['missing guest memory', (d) => (delete d.guests[0].memoryMiB, d), 'guests[0].memoryMiB', /is required/],
    ['missing request memory', (d) => (delete d.requests[0].memoryMiB, d), 'requests[0].memoryMiB', /exactly one of memoryMiB/],
    ['missing demand target', (d) => (delete d.demands[0].targetMiB, d), 'demands[0].targetMiB', /is required/],
    ['missing demand time', (d) => (delete d.demands[0].at, d), 'demands[0].at', /is required/],
    ['host not an object', (d) => ((d.host = 'big'), d), 'host', /must be an object, got "big"/],
    ['guests not an array', (d) => ((d.guests = {}), d), 'guests', /must be an array, got an object/],
    ['guest not an object', (d) => ((d.guests[0] = 7), d), 'guests[0]', /must be an object, got 7/],
    ['memory as a string', (d) => ((d.host.memoryMiB = '64G'), d), 'host.memoryMiB', /must be an integer >= 256 .* got "64G"/],
    ['negative guest memory', (d) => ((d.guests[0].memoryMiB = -5), d), 'guests[0].memoryMiB', /must be an integer > 0 and <= \d+, got -5/],
    ['fractional size', (d) => ((d.requests[0].memoryMiB = 1.5), d), 'requests[0].memoryMiB', /must be an integer > 0/],
    ['zero request', (d) => ((d.requests[0].memoryMiB = 0), d), 'requests[0].memoryMiB', /must be an integer > 0/],
    ['negative time', (d) => ((d.requests[0].at = -1), d), 'requests[0].at', /must be a finite number >= 0 .* got -1/],
    ['non-finite rate', (d) => ((d.guests[0].balloonMiBps = null), d), 'guests[0].balloonMiBps', /must be a finite number > 0 .* got null/],
    ['zero build rate', (d) => ((d.requests[0].buildMiBps = 0), d), 'requests[0].buildMiBps', /must be a finite number > 0/],
    ['negative stall', (d) => ((d.guests[0].stallAfterMiB = -1), d), 'guests[0].stallAfterMiB', /must be a finite number >= 0/],
    ['cooperative not boolean', (d) => ((d.guests[0].cooperative = 'yes'), d), 'guests[0].cooperative', /must be true or false, got "yes"/],
    ['guest larger than the host', (d) => ((d.guests[0].memoryMiB = 70_000), d), 'guests[0].memoryMiB', /at most host\.memoryMiB \(65536\), got 70000/],
    ['guest max larger than the host', (d) => ((d.guests[0].maxMiB = 70_000), d), 'guests[0].maxMiB', /at most host\.memoryMiB \(65536\)/],
    ['guests that do not fit together', (d) => (d.guests.push({ name: 'web2', memoryMiB: 40_000 }), d), 'guests[1].memoryMiB', /need 64576 MiB, more than host\.memoryMiB \(65536\) leaves after dom0 \(2048\)/],
    ['min above memory', (d) => ((d.guests[0].minMiB = 30_000), d), 'guests[0].minMiB', /at most memoryMiB \(24576\), got 30000/],
    ['max below memory', (d) => ((d.guests[0].maxMiB = 1024), d), 'guests[0].maxMiB', /at least memoryMiB \(24576\), got 1024/],
    ['dom0 too small', (d) => ((d.host.dom0MiB = 64), d), 'host.dom0MiB', /must be an integer >= 128/],
    ['dom0 larger than the host', (d) => ((d.host.dom0MiB = 65536), d), 'host.dom0MiB', /<= 65016, got 65536/],
    ['host too small', (d) => ((d.host.memoryMiB = 128), d), 'host.memoryMiB', /must be an integer >= 256/],
    ['unknown Xen version', (d) => ((d.host.xenVersion = '4.2'), d), 'host.xenVersion', /one of "4\.17", "4\.20", "4\.21", "4\.22", got "4\.2"/],
    ['demand naming an unknown guest', (d) => ((d.demands[0].guest = 'nope'), d), 'demands[0].guest', /names no guest in guests\[\] \(known: web1\), got "nope"/],
    ['demand naming a request', (d) => ((d.demands[0].guest = 'new1'), d), 'demands[0].guest', /names no guest/],
    ['demand above max', (d) => ((d.demands[0].targetMiB = 28_672), d), 'demands[0].targetMiB', /at most guest "web1"'s maxMiB \(24576\), got 28672/],
    ['demand below min', (d) => ((d.demands[0].targetMiB = 100), d), 'demands[0].targetMiB', /at least guest "web1"'s minMiB \(4096\)/],
    ['unknown strategy', (d) => ((d.strategies = ['claim-first', 'greedy']), d), 'strategies[1]', /one of "claim-first", "limit-and-check", "model", "xl", "xapi", "qmemman", got "greedy"/],
    ['duplicate strategy', (d) => ((d.strategies = ['model', 'model']), d), 'strategies[1]', /duplicate strategy "model"/],
    ['no strategies', (d) => ((d.strategies = []), d), 'strategies', /must be a non-empty array/],
    ['duplicate guest names', (d) => (d.guests.push({ name: 'web1', memoryMiB: 10 }), d), 'guests[1].name', /duplicate name "web1" \(also guests\[0\]\.name\)/],
    ['request named like a guest', (d) => ((d.requests[0].name = 'web1'), d), 'requests[0].name', /duplicate name "web1" \(also guests\[0\]\.name\)/],
    ['duplicate request names', (d) => (d.requests.push({ name: 'new1', memoryMiB: 10 }), d), 'requests[1].name', /duplicate name "new1" \(also requests\[0\]\.name\)/],
    ['request named Domain-0', (d) => ((d.requests[0].name = 'Domain-0'), d), 'requests[0].name', /duplicate name "Domain-0" \(also dom0\)/],
    ['bad domain name', (d) => ((d.guests[0].name = 'web 1'), d), 'guests[0].name', /must be a name of 1 to 64 letters/],
    ['empty scenario name', (d) => ((d.name = ''), d), 'name', /must be a non-empty string/],
    // What the simulator cannot play.
    ['a request beyond the horizon', (d) => ((d.requests[0].at = 90_000), d), 'requests[0].at', /must be a finite number >= 0 and <= 86400 \(the simulator's horizon\), got 90000/],
    ['a demand beyond the horizon', (d) => ((d.demands[0].at = 86_401), d), 'demands[0].at', /<= 86400 \(the simulator's horizon\), got 86401/],
    ['a build that cannot finish', (d) => ((d.requests[0].buildMiBps = 0.1), d), 'requests[0].buildMiBps', /would end at 163840 s, beyond the simulator's horizon/],
    ['a rate below a page per tick', (d) => ((d.guests[0].balloonMiBps = 0.01), d), 'guests[0].balloonMiBps', /at least 0\.0390625 MiB\/s \(one page per 100 ms tick/],
    ['start turns beyond the horizon', (d) => ((d.host.startsPerS = 0.00001), d), 'host.startsPerS', /1 domain creations at 0\.00001 per second would end at 100000 s/],
    ['a dom0 floor above the host\'s memory', (d) => ((d.policy = { dom0MinMiB: 1e7 }), d), 'policy.dom0MinMiB', /must be a finite number >= 128 and <= \d+, got 10000000/],
    ['a tolerance above the host\'s memory', (d) => ((d.policy = { toleranceMiB: 1e7 }), d), 'policy.toleranceMiB', /<= \d+, got 10000000/],
    ['a zero start rate', (d) => ((d.host.startsPerS = 0), d), 'host.startsPerS', /must be a finite number > 0/],
    ['an unknown guest state', (d) => ((d.guests[0].state = 'asleep'), d), 'guests[0].state', /one of "running", "paused", "building"/],
    ['a build rate for a running guest', (d) => ((d.guests[0].buildMiBps = 100), d), 'guests[0].buildMiBps', /only for a guest in state "building"/],
    [
      'more guests than domids',
      (d) => {
        d.host.memoryMiB = 1024 * 1024;
        d.requests = Array.from({ length: 40_000 }, (_, i) => ({ name: `r${i}`, memoryMiB: 16 }));
        return d;
      },
      'requests',
      /1 guests and 40000 requests that could be running at once beside them: more than Xen's 32751 domids/,
    ],
  ];

  it.each(cases)('%s', (_title, mutate, path, problem) => {
    const error = errorOf(mutate(example()));
    expect(error.path).toBe(path);
    expect(error.problem).toMatch(problem);
    expect(error.message).toBe(`${path}: ${error.problem}`);
  });

  it('a JSON syntax error is a ScenarioError on the document', () => {
    expect(() => parseScenario('{"host": ')).toThrow(ScenarioError);
    expect(() => parseScenario('{"host": ')).toThrow(/^scenario: is not valid JSON/);
  });

  it('NaN and Infinity (possible from JS callers) are refused as non-finite', () => {
    const doc = example();
    doc.guests[0].balloonMiBps = Number.POSITIVE_INFINITY;
    expect(errorOf(doc).message).toMatch(/^guests\[0\]\.balloonMiBps: must be a finite number > 0 .* got Infinity$/);
    const nan = example();
    nan.demands[0].at = Number.NaN;
    expect(errorOf(nan).message).toMatch(/^demands\[0\]\.at: .* got NaN$/);
  });
});
