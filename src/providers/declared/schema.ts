/**
 * The sources file (SOURCES_FILE): its shape as TypeBox schemas, and one
 * validation that answers with a single clear problem naming the source and
 * the field, e.g. `source "acme": pagination.limit must be >= 1`.
 *
 * The parts that come in kinds (auth, pagination) and the mapping (whose
 * fields depend on the record type) are checked in a second step against the
 * schema of their own kind, so a mistake there is reported against that
 * kind's fields instead of as a pile of union-branch complaints.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from 'typebox';

/** Declared source names: lowercase, usable in /sync/{name} and as the records' `source`. */
export const SOURCE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Names the service itself uses for records' `source`. */

const ENV_NAME = '^[A-Za-z_][A-Za-z0-9_]*$';
const DOT_PATH = '^[^.]+(\\.[^.]+)*$';

const PATTERN_MESSAGES: Record<string, string> = {
  [ENV_NAME]: 'must be the name of an environment variable (letters, digits and _)',
  [DOT_PATH]: 'must be a dot path such as properties.email',
};

const EnvName = Type.String({ pattern: ENV_NAME });
const DotPath = Type.String({ pattern: DOT_PATH });
const ParamName = Type.String({ minLength: 1, maxLength: 200 });
const PageSize = Type.Integer({ minimum: 1, maximum: 100_000 });
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const TIME_FORMATS = ['iso', 'epoch_ms', 'epoch_s'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];
const TimeFormatSchema = Type.Union(TIME_FORMATS.map((f) => Type.Literal(f)));

// ---------------------------------------------------------------- auth

const AUTH_SCHEMAS = {
  none: Type.Object({ kind: Type.Literal('none') }, { additionalProperties: false }),
  bearer: Type.Object({ kind: Type.Literal('bearer'), token_env: EnvName }, { additionalProperties: false }),
  basic: Type.Object(
    {
      kind: Type.Literal('basic'),
      /** A literal user name (not a secret), or username_env. */
      username: Type.Optional(Type.String()),
      username_env: Type.Optional(EnvName),
      password_env: Type.Optional(EnvName),
    },
    { additionalProperties: false },
  ),
  api_key: Type.Object(
    {
      kind: Type.Literal('api_key'),
      in: Type.Union([Type.Literal('header'), Type.Literal('query')]),
      /** The header or query parameter that carries the key. */
      name: ParamName,
      key_env: EnvName,
      /** Put before the key in a header, e.g. "Token ". */
      prefix: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
} as const;

export type AuthSpec = { [K in keyof typeof AUTH_SCHEMAS]: Static<(typeof AUTH_SCHEMAS)[K]> }[keyof typeof AUTH_SCHEMAS];

// ---------------------------------------------------------------- pagination

const Total = Type.Optional(DotPath);

const PAGINATION_SCHEMAS = {
  none: Type.Object({ kind: Type.Literal('none') }, { additionalProperties: false }),
  offset: Type.Object(
    {
      kind: Type.Literal('offset'),
      offset_param: Type.Optional(ParamName),
      limit_param: Type.Optional(ParamName),
      limit: Type.Optional(PageSize),
      /** Path of the total record count in the body: the walk stops there; without it, at a short page. */
      total: Total,
    },
    { additionalProperties: false },
  ),
  page: Type.Object(
    {
      kind: Type.Literal('page'),
      page_param: Type.Optional(ParamName),
      limit_param: Type.Optional(ParamName),
      limit: Type.Optional(PageSize),
      first_page: Type.Optional(Type.Integer({ minimum: 0 })),
      total: Total,
      total_pages: Type.Optional(DotPath),
    },
    { additionalProperties: false },
  ),
  cursor: Type.Object(
    {
      kind: Type.Literal('cursor'),
      /** Path of the next page's cursor in the body; the walk ends when it is missing, null or "". */
      cursor_path: DotPath,
      cursor_param: Type.Optional(ParamName),
      limit_param: Type.Optional(ParamName),
      limit: Type.Optional(PageSize),
      /** Path of a boolean "more pages" flag; false ends the walk. */
      has_more: Type.Optional(DotPath),
      total: Total,
    },
    { additionalProperties: false },
  ),
  link_header: Type.Object(
    { kind: Type.Literal('link_header'), limit_param: Type.Optional(ParamName), limit: Type.Optional(PageSize), total: Total },
    { additionalProperties: false },
  ),
  next_url: Type.Object(
    {
      kind: Type.Literal('next_url'),
      /** Path of the next page's URL in the body (absolute on base_url's origin, or relative). */
      next_path: DotPath,
      limit_param: Type.Optional(ParamName),
      limit: Type.Optional(PageSize),
      total: Total,
    },
    { additionalProperties: false },
  ),
} as const;

export type PaginationSpec = {
  [K in keyof typeof PAGINATION_SCHEMAS]: Static<(typeof PAGINATION_SCHEMAS)[K]>;
}[keyof typeof PAGINATION_SCHEMAS];

// ---------------------------------------------------------------- mapping

const COMMON_MAPPING = {
  /** Required: the upstream id, the record's external_id. */
  external_id: DotPath,
  /** The sender's own number (`id`). */
  id: Type.Optional(DotPath),
  /** One path, or several whose strings are joined with a space (first and last name). */
  name: Type.Optional(Type.Union([DotPath, Type.Array(DotPath, { minItems: 1 })])),
  /** Feeds source_updated_at, the out-of-order guard; not kept in attributes. */
  updated_at: Type.Optional(DotPath),
  updated_at_format: Type.Optional(TimeFormatSchema),
  /** A flag (true, or a non-empty value such as a deleted_at time): the record is kept as a tombstone. */
  deleted: Type.Optional(DotPath),
};

const MAPPING_SCHEMAS = {
  customer: Type.Object({ ...COMMON_MAPPING, email: Type.Optional(DotPath) }, { additionalProperties: false }),
  campaign: Type.Object(
    {
      ...COMMON_MAPPING,
      status: Type.Optional(DotPath),
      budget: Type.Optional(DotPath),
      /** A path to an object, or a map of detail name -> path. */
      details: Type.Optional(Type.Union([DotPath, Type.Record(Type.String(), DotPath)])),
    },
    { additionalProperties: false },
  ),
} as const;

export interface MappingSpec {
  external_id: string;
  id?: string;
  name?: string | string[];
  email?: string;
  status?: string;
  budget?: string;
  details?: string | Record<string, string>;
  updated_at?: string;
  updated_at_format?: TimeFormat;
  deleted?: string;
}

// ---------------------------------------------------------------- source and file

const Incremental = Type.Object(
  {
    /** Path in the record of the value the checkpoint keeps the maximum of. */
    field: DotPath,
    /** The query parameter that carries it on the next run. */
    param: ParamName,
    format: Type.Optional(TimeFormatSchema),
    /** Sent this much before the checkpoint, for APIs whose filters lag their writes. */
    lookback_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400 })),
  },
  { additionalProperties: false },
);

const Kinded = Type.Object({}, { additionalProperties: true });

const SourceBase = Type.Object(
  {
    type: Type.Union([Type.Literal('customer'), Type.Literal('campaign')]),
    base_url: Type.String({ minLength: 1 }),
    path: Type.String({ minLength: 1 }),
    query: Type.Optional(Type.Record(Type.String(), Scalar)),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    auth: Type.Optional(Kinded),
    /** Path of the record array in the body; omitted: the body is the array. */
    records: Type.Optional(DotPath),
    pagination: Type.Optional(Kinded),
    mapping: Kinded,
    incremental: Type.Optional(Incremental),
    rate_limit: Type.Optional(
      Type.Object(
        { requests: Type.Integer({ minimum: 1 }), per_seconds: Type.Number({ exclusiveMinimum: 0, maximum: 86_400 }) },
        { additionalProperties: false },
      ),
    ),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    timeout_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 600 })),
    max_retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 20 })),
  },
  { additionalProperties: false },
);

type SourceBaseStatic = Static<typeof SourceBase>;

/** One declared source as validated, with its kinded parts narrowed. */
export interface SourceSpec extends Omit<SourceBaseStatic, 'auth' | 'pagination' | 'mapping' | 'incremental'> {
  auth: AuthSpec;
  pagination: PaginationSpec;
  mapping: MappingSpec;
  incremental?: { field: string; param: string; format?: TimeFormat; lookback_seconds?: number };
}

const SourcesFileShape = Type.Object(
  {
    version: Type.Optional(Type.Literal(1)),
    // Each source's own shape is checked next, so its problems name it.
    sources: Type.Record(Type.String(), Type.Unknown(), { minProperties: 1 }),
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------- validation

/** A problem in the file's content; `message` names the source and the field. */
export class SourcesSchemaError extends Error {
  constructor(
    readonly source: string | null,
    readonly field: string,
    problem: string,
  ) {
    super(`${source === null ? '' : `source "${source}": `}${field ? `${field} ` : ''}${problem}`);
    this.name = 'SourcesSchemaError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, strictNumbers: true });
const compiled = new WeakMap<TSchema, ValidateFunction>();

function validator(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema as object);
    compiled.set(schema, v);
  }
  return v;
}

function known(schema: TSchema): string[] {
  return Object.keys((schema as { properties?: Record<string, unknown> }).properties ?? {});
}

/** `/pagination/limit` + prefix -> `pagination.limit`. */
function dotted(prefix: string, pointer: string, extra?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  return [prefix, ...parts].filter((p) => p !== '').join('.');
}

const ARTICLE: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function typeNames(e: ErrorObject): string {
  return String((e.params as { type: string }).type)
    .split(',')
    .map((t) => ARTICLE[t] ?? t)
    .join(' or ');
}

const SECRET_HINT = /token|secret|password|passwd|key|credential/i;

function describe(e: ErrorObject, schema: TSchema): { pointerExtra?: string; problem: string } {
  switch (e.keyword) {
    case 'required':
      return { pointerExtra: (e.params as { missingProperty: string }).missingProperty, problem: 'is required' };
    case 'additionalProperties': {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      const hint =
        SECRET_HINT.test(name) && !name.endsWith('_env') ? '; give credentials as an environment variable reference such as token_env: ACME_TOKEN' : '';
      // Name the fields the object does take, when the object is the one validated here.
      const props = e.instancePath === '' ? known(schema) : [];
      return { pointerExtra: name, problem: `is not a known field${props.length ? ` (known: ${props.join(', ')})` : ''}${hint}` };
    }
    case 'type':
      return { problem: `must be ${typeNames(e)}` };
    case 'const':
      return { problem: `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
    case 'enum':
      return { problem: `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}` };
    case 'minProperties':
      return {
        problem: e.instancePath === '/sources' ? 'must declare at least one source' : `must have at least ${(e.params as { limit: number }).limit} entries`,
      };
    case 'pattern':
      return { problem: PATTERN_MESSAGES[(e.params as { pattern: string }).pattern] ?? e.message ?? 'is not valid' };
    default:
      return { problem: e.message ?? 'is not valid' };
  }
}

/** Union branches that failed only on their type: "must be string or array or object". */
function unionProblem(errors: ErrorObject[], pointer: string): string | null {
  const own = errors.filter((e) => e.instancePath === pointer);
  if (!own.some((e) => e.keyword === 'anyOf')) return null;
  const types = new Set<string>();
  const consts: unknown[] = [];
  for (const e of own) {
    if (e.keyword === 'type') types.add(typeNames(e));
    if (e.keyword === 'const') consts.push((e.params as { allowedValue: unknown }).allowedValue);
  }
  if (consts.length > 0) return `must be one of ${consts.join(', ')}`;
  if (types.size > 0) return `must be ${[...types].join(' or ')}`;
  return null;
}

/** Throws the first problem of `value` against `schema`, naming the field under `prefix`. */
function check(schema: TSchema, value: unknown, source: string | null, prefix: string): void {
  const v = validator(schema);
  if (v(value)) return;
  const errors = v.errors ?? [];
  // An unknown field says most (often a literal secret where an *_env belongs); then
  // the shallowest complaint, so a missing object is reported before its insides.
  const ranked = [...errors].sort((a, b) => rank(a) - rank(b));
  const first = ranked[0];
  if (!first) throw new SourcesSchemaError(source, prefix, 'is not valid');
  const union = unionProblem(errors, first.instancePath);
  if (union && first.keyword !== 'additionalProperties' && first.keyword !== 'required') {
    throw new SourcesSchemaError(source, dotted(prefix, first.instancePath), union);
  }
  const { pointerExtra, problem } = describe(first, schema);
  throw new SourcesSchemaError(source, dotted(prefix, first.instancePath, pointerExtra), problem);
}

function rank(e: ErrorObject): number {
  const depth = e.instancePath.split('/').length;
  if (e.keyword === 'additionalProperties') return depth;
  if (e.keyword === 'anyOf') return 1000 + depth;
  return 100 + depth;
}

/** Checks a kinded part (auth, pagination): first its `kind`, then the fields of that kind. */
function checkKinded<K extends string>(
  schemas: Record<K, TSchema>,
  value: unknown,
  source: string,
  field: string,
  tag: 'kind' | 'type',
  tagValue?: unknown,
): void {
  const kinds = Object.keys(schemas) as K[];
  const kind = tagValue ?? (value as Record<string, unknown>)[tag];
  if (kind === undefined) throw new SourcesSchemaError(source, `${field}.${tag}`, `is required (one of ${kinds.join(', ')})`);
  if (typeof kind !== 'string' || !kinds.includes(kind as K)) {
    throw new SourcesSchemaError(source, tagValue === undefined ? `${field}.${tag}` : tag, `must be one of ${kinds.join(', ')} (got ${JSON.stringify(kind)})`);
  }
  check(schemas[kind as K], value, source, field);
}

/**
 * Validates a parsed sources file. Returns the sources by name, defaults not
 * yet applied (the connector applies them where it uses them).
 */
export function validateSourcesFile(doc: unknown, reserved: ReadonlySet<string> = new Set()): Map<string, SourceSpec> {
  if (doc === null || doc === undefined) throw new SourcesSchemaError(null, '', 'the file is empty (it must declare `sources:`)');
  check(SourcesFileShape, doc, null, '');
  const out = new Map<string, SourceSpec>();
  for (const [name, raw] of Object.entries((doc as { sources: Record<string, unknown> }).sources)) {
    if (!SOURCE_NAME_PATTERN.test(name)) {
      throw new SourcesSchemaError(name, '', 'is not a valid source name: use lowercase letters, digits, _ and - (up to 64, starting with a letter or digit)');
    }
    if (reserved.has(name)) {
      throw new SourcesSchemaError(name, '', `is a built-in source name; pick another (reserved: ${[...reserved].join(', ')})`);
    }
    check(SourceBase, raw, name, '');
    const s = raw as Record<string, unknown>;
    checkKinded(AUTH_SCHEMAS, s.auth ?? { kind: 'none' }, name, 'auth', 'kind');
    checkKinded(PAGINATION_SCHEMAS, s.pagination ?? { kind: 'none' }, name, 'pagination', 'kind');
    checkKinded(MAPPING_SCHEMAS, s.mapping, name, 'mapping', 'type', s.type);

    let base: URL | null = null;
    try {
      base = new URL(String(s.base_url));
    } catch {
      base = null;
    }
    if (!base || (base.protocol !== 'http:' && base.protocol !== 'https:')) {
      throw new SourcesSchemaError(name, 'base_url', `must be an http(s) URL (got ${JSON.stringify(s.base_url)})`);
    }
    if (base.username || base.password) throw new SourcesSchemaError(name, 'base_url', 'must not carry credentials; use auth with an *_env reference');
    // Paths are joined after base_url as text: a query or fragment there would end up before the path.
    if (base.search || base.hash) throw new SourcesSchemaError(name, 'base_url', 'must not carry a query string or fragment; put fixed parameters in query:');
    const headers = (s.headers ?? {}) as Record<string, string>;
    for (const header of Object.keys(headers)) {
      if (/^(authorization|proxy-authorization|cookie)$/i.test(header)) {
        throw new SourcesSchemaError(name, `headers.${header}`, 'is not allowed: credentials go in auth, as an *_env reference');
      }
    }
    const auth = (s.auth ?? { kind: 'none' }) as AuthSpec;
    if (auth.kind === 'basic' && auth.username === undefined && auth.username_env === undefined) {
      throw new SourcesSchemaError(name, 'auth.username_env', 'is required (or a literal auth.username)');
    }
    const pagination = (s.pagination ?? { kind: 'none' }) as PaginationSpec;
    // offset and page always send a size (limit_param has a default there); the others only when told how.
    const sizeOptional = pagination.kind === 'cursor' || pagination.kind === 'link_header' || pagination.kind === 'next_url';
    if (sizeOptional && pagination.limit !== undefined && pagination.limit_param === undefined) {
      throw new SourcesSchemaError(name, 'pagination.limit_param', 'is required when pagination.limit is set (the query parameter that carries it)');
    }
    if (s.rate_limit) {
      const perMs = Math.round((s.rate_limit as { per_seconds: number }).per_seconds * 1000);
      if (perMs < 1) throw new SourcesSchemaError(name, 'rate_limit.per_seconds', 'must be at least 0.001');
    }
    out.set(name, { ...(s as unknown as SourceSpec), auth, pagination });
  }
  return out;
}

/** The environment variables a source's auth names, in the order to ask for them. */
export function envReferences(spec: SourceSpec): string[] {
  const a = spec.auth;
  switch (a.kind) {
    case 'bearer':
      return [a.token_env];
    case 'basic':
      return [a.username_env, a.password_env].filter((x): x is string => x !== undefined);
    case 'api_key':
      return [a.key_env];
    default:
      return [];
  }
}
