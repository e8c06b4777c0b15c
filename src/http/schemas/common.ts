import { Type, type Static, type TSchema } from 'typebox';

/**
 * Text that may be used as a key or a filter: PostgreSQL cannot store or
 * compare strings holding U+0000, so they are refused on both engines alike.
 */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';

/**
 * A field that may also be JSON null. Written as `type: [t, "null"]` rather
 * than anyOf so a bad value gets one clear message ("must match format email").
 */
export function nullable<T extends TSchema>(schema: T) {
  const raw = schema as unknown as { type: string };
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [raw.type, 'null'] });
}

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Relative URI naming the kind of problem, e.g. /problems/validation' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          path: Type.String({ description: 'JSON pointer into the request part: /body/customer/0/email, /query/limit' }),
          message: Type.String(),
        }),
      ),
    ),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details (application/problem+json)' },
);

const DESCRIPTIONS: Record<number, string> = {
  400: 'Body is not JSON, or a bad cursor',
  401: 'Missing or wrong API key, or a bad webhook signature',
  404: 'No such record or route',
  409: 'Conflict with the current state',
  413: 'Body over the size limit',
  415: 'Content type is not application/json',
  422: 'Input of the wrong shape; `errors` names each bad field',
};

/** Problem-JSON responses for the OpenAPI document. */
export function problemResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of statuses) out[s] = Type.Object(ProblemSchema.properties, { additionalProperties: true, description: DESCRIPTIONS[s] ?? 'Problem' });
  return out;
}

// The instants RFC 3339 can write (years 0000-9999). Outside them toISOString
// throws (past ±8.64e15 ms) or writes "+275760-…" / "-000001-…", not a date-time.
const ISO_MIN_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const ISO_MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z

/** Epoch ms -> ISO 8601 for every time the API shows; null for a time RFC 3339 cannot write. */
export const iso = (ms: number | null): string | null => (ms === null || !(ms >= ISO_MIN_MS && ms <= ISO_MAX_MS) ? null : new Date(ms).toISOString());

/**
 * A response schema as the OpenAPI document shows it: @fastify/swagger takes
 * the schema's description for the response's, and its one example for the
 * media type's (without them: "Default Response" and placeholder values).
 * The example is typed by the schema, and test/http/openapi-examples.test.ts
 * validates it against the schema.
 */
export function documented<T extends TSchema>(schema: T, description: string, example: Static<T>): T {
  return { ...schema, description, examples: [example] };
}
