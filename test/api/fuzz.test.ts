/**
 * Fuzzed request bodies (fast-check): whatever a client sends to the endpoints that take a body, the daemon answers
 * 2xx or 4xx with the one error shape — never a 5xx, never a crash — and afterwards still serves, with no claim left
 * and the books balanced.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApi, xlConfig, type ApiHarness } from './helpers.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await openApi({ mockHost: { memoryMiB: 4096, dom0MiB: 1024 } });
  await h.app.inject({ method: 'POST', url: '/v1/domains', payload: { guests: [{ xl: xlConfig('victim', 128) }] } });
});
afterAll(async () => {
  await h.close();
});

const anyJson = fc.jsonValue({ maxDepth: 3 });
const sizes = fc.oneof(fc.integer({ min: -2, max: 3 * 1024 * 1024 }), fc.double(), fc.constant(null), fc.string({ maxLength: 8 }), fc.constant(Number.MAX_SAFE_INTEGER));
const memoryBodies = fc.oneof(
  anyJson,
  fc.record({ targetKiB: sizes, maxKiB: sizes }, { requiredKeys: [] }),
  fc.dictionary(fc.string({ maxLength: 10 }), sizes, { maxKeys: 3 }),
);
const guests = fc.oneof(
  fc.record({ xl: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom(xlConfig('f1', 64), 'name="x"\nmemory=-1\n', 'memory = [1,2]\n', 'name = "y"\nmemory = "lots"\n')) }),
  fc.record({ config: anyJson }),
  anyJson,
);
const createBodies = fc.oneof(
  anyJson,
  fc.record({ guests: fc.array(guests, { maxLength: 3 }), paused: fc.oneof(fc.boolean(), anyJson), wait: fc.boolean(), requestId: fc.string({ maxLength: 70 }) }, { requiredKeys: ['guests'] }),
);
const domainNames = fc.oneof(fc.constantFrom('victim', 'Domain-0', '0', '1', 'nosuch', '99999'), fc.string({ minLength: 1, maxLength: 70 }).map(encodeURIComponent));

function checkAnswer(status: number, body: string): void {
  expect(status, body).toBeLessThan(500);
  if (status >= 400) {
    const parsed = JSON.parse(body) as { error: { code: string; message: string } };
    expect(typeof parsed.error.code).toBe('string');
    expect(parsed.error.message.length).toBeGreaterThan(0);
  }
}

describe('fuzzed request bodies', () => {
  it('PUT …/memory and …/floor: 2xx or a 4xx naming what is wrong', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(domainNames, memoryBodies, fc.oneof(anyJson, fc.record({ floorKiB: sizes })), async (domain, memory, floor) => {
        const m = await h.app.inject({ method: 'PUT', url: `/v1/domains/${domain}/memory`, payload: JSON.stringify(memory), headers: { 'content-type': 'application/json' } });
        checkAnswer(m.statusCode, m.body);
        const f = await h.app.inject({ method: 'PUT', url: `/v1/domains/${domain}/floor`, payload: JSON.stringify(floor), headers: { 'content-type': 'application/json' } });
        checkAnswer(f.statusCode, f.body);
      }),
      { numRuns: 150 },
    );
  });

  it('POST /v1/domains: 2xx or a 4xx naming what is wrong', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(createBodies, async (body) => {
        const res = await h.app.inject({ method: 'POST', url: '/v1/domains', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        checkAnswer(res.statusCode, res.body);
      }),
      { numRuns: 150 },
    );
  });

  it('afterwards the daemon serves, nothing is in flight, no claim is left, the books balance', async () => {
    await h.core.host.idle();
    expect((await h.app.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200);
    expect((await h.mock.listDomains()).filter((d) => d.outstandingPages > 0)).toEqual([]);
    expect(h.mock.control.accounting().imbalancePages).toBe(0);
    expect(h.core.journal.empty).toBe(true);
  });
});
