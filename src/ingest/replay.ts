import type { Logger } from 'pino';
import { countRecordsWritten, type Metrics } from '../metrics.js';
import type { Store } from '../store/open-store.js';
import { StoreOutage } from '../store/outage.js';
import { isTransientStoreError } from '../store/store-errors.js';
import { getInboxRow, setInboxOutcome, type InboxRow, type InboxStatus } from '../store/webhook-inbox.js';
import { inWriteTransaction, type WriteTx } from '../store/write-transaction.js';
import { applyPrepared, DeliveryRejected, describeError, prepareStored, type DeliveryMeta, type EventOutcome } from './delivery.js';
import type { InboxCatalog } from './inbox-catalog.js';

export type ReplayResult =
  { kind: 'unknown' } | { kind: 'conflict'; status: InboxStatus; duplicateOf: number | null } | { kind: 'done'; outcome: EventOutcome };

type Processed = Pick<EventOutcome, 'status' | 'records' | 'error' | 'answer'>;

const metaOf = (row: InboxRow): DeliveryMeta => ({
  route: row.route,
  idempotencyKey: row.idempotencyKey,
  headers: row.headers,
  body: row.body ?? '',
  receivedAt: row.receivedAt,
});

/**
 * Processes a stored delivery again: a dead letter, or one left `received`.
 * It runs the handler of the delivery's route from the raw body, exactly as
 * the delivery's arrival did (parse, prepare, apply), and records the
 * outcome on the row in the same transaction.
 */
export class InboxReplayer {
  constructor(
    private readonly store: Store,
    private readonly catalog: InboxCatalog,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly outage: StoreOutage = new StoreOutage(log, metrics),
  ) {}

  /** A transient store failure anywhere in the replay rejects with StoreUnavailable (503) and leaves the row as it was. */
  async replay(id: number): Promise<ReplayResult> {
    try {
      const result = await this.replayRow(id);
      this.outage.succeeded('replay');
      return result;
    } catch (err) {
      throw this.outage.failed('replay', err, 'webhook_replay');
    }
  }

  private async replayRow(id: number): Promise<ReplayResult> {
    const row = await getInboxRow(this.store.db, this.store.dialect.decodeJson, id);
    if (!row) return { kind: 'unknown' };
    if (row.status === 'processed' || row.status === 'duplicate') return { kind: 'conflict', status: row.status, duplicateOf: row.duplicateOf };
    const conflict = Symbol('conflict');
    let result: Processed | typeof conflict;
    try {
      result = await inWriteTransaction(this.store, async (tx) => {
        // Read again under the write lock: two replays at once process it once.
        const current = await getInboxRow(tx.trx, tx.dialect.decodeJson, id);
        if (!current || current.status === 'processed' || current.status === 'duplicate') return conflict;
        return this.applyStored(tx, current);
      });
    } catch (err) {
      // A passing failure leaves the row as it was: the operator replays again later.
      if (isTransientStoreError(err)) throw err;
      // The operator who replays sees the store's own error; a sender never does.
      this.metrics.storeErrors.inc({ operation: 'webhook_replay' });
      this.log.error({ err, inbox_id: id }, 'webhook replay failed; the delivery stays a dead letter');
      await inWriteTransaction(this.store, async (tx) => {
        const status = (await getInboxRow(tx.trx, tx.dialect.decodeJson, id))?.status;
        if (status === 'failed' || status === 'received') await setInboxOutcome(tx, id, { status: 'failed', answer: null, error: describeError(err) });
      });
      result = { status: 'failed', records: [], error: describeError(err), answer: null };
    }
    if (result === conflict) {
      const now = await getInboxRow(this.store.db, this.store.dialect.decodeJson, id);
      return now ? { kind: 'conflict', status: now.status, duplicateOf: now.duplicateOf } : { kind: 'unknown' };
    }
    countRecordsWritten(this.metrics, result.records);
    this.log.info({ inbox_id: id, status: result.status }, 'webhook delivery replayed');
    return { kind: 'done', outcome: { inbox_id: id, duplicate_of: null, ...result } };
  }

  private async applyStored(tx: WriteTx, row: InboxRow): Promise<Processed> {
    const handler = this.catalog.handlerFor(row.route);
    const fail = async (error: string): Promise<Processed> => {
      await setInboxOutcome(tx, row.id, { status: 'failed', answer: null, error });
      return { status: 'failed', records: [], error, answer: null };
    };
    if (!handler) return fail(`no handler for route ${row.route}`);
    // Only a duplicate goes without a body of its own, and duplicates are not replayed.
    if (row.body === null) return fail('the delivery has no stored body');
    const prepared = prepareStored(handler, row.body);
    if (prepared.rejected !== undefined) return fail(prepared.rejected);
    try {
      const r = await applyPrepared(tx, prepared, metaOf(row));
      await setInboxOutcome(tx, row.id, { status: 'processed', answer: r.answer, error: null });
      return { status: 'processed', records: r.records, error: null, answer: r.answer };
    } catch (err) {
      if (!(err instanceof DeliveryRejected)) throw err;
      return fail(err.message);
    }
  }
}
