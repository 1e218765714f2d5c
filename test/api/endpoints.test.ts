/**
 * Every endpoint of the daemon's API on the mock host, success and failure: status, the JSON error shape naming
 * the field, and that the host really changed (or did not).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openApi, xlConfig, type ApiHarness } from './helpers.js';

let h: ApiHarness;
beforeEach(async () => {
  h = await openApi({ mockHost: { memoryMiB: 8192, dom0MiB: 1024 } });
});
afterEach(async () => {
  await h.close();
});

async function json(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown): Promise<{ status: number; body: any }> {
  const res = await h.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.body === '' ? null : JSON.parse(res.body) };
}

function expectError(res: { status: number; body: any }, status: number, code: string, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  if (field !== undefined) expect(res.body.error.field).toBe(field);
}

describe('GET endpoints', () => {
  it('/v1/health, /v1/host, /v1/domains, /v1/domains/{domain}, /v1/claims', async () => {
    expect(await json('GET', '/v1/health')).toEqual({ status: 200, body: { ok: true } });
    const host = await json('GET', '/v1/host');
    expect(host.status).toBe(200);
    expect(host.body).toMatchObject({ backend: 'mock', strategy: 'claim-first', features: { claims: true }, recovery: { complete: true, repairs: 0 }, journalOpenEntries: 0 });
    expect(host.body.physinfo.totalPages).toBe(8192 * 256);
    const domains = await json('GET', '/v1/domains');
    const strip = (list: any[]): unknown[] => list.map(({ cpuTimeNs: _t, ...rest }) => rest);
    expect(strip(domains.body)).toEqual(strip(await h.mock.listDomains()));
    expect((await json('GET', '/v1/domains/Domain-0')).body.domid).toBe(0);
    expect((await json('GET', '/v1/domains/0')).body.name).toBe('Domain-0');
    expectError(await json('GET', '/v1/domains/nosuch'), 404, 'ESRCH');
    expect((await json('GET', '/v1/claims')).body).toEqual([{ domid: 0, name: 'Domain-0', outstandingPages: 0 }]);
    expectError(await json('GET', '/v1/nothing'), 404, 'ENOENT');
  });
});

describe('POST /v1/domains', () => {
  it('creates from xl.cfg text and from libxl JSON, several at once; the guests run', async () => {
    const res = await json('POST', '/v1/domains', {
      guests: [{ xl: xlConfig('web1', 256) }, { config: { c_info: { type: 'pv', name: 'web2' }, b_info: { max_memkb: 131072, target_memkb: 131072 } } }],
    });
    expect(res.status).toBe(200);
    expect(res.body.guests).toEqual(['web1', 'web2']);
    expect(res.body.results.map((r: any) => [r.name, r.ok])).toEqual([['web1', true], ['web2', true]]);
    const domains = await h.mock.listDomains();
    expect(domains.find((d) => d.name === 'web1')?.totPages).toBe(256 * 256);
    expect(h.core.journal.empty).toBe(true);
  });

  it('wait: false answers 202 at once; the guest comes up', async () => {
    const res = await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('later', 128) }], wait: false, requestId: 'r-1' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ requestId: 'r-1', guests: ['later'] });
    await h.core.host.idle();
    for (let i = 0; i < 100 && !(await h.mock.listDomains()).some((d) => d.name === 'later'); i++) await h.core.host.clock.sleep(100);
    expect((await h.mock.listDomains()).some((d) => d.name === 'later' && !d.paused)).toBe(true);
  });

  it('a guest that cannot be created is a result with ok false (the request itself was fine)', async () => {
    const res = await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('huge', 64 * 1024) }] });
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ name: 'huge', ok: false });
    expect(res.body.results[0].error.message).toMatch(/huge/);
  });

  it('refuses bad bodies with 400 naming the field', async () => {
    expectError(await json('POST', '/v1/domains', {}), 400, 'EINVAL', 'body');
    expectError(await json('POST', '/v1/domains', { guests: [] }), 400, 'EINVAL', 'body/guests');
    const unknown = await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('a', 128) }], colour: 'blue' });
    expectError(unknown, 400, 'EINVAL', 'body');
    expect(unknown.body.error.message).toContain('"colour"');
    expectError(await json('POST', '/v1/domains', { guests: [{ xl: 'memory = ' }] }), 400, 'EINVAL', 'body/guests/0');
    expectError(await json('POST', '/v1/domains', { guests: [{ xl: 'memory = 128\n' }] }), 400, 'EINVAL', 'body/guests/0');
    expectError(await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('twice', 128) }, { xl: xlConfig('twice', 128) }] }), 400, 'EINVAL', 'body/guests/1');
    expectError(await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('a', 128) }], requestId: 'no spaces' }), 400, 'EINVAL', 'body/requestId');
    expect((await h.mock.listDomains()).length).toBe(1);
  });
});

describe('PUT /v1/domains/{domain}/memory', () => {
  it('sets the target (max_pages follows, + 1 MiB) and the maximum with libxl\'s rules', async () => {
    await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('web', 512) }] });
    const target = await json('PUT', '/v1/domains/web/memory', { targetKiB: 256 * 1024 });
    expect(target.status).toBe(200);
    expect(target.body).toMatchObject({ targetKiB: 256 * 1024, maxPages: (256 + 1) * 256 });
    const max = await json('PUT', '/v1/domains/web/memory', { maxKiB: 384 * 1024 });
    expect(max.body).toMatchObject({ maxKiB: 384 * 1024, maxPages: (384 + 1) * 256, maxPagesKiB: (384 + 1) * 1024 });
    const below = await json('PUT', '/v1/domains/web/memory', { maxKiB: 128 * 1024 });
    expectError(below, 400, 'EINVAL');
    expect(below.body.error.message).toMatch(/target of 262144 KiB, got 131072 KiB/);
    // Both at once, raising: the maximum is set first so the target is not refused.
    const both = await json('PUT', '/v1/domains/web/memory', { targetKiB: 448 * 1024, maxKiB: 500 * 1024 });
    expect(both.status).toBe(200);
    expect((await h.mock.listDomains()).find((d) => d.name === 'web')?.targetKiB).toBe(448 * 1024);
  });

  it('refuses an empty body, a negative size, an unknown field or domain', async () => {
    expectError(await json('PUT', '/v1/domains/Domain-0/memory', {}), 400, 'EINVAL', 'body');
    expectError(await json('PUT', '/v1/domains/Domain-0/memory', { targetKiB: -1 }), 400, 'EINVAL', 'body/targetKiB');
    expectError(await json('PUT', '/v1/domains/Domain-0/memory', { targetKiB: 1.5 }), 400, 'EINVAL', 'body/targetKiB');
    expectError(await json('PUT', '/v1/domains/Domain-0/memory', { target: 1 }), 400, 'EINVAL', 'body');
    expectError(await json('PUT', '/v1/domains/nosuch/memory', { targetKiB: 1024 }), 404, 'ESRCH');
    expectError(await json('PUT', '/v1/domains/Domain-0/memory', { targetKiB: 64 * 1024 }), 400, 'ERROR_INVAL');
  });
});

describe('PUT /v1/domains/{domain}/floor and DELETE /v1/domains/{domain}', () => {
  it('floors are set by name, removed with null, and kept across a restart of the daemon', async () => {
    expect((await json('PUT', '/v1/domains/web/floor', { floorKiB: 512 * 1024 })).body).toEqual({ name: 'web', floorKiB: 512 * 1024 });
    expect((await json('GET', '/v1/host')).body.floorsKiB).toEqual({ web: 512 * 1024 });
    await json('PUT', '/v1/domains/other/floor', { floorKiB: 1024 });
    await json('PUT', '/v1/domains/other/floor', { floorKiB: null });
    expectError(await json('PUT', '/v1/domains/web/floor', { floorKiB: -5 }), 400, 'EINVAL');
    expectError(await json('PUT', '/v1/domains/web/floor', {}), 400, 'EINVAL', 'body');
    const stateDir = h.stateDir;
    await h.close();
    h = await openApi({ stateDir });
    expect((await json('GET', '/v1/host')).body.floorsKiB).toEqual({ web: 512 * 1024 });
  });

  it('destroys a guest by name or domid; refuses Domain-0 and an unknown domain', async () => {
    await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('gone', 128) }] });
    const domid = (await h.mock.listDomains()).find((d) => d.name === 'gone')!.domid;
    expect(await json('DELETE', `/v1/domains/${domid}`)).toEqual({ status: 200, body: { domid, destroyed: true } });
    // Destroyed: dying while its pages go back (5 ms of real time at this speed), then gone.
    const after = await h.mock.getDomain(domid).then((d) => (d.dying ? 'dying' : 'alive'), () => 'gone');
    expect(['dying', 'gone']).toContain(after);
    expectError(await json('DELETE', '/v1/domains/Domain-0'), 400, 'EINVAL', 'params/domain');
    expectError(await json('DELETE', '/v1/domains/nosuch'), 404, 'ESRCH');
  });
});

describe('limits and malformed requests', () => {
  it('an oversized body gets 413, invalid JSON 400, a media type it does not read 415; the daemon keeps serving', async () => {
    await h.close();
    h = await openApi({}, { bodyLimitBytes: 2048 });
    const big = await h.app.inject({ method: 'POST', url: '/v1/domains', payload: { guests: [{ xl: 'x'.repeat(4096) }] } });
    expect(big.statusCode).toBe(413);
    expect(JSON.parse(big.body).error).toMatchObject({ code: 'E2BIG', field: 'body' });
    const bad = await h.app.inject({ method: 'POST', url: '/v1/domains', payload: '{"guests": [', headers: { 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).error.code).toBe('EINVAL');
    const xml = await h.app.inject({ method: 'POST', url: '/v1/domains', payload: '<guests/>', headers: { 'content-type': 'application/xml' } });
    expect(xml.statusCode).toBe(415);
    expect(JSON.parse(xml.body).error).toMatchObject({ code: 'EINVAL', field: 'content-type' });
    const text = await h.app.inject({ method: 'POST', url: '/v1/domains', payload: 'guests', headers: { 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(400);
    expect(JSON.parse(text.body).error.field).toBe('body');
    expect((await h.app.inject({ method: 'GET', url: '/v1/health' })).statusCode).toBe(200);
  });
});

describe('GET /metrics and /openapi.json', () => {
  it('metrics scrape in Prometheus text, with the host\'s memory and admissions', async () => {
    await json('POST', '/v1/domains', { guests: [{ xl: xlConfig('m1', 128) }] });
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const physinfo = await h.mock.physinfo();
    expect(res.body).toContain(`xenclaim_host_total_pages ${physinfo.totalPages}`);
    expect(res.body).toContain('xenclaim_admissions_total{outcome="started"} 1');
    expect(res.body).toMatch(/xenclaim_admission_seconds_count 1/);
    expect(res.body).toMatch(/xenclaim_http_requests_total\{route="\/v1\/domains",status="200"\} 1/);
    // Every sample line parses: name{labels} value.
    for (const line of res.body.split('\n').filter((l) => l !== '' && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_:][a-z0-9_:]*(\{.*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/i);
  });

  it('the OpenAPI document is valid OpenAPI 3 and describes every route with the schemas that validate it', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    const doc = JSON.parse(res.body);
    const { default: SwaggerParser } = await import('@apidevtools/swagger-parser');
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/metrics', '/v1/claims', '/v1/domains', '/v1/domains/{domain}', '/v1/domains/{domain}/floor', '/v1/domains/{domain}/memory', '/v1/events', '/v1/health', '/v1/host',
    ]);
    const memory = doc.paths['/v1/domains/{domain}/memory'].put.requestBody.content['application/json'].schema;
    expect(memory.properties.targetKiB).toMatchObject({ type: 'integer', minimum: 0 });
    expect(memory.additionalProperties).toBe(false);
  });
});
