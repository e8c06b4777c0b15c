import secureJson from 'secure-json-parse';
import type { Logger } from 'pino';
import { ApiError } from '../errors.js';
import { countRecordsWritten, type Metrics } from '../metrics.js';
import type { Store } from '../store/open-store.js';
import { applyRecordWrites, type AppliedWrite } from '../store/record-writes.js';
import {
  findFirstCopies,
  getInboxRow,
  getInboxStatus,
  insertInboxRow,
  setInboxOutcome,
  type InboxRow,
  type InboxStatus,
  type StoredAnswer,
} from '../store/webhook-inbox.js';
import { inWriteTransaction, type WriteTx } from '../store/write-transaction.js';
import type { InboxCatalog } from './inbox-catalog.js';
import { writesFromWebhook } from './webhook-payload.js';

/**
 * A delivery that cannot be processed as it is (an event type this service
 * does not handle, a field it needs is missing). It becomes a dead letter at
 * once; a store failure is told apart because it may pass on a later try.
 * Handlers throw it before they write anything.
 */
export class DeliveryRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryRejected';
  }
}

/** One stored delivery (or one provider event) as a handler sees it. */
export interface StoredDelivery {
  id: number;
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

/** Applies one stored delivery inside a write transaction. */
export type DeliveryHandler = (tx: WriteTx, delivery: StoredDelivery) => Promise<HandlerResult>;

/** One event of a provider delivery, before it is stored. */
export interface IncomingEvent {
  /** De-duplication key, or null when the provider gives none. */
  key: string | null;
  body: string;
}

/** What became of one event or delivery, as the sender and the replay route are told. */
export interface EventOutcome {
  inbox_id: number;
  status: Exclude<InboxStatus, 'received'>;
  duplicate_of: number | null;
  records: AppliedWrite[];
  /** Why it failed, in words fit for the sender: store errors stay in the inbox row. */
  error: string | null;
}

/** The error as the inbox keeps it for operators. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
  return String(err);
}

const STORE_FAILURE = 'the event could not be processed; it is kept as a dead letter for replay (POST /webhooks/events/{id}/replay)';

type Processed = Pick<EventOutcome, 'status' | 'records' | 'error'>;

/** An event that a concurrent request (a retry of it) settled first: its outcome is not ours to repeat. */
function settledElsewhere(status: Exclude<InboxStatus, 'received'>): Processed {
  return {
    status,
    records: [],
    error: status === 'failed' ? 'the event was handled by a concurrent delivery of it, which failed; see GET /webhooks/events/{id}' : null,
  };
}

/** The generic route's answer, built the same way for a first delivery and for its replay. */
export function storedAnswer(deliveryId: string | null, applied: AppliedWrite[]): StoredAnswer {
  return { status: 200, body: { status: 'stored', delivery_id: deliveryId, stored: applied.length, records: applied } };
}

/**
 * Replays a delivery of the generic route (`POST /webhook`): the raw body was
 * schema-checked when it arrived, so it is only turned into writes again.
 */
export const genericDeliveryHandler: DeliveryHandler = async (tx, d) => {
  let body: unknown;
  try {
    // As on arrival (raw-json-body.ts): a leading BOM is allowed there, so it must be here.
    body = secureJson.parse(d.body, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw new DeliveryRejected('the stored body is not JSON');
  }
  let writes;
  try {
    writes = writesFromWebhook(body as Parameters<typeof writesFromWebhook>[0], Number.MAX_SAFE_INTEGER);
  } catch (err) {
    if (err instanceof ApiError) throw new DeliveryRejected(err.message);
    throw err;
  }
  const records = await applyRecordWrites(tx, writes);
  return { records, answer: storedAnswer(d.idempotencyKey, records) };
};

const deliveryOf = (row: InboxRow): StoredDelivery => ({
  id: row.id,
  route: row.route,
  idempotencyKey: row.idempotencyKey,
  headers: row.headers,
  body: row.body,
  receivedAt: row.receivedAt,
});

export type ReplayResult =
  | { kind: 'unknown' }
  | { kind: 'conflict'; status: InboxStatus; duplicateOf: number | null }
  | { kind: 'done'; outcome: EventOutcome };

/**
 * Provider events and replays: every event is first stored raw as
 * `received` (or `duplicate`) in its own commit, then processed; an event
 * that fails is kept as `failed` with its error, a dead letter that
 * `replay` processes again.
 */
export class InboxProcessor {
  constructor(
    private readonly store: Store,
    private readonly catalog: InboxCatalog,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /**
   * Stores the events of one delivery, then processes the new ones. Answers
   * once every event is processed or kept as a dead letter; throws only when
   * the store itself cannot be written (the sender should then retry).
   */
  async receive(route: string, headers: Record<string, string>, events: readonly IncomingEvent[]): Promise<EventOutcome[]> {
    const handler = this.handlerFor(route);
    const receivedAt = Date.now();
    const keys = events.map((e) => e.key).filter((k): k is string => k !== null);

    // 1. Durable receipt: first copies as `received`, repeats as `duplicate`.
    const { rows, toProcess, stuck } = await inWriteTransaction(this.store, async (tx) => {
      const firsts = await findFirstCopies(tx, keys);
      const seen = new Map<string, number>();
      const rows: Array<{ id: number; duplicateOf: number | null }> = [];
      const toProcess: StoredDelivery[] = [];
      const stuck = new Set<number>();
      for (const e of events) {
        const earlier = e.key === null ? undefined : (seen.get(e.key) ?? firsts.get(e.key)?.id);
        if (earlier !== undefined && e.key !== null) {
          const id = await insertInboxRow(tx, {
            receivedAt,
            route,
            idempotencyKey: null,
            duplicateOf: earlier,
            headers,
            body: e.body,
            status: 'duplicate',
            answer: firsts.get(e.key)?.answer ?? null,
          });
          rows.push({ id, duplicateOf: earlier });
          // A first copy left `received` (its process died before processing it) is taken up by the retry.
          if (firsts.get(e.key)?.status === 'received') stuck.add(earlier);
          continue;
        }
        const id = await insertInboxRow(tx, { receivedAt, route, idempotencyKey: e.key, headers, body: e.body, status: 'received' });
        if (e.key !== null) seen.set(e.key, id);
        rows.push({ id, duplicateOf: null });
        toProcess.push({ id, route, idempotencyKey: e.key, headers, body: e.body, receivedAt });
      }
      return { rows, toProcess, stuck: [...stuck] };
    });
    for (const r of rows) if (r.duplicateOf !== null) this.metrics.webhookDuplicates.inc();

    // 2. Processing: all in one transaction; if the store fails it, one at a time.
    const results = await this.processAll(handler, toProcess);
    let unrecorded: unknown = null;
    const outcomes = rows.map((r): EventOutcome => {
      if (r.duplicateOf !== null) return { inbox_id: r.id, status: 'duplicate', duplicate_of: r.duplicateOf, records: [], error: null };
      const result = results.get(r.id);
      if (!result || result instanceof Error) {
        unrecorded = result ?? new Error('not processed');
        return { inbox_id: r.id, status: 'failed', duplicate_of: null, records: [], error: STORE_FAILURE };
      }
      return { inbox_id: r.id, duplicate_of: null, ...result };
    });
    // An event still `received` could not even be marked failed: the store is down, the sender retries.
    if (unrecorded) throw unrecorded;
    // As a replay: under the write lock it is processed once, even if its first request is still at it.
    for (const id of stuck) await this.replay(id);
    return outcomes;
  }

  /** Processes a stored delivery again: a dead letter, or one left `received`. */
  async replay(id: number): Promise<ReplayResult> {
    const row = await getInboxRow(this.store.db, this.store.dialect.decodeJson, id);
    if (!row) return { kind: 'unknown' };
    if (row.status === 'processed' || row.status === 'duplicate') return { kind: 'conflict', status: row.status, duplicateOf: row.duplicateOf };
    const handler = this.catalog.handlerFor(row.route);
    const conflict = Symbol('conflict');
    let result: Processed | typeof conflict;
    try {
      result = await inWriteTransaction(this.store, async (tx) => {
        // Read again under the write lock: two replays at once process it once.
        const current = await getInboxRow(tx.trx, tx.dialect.decodeJson, id);
        if (!current || current.status === 'processed' || current.status === 'duplicate') return conflict;
        if (!handler) {
          await setInboxOutcome(tx, id, { status: 'failed', answer: null, error: `no handler for route ${row.route}` });
          return { status: 'failed' as const, records: [], error: `no handler for route ${row.route}` };
        }
        return this.applyOne(tx, handler, deliveryOf(current));
      });
    } catch (err) {
      // The operator who replays sees the store's own error; a sender never does.
      result = { ...(await this.deadLetter(id, err)), error: describeError(err) };
    }
    if (result === conflict) {
      const now = await getInboxRow(this.store.db, this.store.dialect.decodeJson, id);
      return now ? { kind: 'conflict', status: now.status, duplicateOf: now.duplicateOf } : { kind: 'unknown' };
    }
    this.counted(result);
    this.log.info({ inbox_id: id, status: result.status }, 'webhook delivery replayed');
    return { kind: 'done', outcome: { inbox_id: id, duplicate_of: null, ...result } };
  }

  private handlerFor(route: string): DeliveryHandler {
    const handler = this.catalog.handlerFor(route);
    if (!handler) throw new Error(`no inbox handler for route ${route}`);
    return handler;
  }

  /** Results by inbox id; an Error where the event could not even be marked failed. */
  private async processAll(handler: DeliveryHandler, deliveries: readonly StoredDelivery[]): Promise<Map<number, Processed | Error>> {
    const results = new Map<number, Processed | Error>();
    if (deliveries.length === 0) return results;
    try {
      const together = await inWriteTransaction(this.store, async (tx) => {
        const out: Array<[number, Processed]> = [];
        for (const d of deliveries) out.push([d.id, await this.applyReceived(tx, handler, d)]);
        return out;
      });
      for (const [id, r] of together) {
        this.counted(r);
        results.set(id, r);
      }
      return results;
    } catch (err) {
      if (deliveries.length > 1) this.log.warn({ err, events: deliveries.length }, 'processing webhook events failed; trying them one by one');
    }
    for (const d of deliveries) {
      let r: Processed;
      try {
        r = await inWriteTransaction(this.store, (tx) => this.applyReceived(tx, handler, d));
      } catch (err) {
        try {
          r = await this.deadLetter(d.id, err);
        } catch (markErr) {
          this.log.error({ err: markErr, inbox_id: d.id }, 'webhook event could not be marked failed; it stays received');
          results.set(d.id, markErr instanceof Error ? markErr : new Error(String(markErr)));
          continue;
        }
      }
      this.counted(r);
      results.set(d.id, r);
    }
    return results;
  }

  /**
   * applyOne for an event this request stored as `received`, read again under
   * the write lock first: between its receipt and this transaction, a retry
   * of the same event (on this instance or another on the same database) may
   * have found it `received` and processed it.
   */
  private async applyReceived(tx: WriteTx, handler: DeliveryHandler, d: StoredDelivery): Promise<Processed> {
    const status = await getInboxStatus(tx.trx, d.id);
    if (status !== null && status !== 'received') return settledElsewhere(status);
    return this.applyOne(tx, handler, d);
  }

  /** Runs the handler and records the outcome in the same transaction; a rejected delivery is marked failed there too. */
  private async applyOne(tx: WriteTx, handler: DeliveryHandler, d: StoredDelivery): Promise<Processed> {
    try {
      const r = await handler(tx, d);
      await setInboxOutcome(tx, d.id, { status: 'processed', answer: r.answer, error: null });
      return { status: 'processed', records: r.records, error: null };
    } catch (err) {
      if (!(err instanceof DeliveryRejected)) throw err;
      await setInboxOutcome(tx, d.id, { status: 'failed', answer: null, error: err.message });
      return { status: 'failed', records: [], error: err.message };
    }
  }

  /**
   * A store failure while processing: the event is kept as a dead letter with
   * the error, in a transaction of its own, unless a concurrent request has
   * processed it meanwhile (its outcome stands).
   */
  private async deadLetter(id: number, err: unknown): Promise<Processed> {
    this.metrics.storeErrors.inc({ operation: 'webhook_process' });
    this.log.error({ err, inbox_id: id }, 'webhook event failed; kept as a dead letter');
    return inWriteTransaction(this.store, async (tx): Promise<Processed> => {
      const status = await getInboxStatus(tx.trx, id);
      if (status === 'processed' || status === 'duplicate') return settledElsewhere(status);
      await setInboxOutcome(tx, id, { status: 'failed', answer: null, error: describeError(err) });
      return { status: 'failed', records: [], error: STORE_FAILURE };
    });
  }

  /** Metrics only for what committed. */
  private counted(r: Processed): void {
    countRecordsWritten(this.metrics, r.records);
  }
}
