/**
 * Seeded random workloads under every strategy: whatever the mix of guests (slow, stuck, stalling donors, guests that
 * may grow), bursts of requests (some impossible) and demands, every request gets an outcome, the invariants hold,
 * no claim leaks, and no donor is ever asked to go below its floor.
 */
import { describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { runScenario } from '../../src/simulate/run.js';
import { validateScenario } from '../../src/simulate/scenario.js';
import { prng, randomInt } from '../helpers/random.js';
import { failAtCall } from '../toolstack/faulty-backend.js';

function randomScenario(seed: number): unknown {
  const random = prng(seed);
  const memoryMiB = randomInt(random, 8, 64) * 1024;
  const dom0MiB = randomInt(random, 1, 3) * 1024;
  let left = memoryMiB - dom0MiB - Math.ceil(memoryMiB / 128) - 8 - 512;
  const guests = [];
  const nGuests = randomInt(random, 0, 6);
  for (let i = 0; i < nGuests && left > 1024; i++) {
    const size = randomInt(random, 512, Math.min(left, memoryMiB / 3));
    left -= size;
    const kind = random();
    guests.push({
      name: `g${i}`,
      memoryMiB: size,
      minMiB: randomInt(random, 128, size),
      maxMiB: size + randomInt(random, 0, 2048),
      balloonMiBps: randomInt(random, 64, 2048),
      ...(kind < 0.15 ? { cooperative: false } : {}),
      ...(kind >= 0.15 && kind < 0.3 ? { stallAfterMiB: randomInt(random, 0, 512) } : {}),
    });
  }
  const requests = [];
  const nRequests = randomInt(random, 1, 12);
  for (let i = 0; i < nRequests; i++) {
    requests.push({
      at: randomInt(random, 0, 40) / 4,
      name: `r${i}`,
      memoryMiB: random() < 0.1 ? memoryMiB * 2 : randomInt(random, 128, memoryMiB / 3),
      buildMiBps: randomInt(random, 256, 4096),
    });
  }
  const demands = guests
    .filter((g) => g.maxMiB > g.memoryMiB && random() < 0.5)
    .map((g) => ({ at: randomInt(random, 0, 20) / 2, guest: g.name, targetMiB: randomInt(random, g.memoryMiB, g.maxMiB) }));
  return { name: `random ${seed}`, host: { memoryMiB, dom0MiB }, guests, requests, demands };
}

describe('random workloads', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}: every request settles, invariants hold, floors respected`, async () => {
      const scenario = validateScenario(randomScenario(seed));
      const floors = new Map(scenario.guests.map((g) => [g.name, g.minMiB * 1024]));
      floors.set('Domain-0', 1024 * 1024);
      const events: AdmissionEvent[] = [];
      const reports = await runScenario(scenario, { onEvent: (e) => events.push(e) });
      for (const r of reports) {
        const label = `${scenario.name} ${r.strategy}`;
        expect(r.invariantViolations, label).toEqual([]);
        expect(r.leakedClaimPages, label).toBe(0);
        expect(r.started + r.failed, label).toBe(scenario.requests.length);
        for (const q of r.requests) {
          expect((q.runningAtS === null) !== (q.failedAtS === null), `${label} ${q.name}`).toBe(true);
          if (q.runningAtS !== null) expect(q.admittedAtS!, `${label} ${q.name}`).toBeGreaterThanOrEqual(q.requestedAtS);
        }
        // No strategy that started everything beat the rate-only lower bound.
        if (r.failed === 0 && r.lowerBoundS !== null) expect(r.lowerBoundS, label).toBeLessThanOrEqual(r.makespanS + 1e-9);
        // A request larger than the host fails, and fails at once.
        for (const [i, q] of r.requests.entries()) {
          if (scenario.requests[i]!.memoryMiB! > scenario.host.memoryMiB) expect(q.failedAtS, `${label} ${q.name}`).toBe(q.requestedAtS);
        }
      }
      // What a donor may be given back by a replan never exceeds where it was before anyone asked it.
      const highest = new Map(scenario.guests.map((g) => [g.name, g.maxMiB * 1024]));
      highest.set('Domain-0', scenario.host.dom0MiB * 1024);
      for (const e of events) {
        if (e.type !== 'ballooning') continue;
        for (const d of e.donors) {
          const floor = floors.get(d.name);
          if (floor !== undefined) expect(d.toKiB, `${e.strategy} ${d.name}`).toBeGreaterThanOrEqual(floor);
          expect(d.toKiB).not.toBe(d.fromKiB);
          if (d.toKiB > d.fromKiB) expect(d.toKiB, `${e.strategy} ${d.name} given back`).toBeLessThanOrEqual(highest.get(d.name)!);
        }
      }
    });
  }

  for (let seed = 101; seed <= 140; seed++) {
    it(`seed ${seed} with a fault at a random backend call: every request settles, invariants hold`, async () => {
      const scenario = validateScenario(randomScenario(seed));
      const random = prng(seed * 7919);
      const k = randomInt(random, 1, 60);
      const code = random() < 0.5 ? 'EIO' : 'ENOMEM';
      const reports = await runScenario(scenario, { wrapBackend: (backend) => failAtCall(backend, k, code).backend });
      for (const r of reports) {
        const label = `${scenario.name} ${r.strategy} (${code} at call ${k})`;
        expect(r.invariantViolations, label).toEqual([]);
        expect(r.leakedClaimPages, label).toBe(0);
        expect(r.started + r.failed, label).toBe(scenario.requests.length);
      }
    });
  }
});
