import PQueue from 'p-queue';

/** At most `requests` requests start in any rolling window of `perMs` milliseconds. */
export interface RateLimit {
  requests: number;
  perMs: number;
}

export interface RequestQueueOptions {
  rateLimit?: RateLimit | undefined;
  /** Requests in flight at once; Infinity for no limit. */
  concurrency: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * The queue every attempt of a client passes through. Each retry is a new
 * entry, so retries count against the rate limit like any request, and a
 * backoff sleep (outside the queue) holds no concurrency slot.
 *
 * Strict mode is p-queue's sliding window: upstream limits such as
 * "100 per 10 s" are enforced over any window, and p-queue's default fixed
 * windows would allow a burst of twice the cap across a window boundary.
 */
export function createRequestQueue({ rateLimit, concurrency }: RequestQueueOptions): PQueue {
  const limit = concurrency === Infinity ? Infinity : positiveInteger('concurrency', concurrency);
  if (!rateLimit) return new PQueue({ concurrency: limit });
  return new PQueue({
    concurrency: limit,
    intervalCap: positiveInteger('rateLimit.requests', rateLimit.requests),
    interval: positiveInteger('rateLimit.perMs', rateLimit.perMs),
    strict: true,
  });
}

/**
 * Runs `task` when the queue lets it. An abort while waiting removes the entry
 * and rejects with the signal's reason (p-queue's own behaviour); the task
 * itself gets the signal to abort its request.
 */
export function runInQueue<T>(queue: PQueue, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return queue.add(task, signal ? { signal } : {});
}
