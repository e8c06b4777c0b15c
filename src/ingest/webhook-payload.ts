import { nestingDepth, recordFromPayload, type RecordWrite } from '../domain/records.js';
import { ApiError, type FieldError } from '../errors.js';

/** Deepest JSON nesting accepted inside one record: deeper is refused, not stored. */
export const MAX_RECORD_DEPTH = 32;

type Part = Record<string, unknown> | Array<Record<string, unknown>> | undefined;

const asList = (part: Part): Array<Record<string, unknown>> => (part === undefined ? [] : Array.isArray(part) ? part : [part]);

/**
 * Turns a schema-valid webhook body into record writes, refusing what the
 * schema cannot say: no records at all, too many in all, or nesting too deep.
 */
export function writesFromWebhook(
  body: { customer?: Part; campaign?: Part },
  maxRecords: number,
): RecordWrite[] {
  const groups = [
    ['customer', asList(body.customer)],
    ['campaign', asList(body.campaign)],
  ] as const;
  const count = groups.reduce((n, [, list]) => n + list.length, 0);
  if (count === 0) {
    throw new ApiError('validation', 'the body carries no records', {
      errors: [{ path: '/body', message: 'must have a customer or campaign object, or a non-empty array of them' }],
    });
  }
  if (count > maxRecords) {
    throw new ApiError('validation', `at most ${maxRecords} records per request (got ${count})`, {
      errors: [{ path: '/body', message: `must hold at most ${maxRecords} records in all` }],
    });
  }
  const errors: FieldError[] = [];
  const writes: RecordWrite[] = [];
  for (const [type, list] of groups) {
    list.forEach((payload, i) => {
      if (nestingDepth(payload, MAX_RECORD_DEPTH) > MAX_RECORD_DEPTH) {
        const at = Array.isArray(body[type]) ? `/body/${type}/${i}` : `/body/${type}`;
        errors.push({ path: at, message: `must not nest deeper than ${MAX_RECORD_DEPTH} levels` });
        return;
      }
      writes.push(recordFromPayload(type, payload, 'webhook'));
    });
  }
  if (errors.length > 0) throw new ApiError('validation', 'a record nests too deeply', { errors });
  return writes;
}
