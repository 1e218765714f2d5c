/**
 * The boot storm example is what bench/scenarios.ts generates, so that `npm run bench` measures the shipped
 * example and its scaled variants with one generator; and the generated scenarios are valid at every size benched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootStorm, manyRequests } from '../../bench/scenarios.js';
import { validateScenario } from '../../src/simulate/scenario.js';

describe('the boot storm and the many-requests scenarios', () => {
  it('e-boot-storm.json is bootStorm(500): 1 TiB, 500 running guests (5 stuck, 5 paused), 100 requests within 5 s', () => {
    const file = JSON.parse(readFileSync(join(import.meta.dirname, '../../examples/scenarios/e-boot-storm.json'), 'utf8'));
    expect(file).toEqual(bootStorm(500));
    const scenario = validateScenario(file);
    expect(scenario.host.memoryMiB).toBe(1024 * 1024);
    expect(scenario.guests).toHaveLength(500);
    expect(scenario.guests.filter((g) => !g.cooperative)).toHaveLength(5);
    expect(scenario.guests.filter((g) => g.state === 'paused')).toHaveLength(5);
    expect(scenario.requests).toHaveLength(100);
    expect(Math.max(...scenario.requests.map((r) => r.at))).toBeLessThan(5);
  });

  it('scales from 10 to 1,000 guests and to 100,000 requests, all valid scenarios', () => {
    for (const guests of [10, 100, 250, 1000]) expect(validateScenario(bootStorm(guests)).guests).toHaveLength(guests);
    const many = validateScenario(manyRequests(100_000));
    expect(many.requests).toHaveLength(100_000);
    // 30,000 of them fit (32 MiB each), within Xen's domids; the rest are larger than the host.
    expect(many.requests.filter((r) => r.memoryMiB === 32)).toHaveLength(30_000);
  });
});
