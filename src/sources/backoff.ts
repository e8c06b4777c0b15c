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

/**
 * A Retry-After header value in milliseconds from `now`: delta-seconds or an
 * HTTP date (RFC 9110 §10.2.3). A date in the past means "now" (0).
 * Undefined when absent or unreadable, so the caller falls back to backoff.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  // Seconds; fractions are not in the RFC but some servers send them.
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.ceil(Number(raw) * 1000);
  // Every HTTP-date form has a month name and an hh:mm:ss time; Date.parse alone would take "-5" as a year.
  if (!/[a-z]{3}/i.test(raw) || !/\d{2}:\d{2}:\d{2}/.test(raw)) return undefined;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
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
