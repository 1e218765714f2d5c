/**
 * The supply the bounds rest on (src/simulate/supply.ts) against the mock host's own balloon drivers: at every moment
 * an intermittent donor asked at any time has given no more than the supply counts for it (so no admitter can beat a
 * bound built on it), and not much less (so the bound stays tight): it finishes within one cycle of the supply.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock.js';
import { MockBackend } from '../../src/mock/backend.js';
import { givingIntervals, MemorySupply } from '../../src/simulate/supply.js';

/** Pages per MiB. */
const MIB = 256;

async function delivered(cycle: { movingS: number; stuckS: number }, askAtS: number, balloonMiBps: number, giveMiB: number) {
  const clock = new VirtualClock();
  const backend = new MockBackend({ host: { memoryMiB: 16384, dom0MiB: 1024 }, clock });
  const domid = backend.control.addRunningGuest({ name: 'g', memoryMiB: 4096, balloonMiBps, intermittent: cycle });
  await clock.advanceTo(askAtS * 1000);
  await backend.setMemoryTarget(domid, (4096 - giveMiB) * 1024);
  const samples: [number, number][] = [];
  for (let t = askAtS * 1000; ; t += 10) {
    await clock.advanceTo(t);
    const given = (4096 * MIB - backend.control.totPagesOf(domid)!) / MIB;
    samples.push([t / 1000, given]);
    if (given >= giveMiB) return samples;
  }
}

describe('the supply of an intermittent donor', () => {
  const cases = [
    { cycle: { movingS: 0.05, stuckS: 6.25 }, askAtS: 0, rate: 512, give: 256 },
    { cycle: { movingS: 0.3, stuckS: 1 }, askAtS: 0.27, rate: 256, give: 300 },
    { cycle: { movingS: 1.234, stuckS: 0.5 }, askAtS: 2.95, rate: 1024, give: 2000 },
    { cycle: { movingS: 0.15, stuckS: 0.15 }, askAtS: 0.1, rate: 100, give: 64 },
  ];
  it.each(cases)('moving $cycle.movingS s, stuck $cycle.stuckS s, asked at $askAtS s', async ({ cycle, askAtS, rate, give }) => {
    const samples = await delivered(cycle, askAtS, rate, give);
    const donor = { reclaimableMiB: give, balloonMiBps: rate, fromS: askAtS, intermittent: cycle };
    const supply = new MemorySupply(0, [donor]);
    for (const [t, given] of samples) expect(given, `at ${t} s`).toBeLessThanOrEqual(supply.availableMiB(t) + 1e-6);
    const done = samples.at(-1)![0];
    const counted = supply.timeToHave(give)!;
    expect(done).toBeGreaterThanOrEqual(counted);
    expect(done - counted).toBeLessThan(cycle.movingS + cycle.stuckS + 0.1);
    // Nothing is counted before the donor was asked, nor outside its moving windows (less a tick).
    for (const [from] of givingIntervals(donor)) expect(from).toBeGreaterThanOrEqual(askAtS);
  });
});
