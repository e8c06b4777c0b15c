import type { Logger } from 'pino';
import { countRecordsWritten, type Metrics } from '../metrics.js';
import type { RecordWrite } from '../domain/records.js';
import { applyRecordWrites } from '../store/record-writes.js';
import { findFirstCopies, insertInboxRow, recordInboxRows, setInboxOutcome, type NewInboxRow, type StoredAnswer } from '../store/webhook-inbox.js';
import { StoreOutage } from '../store/outage.js';
import { StoreUnavailable } from '../store/store-errors.js';
import { inWriteTransaction, type WriteTx } from '../store/write-transaction.js';
import { applyPrepared, DeliveryRejected, describeError, type DeliveryMeta, type EventOutcome, type PreparedDelivery } from './delivery.js';

/** One event of a delivery (a generic delivery is one event), prepared by its route. */
export interface IncomingEvent {
  /** De-duplication key (webhook-id, a provider's event key), or null when there is none. */
  key: string | null;
  /** The raw body kept in the inbox: what a replay parses again. */
  body: string;
  prepared: PreparedDelivery;
}

export interface DeliveryJob {
  route: string;
  headers: Record<string, string>;
  receivedAt: number;
  events: IncomingEvent[];
  /** Records it is expected to write: what fills a batch. */
  weight: number;
  /** Give each event's inbox row id in its outcome (a statement per row instead of one for all). */
  rowIds: boolean;
}

interface Pending {
  job: DeliveryJob;
  outcomes: Array<EventOutcome | undefined>;
  left: number;
  resolve(outcomes: EventOutcome[]): void;
  reject(err: unknown): void;
}

/** Some events of one pending job, committed together. */
interface Unit {
  pending: Pending;
  events: number[];
}

export interface PipelineOptions {
  /** How long the first delivery of a batch waits for company. */
  maxDelayMs: number;
  /** A batch that would write this many records is committed at once. */
  maxBatchRecords: number;
  /** Bodies held at once (queued, or in the batch being committed); past it a delivery is refused. None: no bound. */
  maxQueuedBytes?: number;
  /** Told how each batch commit ended: readiness follows the last write outcomes. */
  writes?: WriteOutcomes;
}

/** What hears of batch commits (StoreReadiness). */
export interface WriteOutcomes {
  writeSucceeded(): void;
  writeFailed(err: unknown): void;
}

/** How long a sender refused for a full queue is told to wait. */
const QUEUE_FULL_RETRY_AFTER_SECONDS = 5;

/** The writer holds WRITER_MAX_QUEUED_BYTES of bodies already: answered 503 with Retry-After, like a store outage. */
export class WriterQueueFull extends StoreUnavailable {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds, null);
    this.name = 'WriterQueueFull';
    this.message = 'too many deliveries are waiting for the store; nothing was stored, retry later';
  }
}

type PlainDelivery = Extract<PreparedDelivery, { writes: RecordWrite[] }>;

const failedOutcome = (error: string): EventOutcome => ({ inbox_id: null, status: 'failed', duplicate_of: null, records: [], error, answer: null });

/** Runs one handler; a delivery it rejects is kept as failed in the same transaction. */
async function applyOne(tx: WriteTx, prepared: Exclude<PreparedDelivery, { rejected: string }>, meta: DeliveryMeta): Promise<EventOutcome> {
  try {
    const r = await applyPrepared(tx, prepared, meta);
    return { inbox_id: null, status: 'processed', duplicate_of: null, records: r.records, error: null, answer: r.answer };
  } catch (err) {
    if (!(err instanceof DeliveryRejected)) throw err;
    return failedOutcome(err.message);
  }
}

const DEAD_LETTER_DETAIL = 'the records could not be stored; the delivery is kept as a dead letter for replay (POST /webhooks/events/{id}/replay)';

/** The answer a dead letter gives, stored so a repeat of its key gets it too. */
export function deadLetterAnswer(inboxId: number, key: string | null): StoredAnswer {
  return { status: 202, body: { status: 'failed', delivery_id: key, inbox_id: inboxId, detail: DEAD_LETTER_DETAIL } };
}

/**
 * The one way a webhook delivery is stored and applied, whichever route it
 * came by. Concurrent deliveries are gathered for a few milliseconds (or
 * until the batch is full) and committed in one transaction: each event is
 * de-duplicated on its key, applied by its handler and kept raw in the
 * inbox with its answer; each request is answered once its batch commits, so
 * one fsync serves many. A batch the store refuses is retried delivery by
 * delivery, then event by event; an event that still fails becomes a dead
 * letter (kept raw as `failed`, replayable).
 */
export class DeliveryPipeline {
  private queue: Pending[] = [];
  private queuedWeight = 0;
  /** Bytes of the bodies submitted and not yet answered: a stalled store holds them all. */
  private heldBytes = 0;
  /** Refusals since the queue last filled up; null while it is not full. */
  private fullRefusals: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: Parameters<typeof inWriteTransaction>[0],
    private readonly options: PipelineOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly outage: StoreOutage = new StoreOutage(log, metrics),
  ) {}

  /** Resolves with one outcome per event once they are committed; rejects only when the store cannot keep them at all. */
  submit(job: DeliveryJob): Promise<EventOutcome[]> {
    if (this.closed) return Promise.reject(new Error('the delivery pipeline is closed'));
    if (job.events.length === 0) return Promise.resolve([]);
    const bytes = job.events.reduce((n, e) => n + Buffer.byteLength(e.body), 0);
    const max = this.options.maxQueuedBytes;
    // An empty queue takes any one delivery (BODY_LIMIT bounds it), so a bound below one body never refuses everything.
    if (max !== undefined && this.heldBytes > 0 && this.heldBytes + bytes > max) return Promise.reject(this.refuseFull(max));
    this.heldBytes += bytes;
    const release = () => this.release(bytes);
    return new Promise<EventOutcome[]>((resolve, reject) => {
      this.queue.push({
        job,
        outcomes: new Array(job.events.length),
        left: job.events.length,
        resolve: (outcomes) => {
          release();
          resolve(outcomes);
        },
        reject: (err) => {
          release();
          reject(err);
        },
      });
      this.queuedWeight += job.weight;
      this.schedule();
    });
  }

  private refuseFull(max: number): WriterQueueFull {
    this.metrics.webhookQueueFull.inc();
    // Logged when the queue fills and when it drains, not once per refused request.
    if (this.fullRefusals === null) {
      this.fullRefusals = 0;
      this.log.warn({ held_bytes: this.heldBytes, max_bytes: max }, 'writer queue full: answering 503 with Retry-After until it drains');
    }
    this.fullRefusals++;
    return new WriterQueueFull(QUEUE_FULL_RETRY_AFTER_SECONDS);
  }

  private release(bytes: number): void {
    this.heldBytes -= bytes;
    const max = this.options.maxQueuedBytes;
    if (this.fullRefusals !== null && max !== undefined && this.heldBytes <= max / 2) {
      this.log.warn({ refused: this.fullRefusals, held_bytes: this.heldBytes }, 'writer queue drained');
      this.fullRefusals = null;
    }
  }

  /** Commits everything already submitted, then refuses new work. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    while (this.running || this.queue.length > 0) {
      await (this.running ?? this.drain());
    }
  }

  private schedule(): void {
    if (this.running) return; // the running drain picks new work up when it finishes a batch
    if (this.queuedWeight >= this.options.maxBatchRecords) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (this.immediate) clearImmediate(this.immediate);
      this.immediate = null;
      void this.drain();
      return;
    }
    if (this.options.maxDelayMs === 0) {
      // No wait of our own: every delivery read in this turn of the event loop
      // joins the batch; what arrives while it commits joins the next one.
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        void this.drain();
      });
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, this.options.maxDelayMs);
  }

  private drain(): Promise<void> {
    if (this.running) return this.running;
    // A drain scheduled for the end of a turn can find the queue already
    // emptied by a batch that filled up and committed first.
    if (this.queue.length === 0) return Promise.resolve();
    // Cleared in `finally`, which always runs after this assignment: a flag
    // cleared inside the async body could run first and stay set for good.
    const running: Promise<void> = this.commitQueued().finally(() => {
      if (this.running === running) this.running = null;
      // A delivery submitted after the last look at the queue, but before
      // this point, found the pipeline busy and scheduled nothing.
      if (this.queue.length > 0 && !this.closed) this.schedule();
    });
    this.running = running;
    return running;
  }

  private async commitQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.takeBatch();
      await this.commit(batch.map((pending) => ({ pending, events: pending.job.events.map((_, i) => i) })));
    }
  }

  private takeBatch(): Pending[] {
    let weight = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || weight + (this.queue[n]?.job.weight ?? 0) <= this.options.maxBatchRecords)) {
      weight += this.queue[n]?.job.weight ?? 0;
      n++;
    }
    this.queuedWeight -= weight;
    return this.queue.splice(0, n);
  }

  private settle(p: Pending, event: number, outcome: EventOutcome): void {
    if (p.left === 0) return; // already failed whole
    p.outcomes[event] = outcome;
    if (--p.left === 0) p.resolve(p.outcomes as EventOutcome[]);
  }

  private fail(p: Pending, err: unknown): void {
    if (p.left === 0) return;
    p.left = 0;
    p.reject(err);
  }

  private async commit(units: Unit[]): Promise<void> {
    const live = units.filter((u) => u.pending.left > 0);
    if (live.length === 0) return;
    try {
      const outcomes = await inWriteTransaction(this.store, (tx) => this.write(tx, live));
      // Counted once committed: a failed batch is retried in smaller parts.
      countRecordsWritten(
        this.metrics,
        outcomes.flatMap((o) => o.outcome.records),
      );
      const duplicates = outcomes.filter((o) => o.outcome.status === 'duplicate').length;
      if (duplicates > 0) this.metrics.webhookDuplicates.inc(duplicates);
      this.metrics.writerBatchDeliveries.observe(live.length);
      this.metrics.writerBatchRecords.observe(live.reduce((n, u) => n + u.pending.job.weight, 0));
      this.outage.succeeded('webhook');
      this.options.writes?.writeSucceeded();
      for (const o of outcomes) this.settle(o.unit.pending, o.event, o.outcome);
    } catch (err) {
      this.options.writes?.writeFailed(err);
      const failure = this.outage.failed('webhook', err, 'webhook_batch');
      if (failure instanceof StoreUnavailable) {
        // A passing failure (busy, full, connection lost) would fail each part alone too:
        // every sender is told to retry, and nothing becomes a dead letter.
        for (const u of live) this.fail(u.pending, failure);
        return;
      }
      this.metrics.storeErrors.inc({ operation: 'webhook_batch' });
      if (live.length > 1) {
        // One bad delivery must not fail its neighbours: retry each alone.
        this.log.warn({ err, deliveries: live.length }, 'group commit failed; retrying its deliveries one by one');
        for (const u of live) await this.commit([u]);
        return;
      }
      const unit = live[0] as Unit;
      if (unit.events.length > 1) {
        this.log.warn({ err, events: unit.events.length }, 'a delivery failed to commit; retrying its events one by one');
        for (const e of unit.events) await this.commit([{ pending: unit.pending, events: [e] }]);
        return;
      }
      await this.deadLetter(unit, err);
    }
  }

  /** Applies the units' events in order, then keeps every one of them in the inbox. */
  private async write(tx: WriteTx, units: Unit[]): Promise<Array<{ unit: Unit; event: number; outcome: EventOutcome }>> {
    const keyOf = (u: Unit, e: number) => u.pending.job.events[e]?.key ?? null;
    const keys = units.flatMap((u) => u.events.map((e) => keyOf(u, e))).filter((k): k is string => k !== null);
    const firsts = await findFirstCopies(tx, keys);
    // A key repeated inside this transaction follows its first copy, as if sent after it.
    const firstHere = new Map<string, EventOutcome>();
    const results: Array<{ unit: Unit; event: number; outcome: EventOutcome; row: NewInboxRow }> = [];
    const repeats: Array<{ unit: Unit; event: number; row: NewInboxRow; key: string }> = [];
    const completed: Array<{ id: number; outcome: EventOutcome }> = [];

    // Consecutive plain deliveries are applied with one call, in arrival order with the rest.
    let run: Array<{ prepared: PlainDelivery; meta: DeliveryMeta; outcome: EventOutcome }> = [];
    const flush = async () => {
      if (run.length === 0) return;
      const applied = await applyRecordWrites(
        tx,
        run.flatMap((r) => r.prepared.writes),
      );
      let offset = 0;
      for (const r of run) {
        r.outcome.records = applied.slice(offset, offset + r.prepared.writes.length);
        offset += r.prepared.writes.length;
        r.outcome.answer = r.prepared.answer(r.outcome.records, r.meta);
      }
      run = [];
    };

    for (const unit of units) {
      const { job } = unit.pending;
      for (const e of unit.events) {
        const event = job.events[e] as IncomingEvent;
        const meta: DeliveryMeta = { route: job.route, idempotencyKey: event.key, headers: job.headers, body: event.body, receivedAt: job.receivedAt };
        const base = { receivedAt: job.receivedAt, route: job.route, headers: job.headers, body: event.body };
        const earlier = event.key === null ? undefined : firsts.get(event.key);
        // A first copy left `received` (its process died before applying it, an older version's
        // two-step receipt) is completed by this retry, which is then recorded as its duplicate.
        const stuck = earlier?.status === 'received' && !firstHere.has(event.key as string);
        if (event.key !== null && (earlier || firstHere.has(event.key))) {
          repeats.push({ unit, event: e, key: event.key, row: { ...base, idempotencyKey: null, status: 'duplicate' } });
          if (!stuck) continue;
        }
        const p = event.prepared;
        let outcome: EventOutcome;
        if (p.rejected !== undefined) {
          outcome = failedOutcome(p.rejected);
        } else if (p.writes !== undefined) {
          outcome = { inbox_id: null, status: 'processed', duplicate_of: null, records: [], error: null, answer: null };
          run.push({ prepared: p, meta, outcome });
        } else {
          await flush();
          outcome = await applyOne(tx, p, meta);
        }
        if (event.key !== null) firstHere.set(event.key, outcome);
        if (stuck) completed.push({ id: (earlier as { id: number }).id, outcome });
        else results.push({ unit, event: e, outcome, row: { ...base, idempotencyKey: event.key, status: 'processed' } });
      }
    }
    await flush();

    for (const c of completed) {
      await setInboxOutcome(tx, c.id, { status: c.outcome.status === 'processed' ? 'processed' : 'failed', answer: c.outcome.answer, error: c.outcome.error });
    }
    // Rows carry their outcome, known now that every event is applied.
    for (const r of results) Object.assign(r.row, { status: r.outcome.status, answer: r.outcome.answer, error: r.outcome.error });
    await recordInboxRows(
      tx,
      results.filter((r) => !r.unit.pending.job.rowIds).map((r) => r.row),
    );
    for (const r of results) if (r.unit.pending.job.rowIds) r.outcome.inbox_id = await insertInboxRow(tx, r.row);

    const out = results.map(({ unit, event, outcome }) => ({ unit, event, outcome }));
    if (repeats.length === 0) return out;
    // Repeats point at their first copy, which is in by now.
    const firstIds = await findFirstCopies(
      tx,
      repeats.map((r) => r.key),
    );
    const plainRepeats: NewInboxRow[] = [];
    for (const r of repeats) {
      const first = firstIds.get(r.key);
      const answer = firstHere.get(r.key)?.answer ?? firsts.get(r.key)?.answer ?? first?.answer ?? null;
      const row: NewInboxRow = { ...r.row, duplicateOf: first?.id ?? null, answer };
      let id: number | null = null;
      if (r.unit.pending.job.rowIds) id = await insertInboxRow(tx, row);
      else plainRepeats.push(row);
      out.push({
        unit: r.unit,
        event: r.event,
        outcome: { inbox_id: id, status: 'duplicate', duplicate_of: first?.id ?? null, records: [], error: null, answer },
      });
    }
    await recordInboxRows(tx, plainRepeats);
    return out;
  }

  /**
   * An event whose records the store would not take, even alone: kept raw as
   * `failed` with the error (a dead letter, GET /webhooks/events?status=failed),
   * in a transaction of its own. A delivery whose key has a first copy by now
   * is recorded as its duplicate instead.
   */
  private async deadLetter(unit: Unit, err: unknown): Promise<void> {
    const { job } = unit.pending;
    const e = unit.events[0] as number;
    const event = job.events[e] as IncomingEvent;
    this.log.error({ err, route: job.route }, 'webhook delivery could not be processed; keeping it as a dead letter');
    try {
      const outcome = await inWriteTransaction(this.store, async (tx): Promise<EventOutcome> => {
        const base = { receivedAt: job.receivedAt, route: job.route, headers: job.headers, body: event.body };
        const first = event.key === null ? undefined : (await findFirstCopies(tx, [event.key])).get(event.key);
        if (first) {
          const id = await insertInboxRow(tx, { ...base, idempotencyKey: null, status: 'duplicate', duplicateOf: first.id, answer: first.answer });
          return { inbox_id: id, status: 'duplicate', duplicate_of: first.id, records: [], error: null, answer: first.answer };
        }
        const id = await insertInboxRow(tx, { ...base, idempotencyKey: event.key, status: 'failed', error: describeError(err) });
        const answer = deadLetterAnswer(id, event.key);
        await setInboxOutcome(tx, id, { status: 'failed', answer, error: describeError(err) });
        return { inbox_id: id, status: 'failed', duplicate_of: null, records: [], error: DEAD_LETTER_DETAIL, answer };
      });
      if (outcome.status === 'duplicate') this.metrics.webhookDuplicates.inc();
      this.outage.succeeded('webhook');
      this.settle(unit.pending, e, outcome);
    } catch (deadErr) {
      const failure = this.outage.failed('webhook', deadErr, 'webhook_dead_letter');
      if (!(failure instanceof StoreUnavailable)) this.log.error({ err: deadErr }, 'webhook delivery could not be stored');
      this.fail(unit.pending, failure instanceof StoreUnavailable ? failure : err);
    }
  }
}
