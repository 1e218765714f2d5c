/**
 * Property tests (fast-check) over random hosts with donors of every kind squeezed's and qmemman's suites use —
 * idealised, stuck, stalling halfway, intermittently stuck, held by a hidden floor or ceiling, stopping short of
 * their targets, without a balloon driver — random requests (guests and pure reservations), guests asking to grow,
 * and random policy (reserve, margin, tolerance). Under every strategy, whatever happens:
 * - every request settles, once; no claim is left, no max_pages left lowered, no half-built domain, memory adds up;
 * - what a started request counted on was there when its build began (guaranteedFreeMiB ≥ needMiB): no donor took
 *   back what it gave, no other build or guest took it;
 * - no donor is planned below its floor, and a guest without a balloon driver is never asked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AdmissionEvent } from '../../src/toolstack/events.js';
import { runScenario } from '../../src/simulate/run.js';
import { validateScenario } from '../../src/simulate/scenario.js';

const KINDS = ['idealised', 'stuck', 'stalls', 'intermittent', 'hidden-floor', 'hidden-ceiling', 'inaccurate', 'no-driver'] as const;

const arbitraryGuest = fc.record({
  kind: fc.constantFrom(...KINDS),
  memoryMiB: fc.integer({ min: 512, max: 6144 }),
  minFraction: fc.double({ min: 0.1, max: 1, noNaN: true }),
  // At most dom0's size: a guest may never grow beyond the host.
  growMiB: fc.integer({ min: 0, max: 1024 }),
  balloonMiBps: fc.integer({ min: 32, max: 2048 }),
  extra: fc.double({ min: 0, max: 1, noNaN: true }),
});

const arbitraryRequest = fc.record({
  at: fc.integer({ min: 0, max: 40 }).map((q) => q / 4),
  reservation: fc.boolean(),
  mib: fc.integer({ min: 0, max: 12_288 }),
  buildMiBps: fc.integer({ min: 256, max: 4096 }),
});

const arbitraryScenario = fc
  .record({
    freeMiB: fc.integer({ min: 0, max: 8192 }),
    guests: fc.array(arbitraryGuest, { minLength: 1, maxLength: 5 }),
    requests: fc.array(arbitraryRequest, { minLength: 1, maxLength: 5 }),
    demandAt: fc.option(fc.integer({ min: 0, max: 20 }).map((q) => q / 2), { nil: undefined }),
    reserveMiB: fc.constantFrom(0, 16, 64, 256),
    marginPercent: fc.integer({ min: 0, max: 20 }),
    toleranceMiB: fc.constantFrom(1, 2, 4),
  })
  .map(({ freeMiB, guests, requests, demandAt, reserveMiB, marginPercent, toleranceMiB }) => {
    const specs = guests.map((g, i) => {
      const minMiB = Math.max(64, Math.floor(g.memoryMiB * g.minFraction));
      const spec: Record<string, unknown> = {
        name: `g${i}`,
        memoryMiB: g.memoryMiB,
        minMiB: Math.min(minMiB, g.memoryMiB),
        maxMiB: g.memoryMiB + g.growMiB,
        balloonMiBps: g.balloonMiBps,
      };
      if (g.kind === 'stuck') spec.cooperative = false;
      if (g.kind === 'stalls') spec.stallAfterMiB = Math.floor(g.extra * 512);
      if (g.kind === 'intermittent') spec.intermittent = { movingS: 0.25 + g.extra * 2, stuckS: 0.25 + (1 - g.extra) * 7 };
      if (g.kind === 'hidden-floor') spec.hiddenMinMiB = Math.floor(minMiB + (g.memoryMiB - minMiB) * g.extra);
      if (g.kind === 'hidden-ceiling') spec.hiddenMaxMiB = g.memoryMiB + Math.floor(g.growMiB * g.extra);
      if (g.kind === 'inaccurate') spec.inaccuracyMiB = 1 + Math.floor(g.extra * 8);
      if (g.kind === 'no-driver') spec.canBalloon = false;
      return spec;
    });
    const grower = specs.find((g) => (g.maxMiB as number) > (g.memoryMiB as number));
    return {
      name: 'random donors',
      host: { freeMiB },
      guests: specs,
      requests: requests.map((r, i) =>
        r.reservation
          ? { name: `r${i}`, at: r.at, needMiB: r.mib }
          : { name: `r${i}`, at: r.at, memoryMiB: Math.max(1, r.mib), buildMiBps: r.buildMiBps },
      ),
      demands: demandAt !== undefined && grower ? [{ at: demandAt, guest: grower.name, targetMiB: grower.maxMiB }] : [],
      policy: { reserveMiB, marginPercent, toleranceMiB },
    };
  });

describe('random donors of every kind, under every strategy (fast-check)', () => {
  it('every request settles; the invariants hold; what a started request counted on was there; floors and drivers respected', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryScenario, async (doc) => {
        const scenario = validateScenario(doc);
        const floors = new Map(scenario.guests.map((g) => [g.name, g.minMiB * 1024]));
        const withoutDriver = new Set(scenario.guests.filter((g) => !g.canBalloon).map((g) => g.name));
        const events: AdmissionEvent[] = [];
        const reports = await runScenario(scenario, { onEvent: (e) => events.push(e), limitS: 3600 });
        for (const r of reports) {
          const label = `${r.strategy} ${JSON.stringify(doc)}`;
          expect(r.invariantViolations, label).toEqual([]);
          expect(r.leakedClaimPages, label).toBe(0);
          expect(r.started + r.failed, label).toBe(scenario.requests.length);
          for (const q of r.requests) {
            expect((q.runningAtS === null) !== (q.failedAtS === null), `${label} ${q.name}`).toBe(true);
            if (q.runningAtS !== null) expect(q.guaranteedFreeMiB!, `${label} ${q.name}`).toBeGreaterThanOrEqual(q.needMiB);
          }
        }
        for (const e of events) {
          if (e.type !== 'ballooning') continue;
          for (const d of e.donors) {
            expect(withoutDriver.has(d.name), `${e.strategy} asked ${d.name}, which has no balloon driver`).toBe(false);
            const floor = floors.get(d.name);
            if (floor !== undefined && d.toKiB < d.fromKiB) expect(d.toKiB, `${e.strategy} ${d.name}`).toBeGreaterThanOrEqual(floor);
          }
        }
      }),
      { numRuns: 60, seed: 0x12e5, endOnFailure: true },
    );
  }, 120_000);
});
