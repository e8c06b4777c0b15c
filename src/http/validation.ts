import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldError } from '../errors.js';
import { NO_NUL_PATTERN } from './schemas/common.js';

// Bodies are JSON with real types: "5" is not a number there. Query strings
// and path parameters are text, so they are coerced to the schema's types.
// strictNumbers: `1e999` parses to Infinity, which JSON cannot store (it would come back as null).
const options = { allErrors: true, useDefaults: true, strict: false, strictNumbers: true } as const;
const strict = addFormats.default(new Ajv({ ...options, coerceTypes: false }));
const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: 'array' }));

/** A query, path or header value that coerced to Infinity or -Infinity, as an ajv error. */
function nonFiniteNumbers(data: unknown): ErrorObject[] {
  if (data === null || typeof data !== 'object') return [];
  const out: ErrorObject[] = [];
  for (const [key, value] of Object.entries(data)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        out.push({ instancePath: `/${escapePointer(key)}`, schemaPath: '#/finite', keyword: 'finite', params: {}, message: 'must be a finite number' });
        break;
      }
    }
  }
  return out;
}

/**
 * ajv coerces the text "Infinity" (or "1e400") to Infinity for an integer or
 * number, then skips minimum and maximum, which only judge finite numbers:
 * `?limit=Infinity` passed and reached the database as a 500. Refused here.
 */
function refusingNonFinite(validate: ValidateFunction): ValidateFunction {
  const wrapped = ((data: unknown, ctx?: Parameters<ValidateFunction>[1]) => {
    const ok = validate(data, ctx);
    const bad = nonFiniteNumbers(data);
    wrapped.errors = bad.length === 0 ? validate.errors : [...(validate.errors ?? []), ...bad];
    return ok && bad.length === 0;
  }) as ValidateFunction;
  return Object.assign(wrapped, { schema: validate.schema, schemaEnv: validate.schemaEnv, errors: null });
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  httpPart === 'body' ? strict.compile(schema as object) : refusingNonFinite(coercing.compile(schema as object));

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

// Patterns are for machines; their readers get a sentence.
const PATTERN_MESSAGES: Record<string, string> = { [NO_NUL_PATTERN]: 'must not contain the NUL character (\\u0000)' };

// What a union branch says when it fails at the union's own path without getting anywhere.
const BRANCH_NOISE = new Set(['type', 'anyOf', 'oneOf']);

function typeList(e: ErrorObject): string[] {
  const t = (e.params as { type: string | string[] }).type;
  return Array.isArray(t) ? t : String(t).split(',');
}

function messageOf(e: ErrorObject): string {
  if (e.keyword === 'required') return 'is required';
  if (e.keyword === 'type') return `must be ${typeList(e).join(' or ')}`;
  if (e.keyword === 'pattern') return PATTERN_MESSAGES[(e.params as { pattern: string }).pattern] ?? e.message ?? 'is not valid';
  return e.message ?? 'is not valid';
}

/**
 * Ajv errors as `{path, message}`: a JSON pointer into the request part that
 * is wrong. Stops after `limit` entries: a hostile body can carry 100,000s.
 */
export function fieldErrors(errors: readonly ErrorObject[], context: string | undefined, limit = Infinity): FieldError[] {
  const part = PART_NAMES[context ?? 'body'] ?? context ?? 'body';
  // For "one object or an array of them", ajv reports a complaint from each
  // branch. When a branch got past its type check (it complained about
  // something else there, or deeper down), the other branch's bare type
  // complaint is noise; when none did, their type complaints become one.
  const unions = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath));
  const typeOnly = new Map<string, string[]>();
  for (const p of unions) {
    const gotFurther = errors.some((e) => e.instancePath.startsWith(`${p}/`) || (e.instancePath === p && !BRANCH_NOISE.has(e.keyword)));
    if (!gotFurther) typeOnly.set(p, []);
  }
  for (const e of errors) if (e.keyword === 'type') typeOnly.get(e.instancePath)?.push(...typeList(e));

  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of errors) {
    if (out.length >= limit) break;
    // anyOf/oneOf wrappers repeat what their branches already said.
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    let message = messageOf(e);
    if (e.keyword === 'type' && unions.has(e.instancePath)) {
      const types = typeOnly.get(e.instancePath);
      if (!types) continue;
      message = `must be ${[...new Set(types)].join(' or ')}`;
    }
    let pointer = e.instancePath;
    if (e.keyword === 'required') pointer += `/${escapePointer(String((e.params as { missingProperty: string }).missingProperty))}`;
    if (e.keyword === 'additionalProperties') pointer += `/${escapePointer(String((e.params as { additionalProperty: string }).additionalProperty))}`;
    const path = `/${part}${pointer}`;
    const k = `${path}\u0000${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ path, message });
  }
  return out;
}

/** One JSON-pointer segment (RFC 6901): `~` and `/` escaped. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
