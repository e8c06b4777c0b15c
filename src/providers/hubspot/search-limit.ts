import type PQueue from 'p-queue';
import { backoffDelay, parseRetryAfter, sleep } from '../../sources/backoff.js';
import type { RateLimitDecision, ResponseHeaders } from '../../sources/http-client.js';
import { createRequestQueue, runInQueue, type RateLimit } from '../../sources/rate-limit.js';
import { RateLimitParkedError } from '../../sources/upstream-errors.js';

/** How a 429 is read; the search limiter passes it on for the daily quota. */
export type RateLimitClassifier = (status: number, headers: ResponseHeaders, body: unknown) => RateLimitDecision;

/** Reads a search request's 429 in place of the client's. */
export type SearchSend<T> = (classify: RateLimitClassifier) => Promise<T>;

export interface SearchLimiterOptions {
  /** HUBSPOT_SEARCH_RATE_LIMIT; null: no window of its own (the general limit still applies). */
  limit: RateLimit | null;
  /** The connector's reading of a 429 (the daily quota parks the task). */
  classify: RateLimitClassifier;
  /** A Retry-After longer than this parks the task instead of waiting. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Longest pause after a 429 without Retry-After. Default 30 s. */
  maxPauseMs?: number;
  /** 429s in a row before the search fails; time, not attempts, is what they cost. Default 100. */
  maxThrottledInARow?: number;
  random?: () => number;
  /** Told of every pause; for logs and tests. */
  onThrottled?(pauseMs: number, inARow: number): void;
}

/** The reason a throttled search's 429 carries out of the client: never seen outside this module. */
const THROTTLED = 'HubSpot search limit: slowing down';

/**
 * HubSpot's CRM search endpoint has a limit of its own (4 requests a second
 * per token, shared with every other app on the portal), far below the
 * general one. Searches pass this window before they join the client's
 * queue, so both limits hold.
 *
 * A 429 on search means another app (or a clock between us and HubSpot) took
 * part of the window: the limiter pauses every search (Retry-After when
 * HubSpot gives one, else a backoff of at least one window) and sends the
 * same request again. The client's retry budget is left for real failures:
 * a busy portal costs time, not the task.
 */
export class SearchLimiter {
  private readonly queue: PQueue | null;
  private pausedUntil = 0;
  private inARow = 0;

  constructor(private readonly options: SearchLimiterOptions) {
    this.queue = options.limit ? createRequestQueue({ rateLimit: options.limit, concurrency: 1 }) : null;
  }

  async run<T>(send: SearchSend<T>, signal: AbortSignal): Promise<T> {
    const maxRetryAfterMs = this.options.maxRetryAfterMs ?? 60_000;
    const maxInARow = this.options.maxThrottledInARow ?? 100;
    for (;;) {
      const pause = this.pausedUntil - Date.now();
      if (pause > 0) await sleep(pause, signal);
      let retryAfterMs: number | undefined;
      let throttled = false;
      const classify: RateLimitClassifier = (status, headers, body) => {
        const decision = this.options.classify(status, headers, body);
        if (decision !== 'retry') return decision;
        retryAfterMs = parseRetryAfter(headers['retry-after']);
        // A long Retry-After is the client's usual park, with its usual message.
        if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
          return { park: true, retryAt: Date.now() + retryAfterMs, reason: `Retry-After ${Math.ceil(retryAfterMs / 1000)} s on search` };
        }
        throttled = true;
        return { park: true, retryAt: Date.now(), reason: THROTTLED };
      };
      try {
        const result = this.queue ? await runInQueue(this.queue, () => send(classify), signal) : await send(classify);
        this.inARow = 0;
        return result;
      } catch (error) {
        if (!throttled || !(error instanceof RateLimitParkedError) || error.reason !== THROTTLED) throw error;
        this.inARow += 1;
        if (this.inARow > maxInARow) {
          this.inARow = 0;
          throw new Error(`HubSpot search answered 429 ${maxInARow} times in a row; is another app using the whole search limit?`, { cause: error });
        }
        const windowMs = this.options.limit?.perMs ?? 1_000;
        const pauseMs = retryAfterMs ?? Math.max(windowMs, backoffDelay(this.inARow, windowMs, this.options.maxPauseMs ?? 30_000, this.options.random));
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pauseMs);
        this.options.onThrottled?.(pauseMs, this.inARow);
      }
    }
  }
}
