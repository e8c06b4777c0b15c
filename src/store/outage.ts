import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { isTransientStoreError, StoreUnavailable } from './store-errors.js';

/** How long a sender is told to wait before retrying while the store is down. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Tells one store outage from thousands of failed requests: the first
 * transient failure is logged (with the store's own error) as the start of
 * an outage, later ones at debug only, and the first success after it logs
 * the end with how long it lasted and how many operations failed meanwhile.
 */
export class StoreOutage {
  private since: number | null = null;
  private failures = 0;

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  get down(): boolean {
    return this.since !== null;
  }

  /**
   * Classifies a failure of `operation`: a transient one becomes a
   * StoreUnavailable to answer 503 with; any other error is given back as it is.
   */
  failed(operation: string, err: unknown): unknown {
    if (!isTransientStoreError(err)) return err;
    this.metrics.storeUnavailable.inc({ operation });
    this.failures++;
    if (this.since === null) {
      this.since = Date.now();
      this.log.error({ err, operation }, 'store unavailable: answering 503 with Retry-After until it is back');
    } else {
      this.log.debug({ err, operation }, 'store still unavailable');
    }
    return new StoreUnavailable(RETRY_AFTER_SECONDS, err);
  }

  /** A store operation succeeded: an outage, if any, is over. */
  succeeded(): void {
    if (this.since === null) return;
    this.log.warn({ outage_ms: Date.now() - this.since, failed_operations: this.failures }, 'store available again');
    this.since = null;
    this.failures = 0;
  }
}
