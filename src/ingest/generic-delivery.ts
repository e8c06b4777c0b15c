import secureJson from 'secure-json-parse';
import type { RecordWrite } from '../domain/records.js';
import { ApiError } from '../errors.js';
import type { AppliedWrite } from '../store/record-writes.js';
import type { StoredAnswer } from '../store/webhook-inbox.js';
import { applyRecordWrites } from '../store/record-writes.js';
import { DeliveryRejected, type DeliveryHandler } from './delivery.js';
import { writesFromWebhook, type WebhookPayload } from './webhook-payload.js';

/** The generic route's answer: the same for a first delivery and for its replay. */
export function storedAnswer(deliveryId: string | null, applied: AppliedWrite[]): StoredAnswer {
  return { status: 200, body: { status: 'stored', delivery_id: deliveryId, stored: applied.length, records: applied } };
}

/**
 * A delivery of `POST /webhook`: records of the unified shape. On arrival the
 * route has parsed and schema-checked the body; `prepare` refuses what the
 * schema cannot say (the route answers that 422, a replay keeps it failed).
 */
export const genericDeliveryHandler: DeliveryHandler<RecordWrite[]> = {
  parse(raw) {
    try {
      // As on arrival (raw-json-body.ts): a leading BOM is allowed there, so it must be here.
      return secureJson.parse(raw, undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      throw new DeliveryRejected('the stored body is not JSON');
    }
  },
  prepare(parsed) {
    try {
      // The per-request cap is the route's to check: a replay takes what was accepted.
      return writesFromWebhook(parsed as WebhookPayload, Number.MAX_SAFE_INTEGER);
    } catch (err) {
      if (err instanceof ApiError) throw new DeliveryRejected(err.message, err);
      throw err;
    }
  },
  async apply(tx, writes, d) {
    const records = await applyRecordWrites(tx, writes);
    return { records, answer: storedAnswer(d.idempotencyKey, records) };
  },
  plain: {
    writes: (writes) => writes,
    answer: (_writes, records, d) => storedAnswer(d.idempotencyKey, records),
  },
};
