/**
 * The API's schemas (TypeBox): the same objects validate requests (fastify's ajv) and make /openapi.json
 * (@fastify/swagger), so the document cannot drift from what the daemon accepts. Units are in every field name.
 */
import { Type, type Static } from '@fastify/type-provider-typebox';

/** What every error answer looks like: the XenError code, one clear message, and the field at fault if any. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'EINVAL, ESRCH, ENOMEM, ERROR_FAIL, … (the XenError code)' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the request field at fault, e.g. body/targetKiB' })),
    }),
  },
  { $id: 'Error' },
);

const MAX_KIB = Number.MAX_SAFE_INTEGER;

export const DomainSpec = Type.Object({
  domain: Type.String({ minLength: 1, maxLength: 64, description: 'a guest name, Domain-0, or a domid' }),
});
export type DomainSpecT = Static<typeof DomainSpec>;

export const Domain = Type.Object(
  {
    domid: Type.Integer(),
    name: Type.Optional(Type.String()),
    totPages: Type.Integer(),
    maxPages: Type.Integer(),
    outstandingPages: Type.Integer(),
    targetKiB: Type.Optional(Type.Integer()),
    paused: Type.Boolean(),
    dying: Type.Boolean(),
  },
  { additionalProperties: true },
);

export const HostBody = Type.Object(
  {
    backend: Type.String(),
    strategy: Type.String(),
    physinfo: Type.Object({ totalPages: Type.Integer(), freePages: Type.Integer(), outstandingPages: Type.Integer() }, { additionalProperties: true }),
    xenVersion: Type.Object({ major: Type.Integer(), minor: Type.Integer(), extra: Type.String() }),
    features: Type.Object({ claims: Type.Boolean(), tmem: Type.Boolean(), libxl: Type.Boolean() }),
    /** The native backend's addon build target (libxenctrl/libxenlight and interface versions); absent on the mock. */
    addon: Type.Optional(Type.Object({}, { additionalProperties: true })),
    floorsKiB: Type.Record(Type.String(), Type.Integer()),
    guestsBuilding: Type.Array(Type.String()),
    uncooperativeDonors: Type.Array(Type.Integer()),
    recovery: Type.Object({ complete: Type.Boolean(), repairs: Type.Integer() }),
    journalOpenEntries: Type.Integer(),
  },
  { additionalProperties: true },
);

export const Claim = Type.Object({ domid: Type.Integer(), name: Type.Union([Type.String(), Type.Null()]), outstandingPages: Type.Integer() });

/** One guest to create: its xl.cfg text, or its libxl JSON domain config (what `xenclaim config` prints). */
export const GuestInput = Type.Union([
  Type.Object({
    xl: Type.String({ minLength: 1, maxLength: 256 * 1024, description: 'xl.cfg text (or libxl JSON text), read for the daemon\'s host as xl reads it' }),
    file: Type.Optional(Type.String({ maxLength: 4096, description: 'a name for errors and warnings (the path the CLI read it from)' })),
  }, { additionalProperties: false }),
  Type.Object({
    config: Type.Object({ c_info: Type.Object({}, { additionalProperties: true }), b_info: Type.Object({}, { additionalProperties: true }) }, { additionalProperties: true, description: 'libxl JSON domain config' }),
  }, { additionalProperties: false }),
]);

export const CreateBody = Type.Object(
  {
    guests: Type.Array(GuestInput, { minItems: 1, maxItems: 256, description: 'one guest or many, created concurrently' }),
    paused: Type.Optional(Type.Boolean({ description: 'leave the guests paused (xl create -p)' })),
    wait: Type.Optional(Type.Boolean({ description: 'answer once every guest is running or failed (default true)' })),
    requestId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$', description: 'stamped on this request\'s events (default: generated)' })),
  },
  { additionalProperties: false },
);
export type CreateBodyT = Static<typeof CreateBody>;

export const ResultBody = Type.Object(
  {
    name: Type.String(),
    ok: Type.Boolean(),
    domid: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Union([Type.Object({
      code: Type.Union([Type.String(), Type.Null()]),
      errno: Type.Union([Type.Integer(), Type.Null()]),
      message: Type.String(),
      xenLog: Type.Optional(Type.Array(Type.String(), { description: 'the Xen/libxl log lines the failing call captured' })),
    }), Type.Null()]),
  },
  { additionalProperties: true },
);

export const CreateAnswer = Type.Object({
  requestId: Type.String(),
  guests: Type.Array(Type.String()),
  warnings: Type.Array(Type.String()),
  results: Type.Optional(Type.Array(ResultBody)),
});

export const MemoryBody = Type.Object(
  {
    targetKiB: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_KIB, description: 'balloon target (xl mem-set: max_pages follows, + 1 MiB)' })),
    maxKiB: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_KIB, description: 'maximum (xl mem-max: not below the target; max_pages = max + 1 MiB)' })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type MemoryBodyT = Static<typeof MemoryBody>;

export const MemoryAnswer = Type.Object({
  domid: Type.Integer(),
  targetKiB: Type.Optional(Type.Integer()),
  maxKiB: Type.Optional(Type.Integer()),
  maxPages: Type.Integer(),
  maxPagesKiB: Type.Integer(),
});

export const FloorBody = Type.Object(
  { floorKiB: Type.Union([Type.Integer({ minimum: 0, maximum: MAX_KIB }), Type.Null()], { description: 'never balloon this guest below it; null: never balloon it' }) },
  { additionalProperties: false },
);
export type FloorBodyT = Static<typeof FloorBody>;

export const EventsQuery = Type.Object(
  { requestId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,64}$' })) },
  { additionalProperties: false },
);
