/**
 * The daemon's HTTP/JSON API (fastify): every route's body, params and query are validated by the TypeBox schemas
 * of schemas.ts, which also make /openapi.json. Errors are one JSON shape ({ error: { code, message, field } }) with
 * a 4xx for what the client got wrong; the daemon keeps serving whatever a request holds. Listening (Unix socket,
 * optional loopback TCP with a bearer token) is src/daemon's job. See docs/daemon.md#the-api.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { DomainInfo } from '../backend.js';
import { isConfigError, parseGuestConfigFor, xlHostFromPhysinfo } from '../config/index.js';
import { XenError } from '../errors.js';
import { findDomain } from '../host/find-domain.js';
import { addonBuildTarget } from '../native/backend.js';
import type { XenHost } from '../host/xen-host.js';
import { resultJson, type GuestRequest } from '../toolstack/types.js';
import { pagesToKiB } from '../units.js';
import { AdmissionGate } from './gate.js';
import { DaemonMetrics } from './metrics.js';
import {
  Claim, CreateAnswer, CreateBody, Domain, DomainSpec, ErrorBody, EventsQuery, FloorBody, HostBody, MemoryAnswer, MemoryBody,
} from './schemas.js';

/** What the API needs of the daemon. */
export interface ApiContext {
  host: XenHost;
  /** Sets or removes a floor, and keeps it (the daemon writes floors to its state directory). */
  setFloor(name: string, kib: number | null): void;
  recovery(): { complete: boolean; repairs: number };
  journalOpenEntries(): number;
}

export interface ApiOptions {
  /** Largest request body, in bytes (default 1 MiB): larger ones get 413. */
  bodyLimitBytes?: number;
  /** Creations admitted at once (default 16); more wait their turn. */
  maxConcurrentCreates?: number;
  /** Starts per second of the host's clock (default 0: no limit). */
  maxStartsPerS?: number;
  /** Time a client has to send a whole request, in s (default 30): a slow or idle client holds nothing past it. */
  requestTimeoutS?: number;
  /** pino logger (default: none). */
  logger?: FastifyBaseLogger;
  /** When set, requests that come over TCP must carry `Authorization: Bearer <token>` (Unix-socket ones need not). */
  tcpToken?: string;
}

// ENOMEM: a raised target the host cannot admit now (growth is an admission: src/host/xen-host.ts), a conflict with its state.
const STATUS_BY_CODE: Record<string, number> = { EINVAL: 400, ERROR_INVAL: 400, ESRCH: 404, ENOENT: 404, EEXIST: 409, ENOMEM: 409, E2BIG: 413, EACCES: 401 };

function apiError(code: string, message: string, field?: string): XenError & { field?: string } {
  const error = new XenError(message, { code, op: 'api' }) as XenError & { field?: string };
  if (field !== undefined) error.field = field;
  return error;
}

/** Builds the API on a host; call `.ready()` or `.listen()` on the answer. */
export async function buildApi(ctx: ApiContext, options: ApiOptions = {}): Promise<FastifyInstance> {
  const host = ctx.host;
  const requestTimeoutMs = (options.requestTimeoutS ?? 30) * 1000;
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    // Node checks request timeouts every connectionsCheckingInterval (30 s by default): check at the timeout's pace,
    // so a client that stops half-way through a request is dropped on time.
    serverFactory: (handler) => createServer({
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      keepAliveTimeout: 5000,
      connectionsCheckingInterval: Math.max(100, Math.min(requestTimeoutMs / 2, 30_000)),
    }, handler),
    forceCloseConnections: true,
    return503OnClosing: true,
    ajv: { customOptions: { allErrors: false, removeAdditional: false, coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const gate = new AdmissionGate(host.clock, options.maxConcurrentCreates ?? 16, options.maxStartsPerS ?? 0);
  const metrics = new DaemonMetrics({ host, gateLoad: () => gate.load, journalOpenEntries: () => ctx.journalOpenEntries() });
  /** The request id each guest in flight was asked for under, for its events. */
  const requestIds = new Map<string, string>();

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'xenclaim', version: '1', description: 'xenclaim serve: one admission brain per Xen host (docs/daemon.md#the-api)' },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  app.addSchema(ErrorBody);

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation) {
      const first = error.validation[0];
      const field = `${error.validationContext ?? 'body'}${first?.instancePath ?? ''}`;
      const detail = first?.keyword === 'additionalProperties'
        ? `has an unknown field ${JSON.stringify((first.params as { additionalProperty?: string }).additionalProperty)}`
        : (first?.message ?? error.message);
      return reply.status(400).send({ error: { code: 'EINVAL', message: `${field} ${detail}`, field } });
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({ error: { code: 'E2BIG', message: `the body is larger than ${options.bodyLimitBytes ?? 1024 * 1024} bytes`, field: 'body' } });
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(415).send({ error: { code: 'EINVAL', message: 'send application/json', field: 'content-type' } });
    }
    if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.status(400).send({ error: { code: 'EINVAL', message: `the body is not valid JSON: ${error.message}`, field: 'body' } });
    }
    if (isConfigError(error)) return reply.status(400).send({ error: { code: 'EINVAL', message: error.message, field: 'body/guests' } });
    if (error instanceof XenError) {
      const field = (error as XenError & { field?: string }).field;
      return reply.status(STATUS_BY_CODE[error.code] ?? 500).send({ error: { code: error.code, message: error.message, ...(field ? { field } : {}) } });
    }
    if (typeof error.statusCode === 'number' && error.statusCode < 500) {
      return reply.status(error.statusCode).send({ error: { code: 'EINVAL', message: error.message } });
    }
    reply.log.error({ err: error }, 'internal error');
    return reply.status(500).send({ error: { code: 'EIO', message: error.message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'ENOENT', message: `no route ${request.method} ${request.url.split('?')[0]}` } }));

  app.addHook('onRequest', async (request) => {
    if (options.tcpToken === undefined || request.raw.socket.remoteAddress === undefined) return;
    if (request.headers.authorization !== `Bearer ${options.tcpToken}`) throw apiError('EACCES', 'a bearer token is needed over TCP (Authorization: Bearer …)', 'authorization');
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.http.inc({ route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' }, 413: { $ref: 'Error#' }, 500: { $ref: 'Error#' } };
  const resolve = async (spec: string): Promise<DomainInfo> => findDomain(await host.backend.listDomains(), spec);

  app.get('/v1/health', { schema: { summary: 'the daemon answers', response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));

  app.get('/v1/host', { schema: { summary: 'host memory, Xen version, the strategy, floors and recovery', response: { 200: HostBody, ...errors } } }, async () => {
    const [physinfo, xenVersion] = await Promise.all([host.backend.physinfo(), host.backend.xenVersion()]);
    const addon = addonBuildTarget(host.backend);
    return {
      backend: host.backend.kind,
      ...(addon ? { addon } : {}),
      strategy: host.strategyName,
      physinfo,
      xenVersion,
      features: host.backend.features,
      floorsKiB: Object.fromEntries(host.floorsKiB()),
      guestsBuilding: host.guestsBuilding(),
      uncooperativeDonors: host.uncooperativeDonors(),
      recovery: ctx.recovery(),
      journalOpenEntries: ctx.journalOpenEntries(),
    };
  });

  app.get('/v1/domains', { schema: { summary: 'every domain, as xl list shows them', response: { 200: { type: 'array', items: Domain }, ...errors } } }, async () => host.backend.listDomains());

  app.get('/v1/domains/:domain', { schema: { summary: 'one domain', params: DomainSpec, response: { 200: Domain, ...errors } } }, async (request) => resolve(request.params.domain));

  app.get('/v1/claims', { schema: { summary: 'outstanding claims per domain (xl claims)', response: { 200: { type: 'array', items: Claim }, ...errors } } }, async () =>
    (await host.backend.listDomains()).map((d) => ({ domid: d.domid, name: d.name ?? null, outstandingPages: d.outstandingPages })));

  app.post('/v1/domains', { schema: { summary: 'create one guest or many, concurrently', body: CreateBody, response: { 200: CreateAnswer, 202: CreateAnswer, ...errors } } }, async (request, reply) => {
    const body = request.body;
    // Each config is read for this host (as xl reads it) and checked as creating it would check it (libxl's
    // refusals, at the xl key and line): a config libxl would refuse is a bad request, refused before anything starts.
    const xlHost = xlHostFromPhysinfo(await host.backend.physinfo());
    const parsed = await Promise.all(body.guests.map(async (guest, i) => {
      const text = 'xl' in guest ? guest.xl : JSON.stringify(guest.config);
      try {
        return await parseGuestConfigFor(host.backend, text, 'xl' in guest ? (guest.file ?? `guests[${i}].cfg`) : `guests[${i}].json`, { host: xlHost });
      } catch (error) {
        if (isConfigError(error)) throw apiError('EINVAL', error.message, `body/guests/${i}`);
        throw error;
      }
    }));
    // From here to the registration of the names nothing waits, so two requests cannot both take one name.
    const requests: GuestRequest[] = [];
    const warnings = parsed.flatMap((p) => p.warnings);
    parsed.forEach(({ config }, i) => {
      const field = `body/guests/${i}`;
      const name = config.c_info.name;
      if (typeof name !== 'string' || name === '') throw apiError('EINVAL', `${field}: the guest has no name (c_info.name)`, field);
      if (requests.some((r) => r.name === name)) throw apiError('EINVAL', `${field}: ${name} is asked for twice`, field);
      if (requestIds.has(name)) throw apiError('EEXIST', `${field}: ${name} is already being created`, field);
      requests.push({ name, config, paused: body.paused ?? false });
    });
    const requestId = body.requestId ?? randomUUID();
    for (const r of requests) requestIds.set(r.name, requestId);
    const work = Promise.all(requests.map((r) => gate.run(() => host.admit(r)))).finally(() => {
      for (const r of requests) if (requestIds.get(r.name) === requestId) requestIds.delete(r.name);
    });
    const answer = { requestId, guests: requests.map((r) => r.name), warnings };
    if (body.wait === false) {
      work.catch(() => undefined);
      return reply.status(202).send(answer);
    }
    const results = await work;
    return { ...answer, results: results.map(resultJson) };
  });

  app.delete('/v1/domains/:domain', { schema: { summary: 'destroy a guest (xl destroy)', params: DomainSpec, response: { 200: { type: 'object', properties: { domid: { type: 'integer' }, destroyed: { type: 'boolean' } } }, ...errors } } }, async (request) => {
    const domain = await resolve(request.params.domain);
    if (domain.domid === 0) throw apiError('EINVAL', 'refusing to destroy Domain-0', 'params/domain');
    await host.destroyGuest(domain.domid, domain.name ?? null);
    return { domid: domain.domid, destroyed: true };
  });

  app.put('/v1/domains/:domain/memory', { schema: { summary: 'set the balloon target and/or the maximum, with libxl\'s rules', params: DomainSpec, body: MemoryBody, response: { 200: MemoryAnswer, ...errors } } }, async (request) => {
    const domain = await resolve(request.params.domain);
    const { targetKiB, maxKiB } = request.body;
    // Raising both: the maximum first (a target above the old one would be refused); lowering: the target first.
    const maxFirst = maxKiB !== undefined && targetKiB !== undefined && domain.targetKiB !== undefined && targetKiB > domain.targetKiB;
    if (maxFirst) await host.setMaxMem(domain.domid, maxKiB);
    if (targetKiB !== undefined) await host.setMemoryTarget(domain.domid, targetKiB);
    if (maxKiB !== undefined && !maxFirst) await host.setMaxMem(domain.domid, maxKiB);
    const after = await host.backend.getDomain(domain.domid);
    return { domid: domain.domid, ...(targetKiB !== undefined ? { targetKiB } : {}), ...(maxKiB !== undefined ? { maxKiB } : {}), maxPages: after.maxPages, maxPagesKiB: pagesToKiB(after.maxPages) };
  });

  app.put('/v1/domains/:domain/floor', { schema: { summary: 'a guest\'s balloon floor (null: never balloon it)', params: DomainSpec, body: FloorBody, response: { 200: { type: 'object', properties: { name: { type: 'string' }, floorKiB: { type: ['integer', 'null'] } } }, ...errors } } }, async (request) => {
    const spec = request.params.domain;
    // A floor is kept by name, so it may be set before the guest exists; a domid is resolved to its name.
    const name = /^\d+$/.test(spec) ? (await resolve(spec)).name ?? spec : spec === '0' ? 'Domain-0' : spec;
    ctx.setFloor(name, request.body.floorKiB);
    return { name, floorKiB: request.body.floorKiB };
  });

  app.get('/v1/events', { schema: { summary: 'server-sent events: every progress event, with the request id it belongs to', querystring: EventsQuery } }, async (request, reply) => {
    const only = request.query.requestId;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    raw.write(': xenclaim events\n\n');
    let seq = 0;
    const stop = host.subscribe((event) => {
      const requestId = (event.request !== null ? requestIds.get(event.request) : undefined) ?? null;
      if (only !== undefined && requestId !== only) return;
      raw.write(`id: ${++seq}\nevent: ${event.type}\ndata: ${JSON.stringify({ ...event, requestId })}\n\n`);
    });
    request.raw.on('close', stop);
    raw.on('close', stop);
  });

  app.get('/metrics', { schema: { summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}
