import type { RecordWrite } from '../domain/records.js';
import { applyRecordWrites, type AppliedWrite } from '../store/record-writes.js';
import type { InboxStatus, StoredAnswer } from '../store/webhook-inbox.js';
import type { WriteTx } from '../store/write-transaction.js';

/**
 * A delivery that cannot be processed as it is (an event type this service
 * does not handle, a field it needs is missing). It becomes a dead letter at
 * once; a store failure is told apart because it may pass on a later try.
 * Handlers throw it before they write anything.
 */
export class DeliveryRejected extends Error {
  constructor(
    message: string,
    /** What the route answers when it is thrown on arrival (a 4xx), if not a dead letter. */
    readonly refusal?: Error,
  ) {
    super(message);
    this.name = 'DeliveryRejected';
  }
}

/** One delivery (or one provider event) as a handler sees it. */
export interface DeliveryMeta {
  route: string;
  idempotencyKey: string | null;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
}

export interface HandlerResult {
  records: AppliedWrite[];
  /** Stored on the row; what a repeat of its key is answered. */
  answer: StoredAnswer;
}

/**
 * How one kind of delivery is applied. The same three steps run when it
 * arrives and when it is replayed from the inbox: `parse` gives back what
 * the route parsed from the raw body, `prepare` checks and shapes it, and
 * `apply` writes it inside the write transaction.
 */
export interface DeliveryHandler<T = unknown> {
  /** The stored raw body, parsed as the route parsed it on arrival; throws DeliveryRejected. */
  parse(raw: string): unknown;
  /** Checks what arrived and shapes it for apply; pure; throws DeliveryRejected. */
  prepare(parsed: unknown): T;
  /** Applies it in the write transaction; may throw DeliveryRejected before it writes anything. */
  apply(tx: WriteTx, prepared: T, delivery: DeliveryMeta): Promise<HandlerResult>;
  /**
   * For deliveries that are plain record writes (apply is exactly
   * applyRecordWrites of these, then `answer`): the pipeline then applies the
   * writes of many deliveries with one call, as one delivery would.
   */
  plain?: {
    writes(prepared: T): RecordWrite[];
    answer(prepared: T, records: AppliedWrite[], delivery: DeliveryMeta): StoredAnswer;
  };
}

/** A delivery ready for the pipeline: bound to its handler, or rejected before anything is written. */
export type PreparedDelivery =
  | { apply(tx: WriteTx, delivery: DeliveryMeta): Promise<HandlerResult>; writes?: undefined; rejected?: undefined }
  | { writes: RecordWrite[]; answer(records: AppliedWrite[], delivery: DeliveryMeta): StoredAnswer; rejected?: undefined }
  | { rejected: string; refusal?: Error };

/** Runs `prepare` and binds its result to `apply`; a rejection is kept as the reason. */
export function prepareDelivery<T>(handler: DeliveryHandler<T>, parsed: unknown): PreparedDelivery {
  try {
    const prepared = handler.prepare(parsed);
    const plain = handler.plain;
    if (plain) return { writes: plain.writes(prepared), answer: (records, d) => plain.answer(prepared, records, d) };
    return { apply: (tx, d) => handler.apply(tx, prepared, d) };
  } catch (err) {
    if (err instanceof DeliveryRejected) return err.refusal ? { rejected: err.message, refusal: err.refusal } : { rejected: err.message };
    throw err;
  }
}

/** The same from the stored raw body: what a replay does. */
export function prepareStored<T>(handler: DeliveryHandler<T>, raw: string): PreparedDelivery {
  let parsed: unknown;
  try {
    parsed = handler.parse(raw);
  } catch (err) {
    if (err instanceof DeliveryRejected) return { rejected: err.message };
    throw err;
  }
  return prepareDelivery(handler, parsed);
}

/** Applies one prepared delivery (a batch of plain ones is applied by the pipeline with one applyRecordWrites call). */
export async function applyPrepared(tx: WriteTx, p: Exclude<PreparedDelivery, { rejected: string }>, meta: DeliveryMeta): Promise<HandlerResult> {
  if (p.writes === undefined) return p.apply(tx, meta);
  const records = await applyRecordWrites(tx, p.writes);
  return { records, answer: p.answer(records, meta) };
}

/** What became of one event or delivery, as the sender and the replay route are told. */
export interface EventOutcome {
  /** Its inbox row; null when the route did not ask for row ids. */
  inbox_id: number | null;
  status: Exclude<InboxStatus, 'received'>;
  duplicate_of: number | null;
  records: AppliedWrite[];
  /** Why it failed, in words fit for the sender: store errors stay in the inbox row. */
  error: string | null;
  /** The answer stored with it (a repeat of its key gets the same). */
  answer: StoredAnswer | null;
}

/** The error as the inbox keeps it for operators. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
  return String(err);
}
