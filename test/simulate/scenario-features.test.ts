/**
 * What operators hit, played: paused guests and guests another toolstack is still building are never donors for
 * xenclaim's strategies, and a host's start rate spaces the builds — for every admitter, and in the tight bound.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/simulate/run.js';
import { validateScenario } from '../../src/simulate/scenario.js';
import { ADMITTERS, STRATEGIES } from '../../src/toolstack/strategy-name.js';

describe('paused guests', () => {
  // 32 GiB host: Xen 264, dom0 1024 (at its floor), asleep 12 GiB (paused), web 12 GiB → ~7.3 GiB free; big needs 10.
  const scenario = validateScenario({
    host: { memoryMiB: 32768, dom0MiB: 1024 },
    guests: [
      { name: 'asleep', memoryMiB: 12288, minMiB: 2048, state: 'paused' },
      { name: 'web', memoryMiB: 12288, minMiB: 2048, balloonMiBps: 1024 },
    ],
    requests: [{ name: 'big', memoryMiB: 10240, buildMiBps: 2048 }],
  });

  it('are never asked by the strategies: the running guest gives it all', async () => {
    for (const r of await runScenario(scenario, { strategies: STRATEGIES })) {
      expect(r.started, r.strategy).toBe(1);
      const asleep = r.donors.find((d) => d.name === 'asleep')!;
      expect(asleep.asks, r.strategy).toEqual([]);
      expect(asleep.endMiB, r.strategy).toBe(12288);
      expect(r.donors.find((d) => d.name === 'web')!.gaveMiB, r.strategy).toBeGreaterThan(2900);
      expect(r.invariantViolations, r.strategy).toEqual([]);
    }
  });

  it("are asked by squeezed's and qmemman's models, which find them stuck (as on a real host)", async () => {
    const [xapi, qmemman] = await runScenario(scenario, { strategies: ['xapi', 'qmemman'] });
    for (const r of [xapi!, qmemman!]) {
      const asleep = r.donors.find((d) => d.name === 'asleep')!;
      expect(asleep.asks.length, r.strategy).toBeGreaterThan(0);
      expect(asleep.lowestMiB, r.strategy).toBe(12288); // its driver never ran
      expect(r.requests[0]!.steps.some((s) => /^donor asleep did not move/.test(s.what)), r.strategy).toBe(true);
      expect(r.started, r.strategy).toBe(1);
    }
  });
});

describe('guests another toolstack is still building', () => {
  it('keep their claim and are never asked while built; xl and qmemman, which count claimed memory as free, fail', async () => {
    // 16 GiB host: Xen 136, dom0 1024; coming (6 GiB) is being built at 1 GiB/s with a claim; old 4 GiB runs.
    const scenario = validateScenario({
      host: { memoryMiB: 16384, dom0MiB: 1024 },
      guests: [
        { name: 'coming', memoryMiB: 6144, minMiB: 1024, state: 'building', buildMiBps: 1024 },
        { name: 'old', memoryMiB: 4096, minMiB: 1024, balloonMiBps: 1024 },
      ],
      requests: [{ at: 1, name: 'new', memoryMiB: 6144, buildMiBps: 2048 }],
    });
    const reports = await runScenario(scenario, { strategies: ADMITTERS });
    for (const r of reports) {
      const coming = r.donors.find((d) => d.name === 'coming')!;
      // It was built to its full size whatever happened around it.
      expect(Math.max(...r.memory.donors.find((d) => d.name === 'coming')!.points.map((p) => p[1])), r.strategy).toBe(6144);
      // Asked for nothing while it was being built (6 s), by anyone.
      expect(coming.asks.filter((a) => a.atS < 6), r.strategy).toEqual([]);
      expect(r.leakedClaimPages, r.strategy).toBe(0);
    }
    // Only ~5 GiB is free once coming's claim is counted: new needs old to give ~1 GiB.
    for (const r of reports.filter((x) => x.strategy !== 'xl' && x.strategy !== 'qmemman')) {
      expect(r.started, r.strategy).toBe(1);
      expect(r.donors.find((d) => d.name === 'old')!.gaveMiB, r.strategy).toBeGreaterThan(900);
    }
    // xl sees enough free memory (claims not subtracted), balloons nobody, and its claim is refused; qmemman builds
    // without a claim into memory coming has claimed, and the allocation gate refuses it.
    const [xl, qmemman] = [reports.find((r) => r.strategy === 'xl')!, reports.find((r) => r.strategy === 'qmemman')!];
    expect(xl.requests[0]!.error).toMatch(/claim of \d+ pages for domain \d+ failed/);
    expect(qmemman.requests[0]!.error).toMatch(/refused by the allocation gate/);
  });
});

describe("a host's start rate", () => {
  it('spaces every admitter\'s builds, and the tight bound knows it', async () => {
    const scenario = validateScenario({
      host: { memoryMiB: 32768, startsPerS: 2 },
      requests: ['a', 'b', 'c', 'd'].map((name) => ({ name, memoryMiB: 1024, buildMiBps: 1024 })),
    });
    for (const r of await runScenario(scenario, { strategies: ADMITTERS })) {
      const running = r.requests.map((q) => q.runningAtS!).sort((x, y) => x - y);
      for (let i = 1; i < running.length; i++) expect(running[i]! - running[i - 1]!, r.strategy).toBeGreaterThanOrEqual(0.5);
      expect(r.tightBoundS).toBe(2.5); // the last of four starts, one every 0.5 s, at 1.5 s, then 1 s to build
      expect(r.tightBoundExact).toBe(true);
      expect(r.makespanS, r.strategy).toBeGreaterThanOrEqual(2.5);
    }
    const [claimFirst] = await runScenario(scenario, { strategies: ['claim-first'] });
    expect(claimFirst!.requests.map((q) => q.runningAtS)).toEqual([1, 1.5, 2, 2.5]);
  });
});
