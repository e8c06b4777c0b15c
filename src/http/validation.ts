import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldError } from '../errors.js';

// Bodies are JSON with real types: "5" is not a number there. Query strings
// and path parameters are text, so they are coerced to the schema's types.
const strict = addFormats.default(new Ajv({ allErrors: true, coerceTypes: false, useDefaults: true, strict: false }));
const coercing = addFormats.default(new Ajv({ allErrors: true, coerceTypes: 'array', useDefaults: true, strict: false }));

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object);

const PART_NAMES: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/** Ajv errors as `{path, message}`: a JSON pointer into the request part that is wrong. */
export function fieldErrors(errors: readonly ErrorObject[], context: string | undefined): FieldError[] {
  const part = PART_NAMES[context ?? 'body'] ?? context ?? 'body';
  const seen = new Set<string>();
  const out: FieldError[] = [];
  // For "one object or an array of them", ajv reports both branches. When one
  // branch got further (errors below the union), its sibling's bare type
  // complaint at the union itself is noise.
  const unions = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath));
  const deeper = (p: string) => errors.some((e) => e.instancePath.startsWith(`${p}/`) || (e.instancePath === p && e.keyword === 'required'));
  for (const e of errors) {
    // anyOf/oneOf wrappers repeat what their branches already said.
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    if (e.keyword === 'type' && unions.has(e.instancePath) && deeper(e.instancePath)) continue;
    let pointer = e.instancePath;
    if (e.keyword === 'required') pointer += `/${String((e.params as { missingProperty: string }).missingProperty)}`;
    if (e.keyword === 'additionalProperties') pointer += `/${String((e.params as { additionalProperty: string }).additionalProperty)}`;
    const path = `/${part}${pointer}`;
    const message = e.keyword === 'required' ? 'is required' : (e.message ?? 'is not valid');
    const k = `${path}\u0000${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ path, message });
  }
  return out;
}
