import type { Logger } from 'pino';
import type { RecordWrite } from '../domain/records.js';
import { countRecordsWritten, type Metrics } from '../metrics.js';
import type { Store } from '../store/open-store.js';
import { applyRecordWrites, type AppliedWrite } from '../store/record-writes.js';
import {
  findAnswers,
  findFirstCopies,
  insertInboxRow,
  recordDeliveries,
  recordDuplicates,
  setInboxOutcome,
  type InboxDelivery,
  type StoredAnswer,
} from '../store/webhook-inbox.js';
import { inWriteTransaction, type WriteTx } from '../store/write-transaction.js';
import { describeError } from './inbox-processing.js';

export interface DeliveryJob {
  writes: RecordWrite[];
  delivery: Omit<InboxDelivery, 'answer'>;
  /** Builds the answer from what the writes did; stored with the delivery. */
  answer(applied: AppliedWrite[]): StoredAnswer;
}

export interface DeliveryOutcome {
  answer: StoredAnswer;
  /** The idempotency key had been answered before: nothing was written. */
  duplicate: boolean;
}

interface Pending {
  job: DeliveryJob;
  resolve(outcome: DeliveryOutcome): void;
  reject(err: unknown): void;
}

export interface BatchWriterOptions {
  /** How long the first delivery of a batch waits for company. */
  maxDelayMs: number;
  /** A batch with this many records is committed at once. */
  maxBatchRecords: number;
}

/**
 * Group commit for webhook deliveries: concurrent requests are gathered for a
 * few milliseconds (or until the batch is full) and written in one
 * transaction, records and raw inbox rows together; each request is answered
 * only after its batch commits. One fsync then serves many requests.
 */
export class BatchWriter {
  private queue: Pending[] = [];
  private queuedRecords = 0;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly options: BatchWriterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  submit(job: DeliveryJob): Promise<DeliveryOutcome> {
    if (this.closed) return Promise.reject(new Error('writer is closed'));
    return new Promise<DeliveryOutcome>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.queuedRecords += job.writes.length;
      this.schedule();
    });
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
    if (this.queuedRecords >= this.options.maxBatchRecords) {
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
      // this point, found the writer busy and scheduled nothing.
      if (this.queue.length > 0 && !this.closed) this.schedule();
    });
    this.running = running;
    return running;
  }

  private async commitQueued(): Promise<void> {
    while (this.queue.length > 0) await this.commit(this.takeBatch());
  }

  private takeBatch(): Pending[] {
    let records = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || records + (this.queue[n]?.job.writes.length ?? 0) <= this.options.maxBatchRecords)) {
      records += this.queue[n]?.job.writes.length ?? 0;
      n++;
    }
    this.queuedRecords -= records;
    return this.queue.splice(0, n);
  }

  private async commit(batch: Pending[]): Promise<void> {
    try {
      const { outcomes, applied } = await inWriteTransaction(this.store, (tx) => this.write(tx, batch));
      // Counted once committed: a failed batch is retried delivery by delivery.
      countRecordsWritten(this.metrics, applied);
      const duplicates = outcomes.filter((o) => o.duplicate).length;
      if (duplicates > 0) this.metrics.webhookDuplicates.inc(duplicates);
      this.metrics.writerBatchDeliveries.observe(batch.length);
      this.metrics.writerBatchRecords.observe(batch.reduce((n, p) => n + p.job.writes.length, 0));
      batch.forEach((p, i) => p.resolve(outcomes[i] as DeliveryOutcome));
    } catch (err) {
      this.metrics.storeErrors.inc({ operation: 'webhook_batch' });
      if (batch.length === 1) {
        const p = batch[0] as Pending;
        this.log.error({ err }, 'webhook delivery could not be processed; keeping it as a dead letter');
        try {
          const outcome = await inWriteTransaction(this.store, (tx) => this.deadLetter(tx, p.job, err));
          if (outcome.duplicate) this.metrics.webhookDuplicates.inc();
          p.resolve(outcome);
        } catch (deadErr) {
          this.log.error({ err: deadErr }, 'webhook delivery could not be stored');
          p.reject(err);
        }
        return;
      }
      // One bad delivery must not fail its neighbours: retry each alone.
      this.log.warn({ err, deliveries: batch.length }, 'group commit failed; retrying its deliveries one by one');
      for (const p of batch) await this.commit([p]);
    }
  }

  private async write(tx: WriteTx, batch: Pending[]): Promise<{ outcomes: DeliveryOutcome[]; applied: AppliedWrite[] }> {
    const keys = [...new Set(batch.map((p) => p.job.delivery.idempotencyKey).filter((k): k is string => k !== null))];
    const answered = await findAnswers(tx, keys);
    // A key repeated inside this batch follows its first copy, as if sent after it.
    const firstInBatch = new Map<string, number>();
    const fresh: number[] = [];
    batch.forEach((p, i) => {
      const key = p.job.delivery.idempotencyKey;
      if (key !== null && (answered.has(key) || firstInBatch.has(key))) return;
      if (key !== null) firstInBatch.set(key, i);
      fresh.push(i);
    });

    const allWrites = fresh.flatMap((i) => (batch[i] as Pending).job.writes);
    const applied = await applyRecordWrites(tx, allWrites);
    const outcomes: DeliveryOutcome[] = new Array(batch.length);
    const deliveries: InboxDelivery[] = [];
    let offset = 0;
    for (const i of fresh) {
      const job = (batch[i] as Pending).job;
      const mine = applied.slice(offset, offset + job.writes.length);
      offset += job.writes.length;
      const answer = job.answer(mine);
      outcomes[i] = { answer, duplicate: false };
      deliveries.push({ ...job.delivery, answer });
    }
    const duplicates: InboxDelivery[] = [];
    batch.forEach((p, i) => {
      if (outcomes[i]) return;
      const key = p.job.delivery.idempotencyKey as string;
      const first = firstInBatch.get(key);
      const answer = answered.get(key) ?? (outcomes[first as number] as DeliveryOutcome).answer;
      outcomes[i] = { answer, duplicate: true };
      duplicates.push({ ...p.job.delivery, answer });
    });
    await recordDeliveries(tx, deliveries);
    // Repeats are kept too, as `duplicate` rows pointing at their first copy.
    await recordDuplicates(tx, duplicates);
    return { outcomes, applied };
  }

  /**
   * A delivery whose records could not be written: kept raw as `failed`
   * with the error (a dead letter, GET /webhooks/events?status=failed) and
   * answered 202, so the sender does not retry what an operator replays.
   */
  private async deadLetter(tx: WriteTx, job: DeliveryJob, err: unknown): Promise<DeliveryOutcome> {
    const key = job.delivery.idempotencyKey;
    const first = key === null ? undefined : (await findFirstCopies(tx, [key])).get(key);
    if (first) {
      await recordDuplicates(tx, [{ ...job.delivery, answer: first.answer }]);
      return { answer: first.answer, duplicate: true };
    }
    const id = await insertInboxRow(tx, { ...job.delivery, status: 'failed', error: describeError(err) });
    const answer: StoredAnswer = {
      status: 202,
      body: { status: 'failed', delivery_id: key, inbox_id: id, detail: 'the records could not be stored; the delivery is kept as a dead letter for replay' },
    };
    await setInboxOutcome(tx, id, { status: 'failed', answer, error: describeError(err) });
    return { answer, duplicate: false };
  }
}
