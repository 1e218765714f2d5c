/**
 * The peer models on the mock host, played through the simulator: what each does that sets it apart (docs/peers.md)
 * — xl's lock around whole builds and its dom0-only ballooning, xapi's four workers, slush, stuckness and fast
 * refusal, qmemman's lock, its 0.1 s stuck-donor rule and its 3 s rate rule.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, type StrategyReport } from '../../src/simulate/run.js';
import { validateScenario } from '../../src/simulate/scenario.js';
import type { AdmitterName } from '../../src/toolstack/strategy-name.js';

async function play(name: AdmitterName, doc: Record<string, unknown>): Promise<StrategyReport> {
  return (await runScenario(validateScenario(doc), { strategies: [name] }))[0]!;
}

const five = (memoryMiB: number) => ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, memoryMiB, buildMiBps: 1024 }));

describe('xl (model)', () => {
  it('holds its lock file across whole builds: guests are built one at a time', async () => {
    const r = await play('xl', { host: { memoryMiB: 32768 }, requests: five(1024) });
    expect(r.requests.map((q) => q.runningAtS)).toEqual([1, 2, 3, 4, 5]);
    expect(r.hypercalls.claim).toBeGreaterThan(0); // claim_mode
  });

  it('balloons dom0 alone, by exactly the shortfall, and fails what dom0 cannot cover', async () => {
    // 16 GiB host: Xen 136, dom0 8 GiB, web1 6 GiB → 1912 MiB free. a needs 3 GiB and libxl's overhead: dom0 gives
    // the difference.
    const r = await play('xl', {
      host: { memoryMiB: 16384, dom0MiB: 8192 },
      guests: [{ name: 'web1', memoryMiB: 6144, minMiB: 1024 }],
      requests: [{ name: 'a', memoryMiB: 3072 }, { at: 10, name: 'b', memoryMiB: 8192 }],
    });
    const dom0 = r.donors.find((d) => d.name === 'Domain-0')!;
    expect(dom0.asks).toEqual([expect.objectContaining({ request: 'a', fromMiB: 8192, kind: 'lower' })]);
    const needMiB = Number(/^requested: needs (\d+) MiB/.exec(r.requests[0]!.steps[0]!.what)![1]);
    expect(needMiB).toBeGreaterThan(3072);
    expect(dom0.asks[0]!.toMiB).toBeCloseTo(8192 - (needMiB - 1912), 0);
    expect(r.donors.find((d) => d.name === 'web1')!.asks).toEqual([]);
    expect(r.requests[0]!.runningAtS).not.toBeNull();
    expect(r.requests[1]!.error).toMatch(/^xl: failed to free memory for the domain: .*below its floor of 1024 MiB \(xl balloons only dom0\)/);
  });
});

describe('xapi (model)', () => {
  it('runs four VM starts at a time; the fifth waits for a worker', async () => {
    const r = await play('xapi', { host: { memoryMiB: 32768 }, requests: five(2048) });
    expect(r.requests.map((q) => q.runningAtS)).toEqual([2, 2, 2, 2, 4]);
  });

  it('keeps 72 MiB of slush: squeezes when a VM would leave less', async () => {
    // 8 GiB host: Xen 72, dom0 1 GiB (not managed), web1 3 GiB (floor 1) → 4024 MiB free; a needs 3958: it fits,
    // leaving 66 MiB — enough for claim-first's 64 MiB reserve for Xen, less than squeezed's 72 MiB slush.
    const doc = { host: { memoryMiB: 8192 }, guests: [{ name: 'web1', memoryMiB: 3072, minMiB: 1024, balloonMiBps: 1024 }], requests: [{ name: 'a', memoryMiB: 3940 }] };
    const r = await play('xapi', doc);
    expect(r.started).toBe(1);
    expect(r.donors.find((d) => d.name === 'web1')!.asks.length).toBeGreaterThan(0);
    expect(r.donors.find((d) => d.name === 'Domain-0')!.asks).toEqual([]);
    const claimFirst = await play('claim-first', doc);
    expect(claimFirst.requests[0]!.needMiB).toBe(3958);
    expect(claimFirst.balloonRounds).toBe(0); // the claim leaves the reserve: no ballooning
  });

  it('fails a VM larger than squeezing could ever free at once, and blames stuck guests after 5 s of no progress', async () => {
    const r = await play('xapi', {
      host: { memoryMiB: 16384, dom0MiB: 1024 },
      guests: [
        { name: 'stuck', memoryMiB: 4096, minMiB: 1024, cooperative: false },
        { name: 'ok', memoryMiB: 4096, minMiB: 3072, balloonMiBps: 1024 },
      ],
      requests: [{ name: 'huge', memoryMiB: 65536 }, { name: 'big', memoryMiB: 8192 }],
    });
    const [huge, big] = r.requests;
    expect(huge!.failedAtS).toBe(0);
    expect(huge!.error).toMatch(/^xapi: HOST_NOT_ENOUGH_FREE_MEMORY/);
    // big needs ~1.2 GiB freed; ok can give only 1 GiB: squeezed waits on stuck, then fails blaming it.
    expect(big!.error).toMatch(/^xapi: squeezed could not free .*domains refused to cooperate: stuck/);
    expect(big!.failedAtS!).toBeGreaterThan(5);
    expect(big!.steps.some((s) => s.what === 'donor stuck did not move: not asked again')).toBe(true);
  });
});

describe('qmemman (model)', () => {
  it('holds its one lock through each build: starts run one at a time, without claims', async () => {
    const r = await play('qmemman', { host: { memoryMiB: 32768 }, requests: five(1024) });
    expect(r.requests.map((q) => q.runningAtS)).toEqual([1, 2, 3, 4, 5]);
    expect(r.hypercalls.claim).toBe(0);
  });

  it('drops a donor that did not move within one 0.1 s look, and the others cover for it', async () => {
    const r = await play('qmemman', {
      host: { memoryMiB: 16384, dom0MiB: 1024 },
      guests: [
        { name: 'stuck', memoryMiB: 4096, minMiB: 1024, cooperative: false },
        { name: 'ok', memoryMiB: 6144, minMiB: 1024, balloonMiBps: 1024 },
      ],
      requests: [{ name: 'big', memoryMiB: 6144, buildMiBps: 2048 }],
    });
    const steps = r.requests[0]!.steps;
    const dropped = steps.find((s) => s.what === 'donor stuck did not move: not asked again')!;
    expect(dropped.atS).toBeLessThanOrEqual(0.2);
    expect(r.started).toBe(1);
  });

  it('fails a request when the last 3 s freed less than 300 MiB (donors too slow)', async () => {
    const r = await play('qmemman', {
      host: { memoryMiB: 16384, dom0MiB: 1024 },
      guests: [{ name: 'slow', memoryMiB: 8192, minMiB: 1024, balloonMiBps: 64 }],
      requests: [{ name: 'big', memoryMiB: 8192 }],
    });
    expect(r.requests[0]!.error).toMatch(/^qmemman: not enough memory for big .*grew by \d+ MiB over the last 3 s \(less than 100 MiB\/s\)/);
    expect(r.requests[0]!.failedAtS!).toBeGreaterThanOrEqual(3);
    expect(r.requests[0]!.failedAtS!).toBeLessThan(4);
  });
});
