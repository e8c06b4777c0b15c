import { setTimeout as delay } from 'node:timers/promises';

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(max, base·2^(retry-1))).
 * Full jitter spreads clients that failed together, so they do not come back together.
 * `retry` counts from 1 (the first retry).
 */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  // Cap the exponent so a large retry count cannot overflow to Infinity.
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(Math.max(retry - 1, 0), 30));
  return Math.floor(random() * ceiling);
}

/** The longest wait believed; a longer (or unrepresentable) one is read as this. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * A Retry-After header value in milliseconds from `now`: delta-seconds or an
 * HTTP date (RFC 9110 §10.2.3). A date in the past means "now" (0).
 * Undefined when absent or unreadable, so the caller falls back to backoff.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  // Seconds; fractions are not in the RFC but some servers send them.
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.min(Math.ceil(Number(raw) * 1000), MAX_RETRY_AFTER_MS);
  // Every HTTP-date form has a month name and an hh:mm:ss time; Date.parse alone would take "-5" as a year.
  if (!/[a-z]{3}/i.test(raw) || !/\d{2}:\d{2}:\d{2}/.test(raw)) return undefined;
  // HTTP dates are GMT; the asctime form names no zone, and Date.parse would read it as local time.
  const at = Date.parse(/(?:GMT|UTC|Z|[+-]\d{4})$/i.test(raw) ? raw : `${raw} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw abortReason(signal);
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    // timers/promises wraps the reason in its own AbortError; give back the caller's own.
    if (signal?.aborted) throw abortReason(signal);
    throw error;
  }
}

/**
 * What an aborted call rejects with: the signal's reason when it is an error
 * (the default reason is a DOMException named 'AbortError'; a task runner may
 * abort with its own), else a fresh AbortError carrying the reason as cause.
 */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error('The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}
