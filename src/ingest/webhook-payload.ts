import { nestingDepth, recordFromPayload, storableText, type RecordWrite } from '../domain/records.js';
import { ApiError, type FieldError } from '../errors.js';

/** The source of records that arrive by the generic webhook routes. */
export const WEBHOOK_SOURCE = 'webhook';

/** Deepest JSON nesting accepted inside one record: deeper is refused, not stored. */
export const MAX_RECORD_DEPTH = 32;

type Part = Record<string, unknown> | Array<Record<string, unknown>> | undefined;

/** A schema-valid body of the generic route. */
export interface WebhookPayload {
  customer?: Part;
  campaign?: Part;
}

const pointerSegment = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The first value inside a record that JSON columns cannot keep as sent:
 * unstorable text (in a value or a key), or a number JSON cannot write
 * (`1e999` parses to Infinity and would be stored as null). Iterative; the
 * record's depth has been bounded already.
 */
function unstorableValue(record: unknown, at: string): FieldError | null {
  const stack: Array<[unknown, string]> = [[record, at]];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v === 'string') {
      if (!storableText(v)) return { path, message: 'must not contain U+0000 or unpaired UTF-16 surrogates' };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, message: 'must be a finite number' };
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}/${i}`]));
    } else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        const child = `${path}/${pointerSegment(key)}`;
        if (!storableText(key)) return { path: child, message: 'key must not contain U+0000 or unpaired UTF-16 surrogates' };
        stack.push([item, child]);
      }
    }
  }
  return null;
}

const asList = (part: Part): Array<Record<string, unknown>> => (part === undefined ? [] : Array.isArray(part) ? part : [part]);

const recordGroups = (body: WebhookPayload) =>
  [
    ['customer', asList(body.customer)],
    ['campaign', asList(body.campaign)],
  ] as const;

/** Refuses a body with no records, or more than `maxRecords` in all. */
export function checkRecordCount(body: WebhookPayload, maxRecords: number): void {
  const count = recordGroups(body).reduce((n, [, list]) => n + list.length, 0);
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
}

/**
 * Turns a schema-valid webhook body into record writes, refusing what the
 * schema cannot say: no records at all, too many in all, nesting too deep,
 * or text and numbers that cannot be stored as sent.
 */
export function writesFromWebhook(body: WebhookPayload, maxRecords: number): RecordWrite[] {
  const groups = recordGroups(body);
  checkRecordCount(body, maxRecords);
  const errors: FieldError[] = [];
  const writes: RecordWrite[] = [];
  for (const [type, list] of groups) {
    list.forEach((payload, i) => {
      const at = Array.isArray(body[type]) ? `/body/${type}/${i}` : `/body/${type}`;
      if (nestingDepth(payload, MAX_RECORD_DEPTH) > MAX_RECORD_DEPTH) {
        errors.push({ path: at, message: `must not nest deeper than ${MAX_RECORD_DEPTH} levels` });
        return;
      }
      const unstorable = unstorableValue(payload, at);
      if (unstorable) {
        errors.push(unstorable);
        return;
      }
      writes.push(recordFromPayload(type, payload, WEBHOOK_SOURCE));
    });
  }
  if (errors.length > 0) throw new ApiError('validation', 'a record nests too deeply or holds a value that cannot be stored', { errors });
  return writes;
}
