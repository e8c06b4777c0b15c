import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { MINUTE_BUCKETS_KEPT_MS, pruneMinuteBuckets } from '../store/console-counters.js';
import type { Store } from '../store/open-store.js';
import { deleteInboxRowsBefore } from '../store/webhook-inbox.js';

export interface InboxRetentionOptions {
  /** Processed and duplicate rows older than this go (WEBHOOK_RETENTION). */
  retentionMs: number;
  /** Failed and stuck `received` rows older than this go; null keeps them until replayed (WEBHOOK_FAILED_RETENTION). */
  failedRetentionMs: number | null;
  /** How often the sweep runs. */
  intervalMs: number;
}

export interface SweepResult {
  processed: number;
  failed: number;
}

/**
 * One sweep: deletes inbox rows past their retention. Processed and duplicate
 * rows are the idempotency record and the audit copy; dead letters are kept
 * until they are replayed (or, when a limit is set, until they are older
 * than it).
 */
export async function sweepInbox(
  store: Store,
  options: Omit<InboxRetentionOptions, 'intervalMs'>,
  now: number = Date.now(),
  keepGoing: () => boolean = () => true,
): Promise<SweepResult> {
  const processed = await deleteInboxRowsBefore(store, ['processed', 'duplicate'], now - options.retentionMs, 1000, keepGoing);
  const failed =
    options.failedRetentionMs === null || !keepGoing()
      ? 0
      : await deleteInboxRowsBefore(store, ['failed', 'received'], now - options.failedRetentionMs, 1000, keepGoing);
  return { processed, failed };
}

/**
 * Runs the sweep in the background: once at start, then every `intervalMs`.
 * A failed sweep is logged and counted, never thrown into the void; sweeps
 * never overlap, and `stop` waits for a running one.
 */
export class InboxRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: InboxRetentionOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
    void this.runOnce();
  }

  /** One sweep now (skipped if one is running); resolves when it ends, whatever happened. */
  runOnce(): Promise<void> {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    this.running = (async () => {
      try {
        // A stop ends the sweep after its current batch; the next start carries on.
        const result = await sweepInbox(this.store, this.options, Date.now(), () => !this.stopped);
        if (result.processed + result.failed > 0) this.log.info(result, 'webhook inbox: old rows deleted');
        // The console's per-minute counters go by the same sweep.
        if (!this.stopped) await pruneMinuteBuckets(this.store.db, Date.now() - MINUTE_BUCKETS_KEPT_MS);
      } catch (err) {
        this.metrics.storeErrors.inc({ operation: 'inbox_retention' });
        this.log.error({ err }, 'webhook inbox retention sweep failed; it runs again later');
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
