import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { isTransientStoreError, StoreUnavailable } from './store-errors.js';

/** How long a sender is told to wait before retrying while the store is down. */
const RETRY_AFTER_SECONDS = 5;

/**
 * A use that has not failed for this long is taken as no longer tried (a
 * sync that ended, a replay nobody repeated): it does not hold an outage open.
 */
const QUIET_USE_MS = 60_000;

export interface StoreOutageOptions {
  /** How long a failed use may go without failing again before it stops holding the outage open. */
  quietMs?: number;
  now?: () => number;
}

/**
 * Tells one store outage from thousands of failed requests: the first
 * transient failure is logged (with the store's own error) as the start of
 * an outage, later ones at debug only. The outage ends, with one line giving
 * its length and how many operations failed meanwhile, once every use that
 * failed (webhook writes, replays, the task queue's poll, heartbeats) has
 * worked again: a read path that recovered says nothing about the writer.
 */
export class StoreOutage {
  private since: number | null = null;
  private failures = 0;
  /** Each failing use, with the time of its last failure. */
  private readonly failing = new Map<string, number>();
  private readonly quietMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
    options: StoreOutageOptions = {},
  ) {
    this.quietMs = options.quietMs ?? QUIET_USE_MS;
    this.now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.since !== null;
  }

  /**
   * Classifies a failure of `use`: a transient one becomes a StoreUnavailable
   * to answer 503 with; any other error is given back as it is. `operation`
   * labels the metric when it is finer than the use (a batch, a dead letter).
   */
  failed(use: string, err: unknown, operation: string = use): unknown {
    if (err instanceof StoreUnavailable || !isTransientStoreError(err)) return err;
    const now = this.now();
    this.metrics.storeUnavailable.inc({ operation });
    this.failures++;
    this.failing.set(use, now);
    if (this.since === null) {
      this.since = now;
      this.log.error({ err, use, operation }, 'store unavailable: answering 503 with Retry-After until it is back');
    } else {
      this.log.debug({ err, use, operation }, 'store still unavailable');
    }
    return new StoreUnavailable(RETRY_AFTER_SECONDS, err);
  }

  /** `use` worked: the outage is over once no other use still fails. */
  succeeded(use: string): void {
    if (this.since === null) return;
    this.failing.delete(use);
    const now = this.now();
    for (const [other, at] of this.failing) if (now - at >= this.quietMs) this.failing.delete(other);
    if (this.failing.size > 0) return;
    this.log.warn({ outage_ms: now - this.since, failed_operations: this.failures }, 'store available again');
    this.since = null;
    this.failures = 0;
  }
}
