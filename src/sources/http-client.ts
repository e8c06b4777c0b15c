import { performance } from 'node:perf_hooks';
import { Agent, request as undiciRequest } from 'undici';
import { abortReason, backoffDelay, parseRetryAfter, sleep } from './backoff.js';
import { createRequestQueue, runInQueue, type RateLimit } from './rate-limit.js';
import {
  RateLimitParkedError,
  UpstreamHttpError,
  UpstreamInvalidJsonError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  type UpstreamError,
} from './upstream-errors.js';

export type { RateLimit } from './rate-limit.js';

export type HttpMethod = 'GET' | 'POST';
export type QueryValue = string | number | boolean | undefined;
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface SourceRequest {
  method?: HttpMethod;
  /** Relative to baseUrl ('/crm/v3/objects/contacts'), or an absolute URL on baseUrl's origin (a paging link). */
  path: string;
  /** Appended to the path; undefined values are left out. */
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Aborts the in-flight request, a backoff sleep and a wait in the rate-limit queue. */
  signal?: AbortSignal;
  /** This request's own reading of a 429, in place of the client's (an endpoint with a limit of its own). */
  classifyRateLimit?(status: number, headers: ResponseHeaders, body: unknown): RateLimitDecision;
}

export interface SourceResponse<T> {
  status: number;
  headers: ResponseHeaders;
  /** The parsed JSON body; null when the body is empty. */
  body: T;
}

/**
 * What a connector makes of a 429: 'retry' (honour Retry-After, else back
 * off), or park the task until `retryAt` (epoch ms), e.g. an upstream's daily quota.
 */
export type RateLimitDecision = 'retry' | { park: true; retryAt: number; reason: string };

/** Why an attempt is retried; few distinct values, so usable as a metrics label. */
export type RetryReason = `http_${number}` | 'timeout' | 'network' | 'invalid_json';

/** The part of pino's Logger the client uses. */
export interface SourceLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface SourceClientHooks {
  /** Before each backoff sleep; `attempt` is the retry about to be made (1 = first retry). */
  onRetry?(attempt: number, reason: RetryReason, delayMs: number): void;
  /** After each response is read in full, retried ones included. */
  onResponse?(status: number, ms: number): void;
}

/**
 * Credentials that change while the client lives (OAuth access tokens): the
 * headers are asked for before each attempt, and a 401 asks for new ones once
 * per request before it fails.
 */
export interface SourceAuth {
  /** The auth headers for the next attempt; may fetch a token first. */
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** Upstream refused these headers (401): get new credentials; false when there are none to try. */
  refused(sent: Record<string, string>, signal?: AbortSignal): Promise<boolean>;
  /** Current credentials, masked in quoted error bodies like `secrets`. */
  secrets(): readonly string[];
}

export interface SourceClientOptions {
  /** For logs and errors, the source name. */
  name: string;
  /** May carry a path prefix, e.g. 'https://api.example.com/3.0'. */
  baseUrl: string;
  /** Sent with every request (auth); a request's own headers override them. */
  headers?: Record<string, string>;
  /**
   * Wait for the response headers, and between body chunks. Default 30 s.
   * undici checks these on a ~0.5 s tick, so a timeout may fire up to ~1 s late.
   */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 5. */
  maxRetries?: number;
  /** Backoff base. Default 500 ms. */
  baseDelayMs?: number;
  /** Backoff ceiling. Default 30 s. */
  maxDelayMs?: number;
  /** A longer Retry-After parks the call (RateLimitParkedError) instead of sleeping. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Retries of a 2xx whose body is not JSON, within maxRetries. Default 2. */
  maxInvalidJsonRetries?: number;
  /** E.g. { requests: 100, perMs: 10_000 }. Default none. */
  rateLimit?: RateLimit;
  /** Largest response body read, in bytes; a larger one fails the call. Default 64 MiB. */
  maxResponseBytes?: number;
  /** Requests (and keep-alive connections) at once. Default 10. */
  concurrency?: number;
  logger?: SourceLogger;
  hooks?: SourceClientHooks;
  /**
   * Credentials that must never reach an error message or a log: an upstream
   * error body that echoes the request (its URL with an API key, a header)
   * has them replaced before it is quoted. Values under 4 characters are left alone.
   */
  secrets?: readonly string[];
  /** Credentials asked for before each attempt (see SourceAuth); they override `headers`. */
  auth?: SourceAuth;
  /** Called on every 429 with its headers and body (parsed JSON, or the text). */
  classifyRateLimit?(status: number, headers: ResponseHeaders, body: unknown): RateLimitDecision;
  /** Source of jitter in [0, 1); for tests. Default Math.random. */
  random?: () => number;
}

export interface SourceClient {
  readonly name: string;
  request<T = unknown>(req: SourceRequest): Promise<SourceResponse<T>>;
  /** Stops new requests, waits for in-flight ones, closes the keep-alive connections. */
  close(): Promise<void>;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** Failures a retry may cure. ENOTFOUND is not among them: a wrong host fails fast. */
const RETRY_NETWORK_CODES = new Set([
  'ECONNRESET', // also Node's "socket hang up"
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET', // "other side closed": often a keep-alive socket the server closed as we reused it
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', // body cut short
]);

/** One attempt's result: the loop in request() decides what happens next. */
type Outcome<T> =
  | { kind: 'ok'; response: SourceResponse<T> }
  | { kind: 'fail'; error: Error }
  | { kind: 'retry'; reason: RetryReason; error: UpstreamError; status?: number; retryAfterMs?: number | undefined };

const NO_LOG: SourceLogger = { warn() {}, info() {}, debug() {} };

export function createSourceClient(options: SourceClientOptions): SourceClient {
  const name = options.name;
  const base = new URL(options.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`${name}: baseUrl must be http(s), got ${options.baseUrl}`);
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRetries = options.maxRetries ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const maxInvalidJsonRetries = options.maxInvalidJsonRetries ?? 2;
  const concurrency = options.concurrency ?? 10;
  const random = options.random ?? Math.random;
  const log = options.logger ?? NO_LOG;
  const hooks = options.hooks ?? {};
  const defaultHeaders = lowerCaseKeys(options.headers ?? {});

  const queue = createRequestQueue({ rateLimit: options.rateLimit, concurrency });
  // One keep-alive pool per client; no more sockets than requests the queue lets run.
  const agent = new Agent({
    connections: concurrency === Infinity ? null : concurrency,
    connect: { timeout: timeoutMs },
    // Bodies are read whole into memory: bound them (undici fails the body with UND_ERR_RES_EXCEEDED_MAX_SIZE).
    maxResponseSize: options.maxResponseBytes ?? 64 * 1024 * 1024,
  });
  let closing: Promise<void> | undefined;
  const fixedSecrets = options.secrets ?? [];
  const auth = options.auth;
  /** An error body fit to quote: every secret (and its URL-encoded form) masked. */
  const scrub = (text: string): string => {
    let out = text;
    const secrets = [...fixedSecrets, ...(auth?.secrets() ?? [])].filter((v) => v.length >= 4);
    for (const v of secrets) for (const form of new Set([v, encodeURIComponent(v)])) out = out.split(form).join('[redacted]');
    return out;
  };

  async function request<T = unknown>(req: SourceRequest): Promise<SourceResponse<T>> {
    const method = req.method ?? 'GET';
    const { signal } = req;
    const url = withQuery(resolveUrl(req.path), req.query);
    const path = displayPath(req.path);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': 'tributary',
      ...defaultHeaders,
      ...lowerCaseKeys(req.headers ?? {}),
    };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] ??= 'application/json';
    }
    const ctx = (attempts: number, cause?: unknown) => ({ source: name, method, path, attempts, cause });

    /** One request and its classification. Throws only when aborted or closed. */
    async function attempt(n: number, authHeaders: Record<string, string>): Promise<Outcome<T>> {
      if (closing) throw new Error(`source client "${name}" is closed`);
      const started = performance.now();
      let status: number;
      let resHeaders: ResponseHeaders;
      let text: string;
      // undici's bodyTimeout bounds the gap between two chunks, not the body: a
      // response that trickles a byte now and then would never time out. The
      // attempt as a whole, headers and body, gets timeoutMs.
      const deadline = AbortSignal.timeout(timeoutMs);
      let headersIn = false;
      try {
        const res = await undiciRequest(url, {
          method,
          headers: { ...headers, ...lowerCaseKeys(authHeaders) },
          body,
          signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
          dispatcher: agent,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        headersIn = true;
        status = res.statusCode;
        resHeaders = res.headers;
        // Read every body, errors included: it frees the socket for reuse and feeds the excerpt.
        text = await res.body.text();
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        if (deadline.aborted) {
          // Named as undici would have: the same limit ran out, whichever timer saw it first.
          const networkCode = headersIn ? 'body not complete in time' : 'UND_ERR_HEADERS_TIMEOUT';
          return { kind: 'retry', reason: 'timeout', error: new UpstreamTimeoutError({ ...ctx(n, error), networkCode, timeoutMs }) };
        }
        return transportOutcome(error, n);
      }
      const ms = performance.now() - started;
      hooks.onResponse?.(status, ms);
      log.debug({ source: name, method, path, status, ms: Math.round(ms), attempt: n }, 'upstream response');

      if (status >= 200 && status < 300) {
        const parsed = parseJson(text);
        // T is the caller's claim about the shape; connectors check what they use.
        if (parsed.ok) return { kind: 'ok', response: { status, headers: resHeaders, body: parsed.value as T } };
        const error = new UpstreamInvalidJsonError({ ...ctx(n, parsed.error), status, body: scrub(text) });
        return { kind: 'retry', reason: 'invalid_json', error, status };
      }
      const httpError = new UpstreamHttpError({ ...ctx(n), status, body: scrub(text) });
      if (!RETRY_STATUSES.has(status)) return { kind: 'fail', error: httpError };
      const classify = req.classifyRateLimit ?? options.classifyRateLimit;
      if (status === 429 && classify) {
        const parsed = parseJson(text);
        const decision = classify(status, resHeaders, parsed.ok ? parsed.value : text);
        if (decision !== 'retry') {
          const { retryAt, reason } = decision;
          return { kind: 'fail', error: new RateLimitParkedError({ ...ctx(n, httpError), status, retryAt, reason }) };
        }
      }
      const retryAfterMs = parseRetryAfter(resHeaders['retry-after']);
      return { kind: 'retry', reason: `http_${status}`, error: httpError, status, retryAfterMs };
    }

    function transportOutcome(error: unknown, n: number): Outcome<T> {
      const code = errorCode(error);
      if (code && TIMEOUT_CODES.has(code)) {
        return { kind: 'retry', reason: 'timeout', error: new UpstreamTimeoutError({ ...ctx(n, error), networkCode: code, timeoutMs }) };
      }
      const detail = error instanceof Error ? error.message : String(error);
      const unavailable = new UpstreamUnavailableError({
        ...ctx(n, error),
        networkCode: code,
        detail: code && !detail.includes(code) ? `${code} ${detail}` : detail,
      });
      if (code && RETRY_NETWORK_CODES.has(code)) return { kind: 'retry', reason: 'network', error: unavailable };
      return { kind: 'fail', error: unavailable };
    }

    let invalidJsonRetries = 0;
    let refreshed = false;
    for (let n = 1; ; n++) {
      if (signal?.aborted) throw abortReason(signal);
      let outcome: Outcome<T>;
      try {
        // Asked for outside the queue: a token refresh does not hold a request slot.
        const authHeaders = auth ? await auth.headers(signal) : {};
        outcome = await runInQueue(queue, () => attempt(n, authHeaders), signal);
        if (auth && !refreshed && outcome.kind === 'fail' && outcome.error instanceof UpstreamHttpError && outcome.error.status === 401) {
          // Once per request: a second 401 with fresh credentials is a real refusal.
          refreshed = true;
          if (await auth.refused(authHeaders, signal)) {
            log.warn({ source: name, method, path, status: 401 }, 'upstream refused the credentials: refreshed them, trying again');
            n--;
            continue;
          }
        }
      } catch (error) {
        // p-queue rejects with the signal's reason; normalise so callers see one shape.
        if (signal?.aborted) throw abortReason(signal);
        throw error;
      }
      if (outcome.kind === 'ok') return outcome.response;
      if (outcome.kind === 'fail') throw outcome.error;

      const { retryAfterMs, status } = outcome;
      if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs && status !== undefined) {
        // Sleeping this long would hold the task (and its lease) hostage: hand it back with a time.
        const retryAt = Date.now() + retryAfterMs;
        const reason = `Retry-After ${Math.ceil(retryAfterMs / 1000)} s on ${status}`;
        log.warn({ source: name, method, path, status, retryAt: new Date(retryAt).toISOString() }, 'upstream asks for a long wait: parking');
        throw new RateLimitParkedError({ ...ctx(n, outcome.error), status, retryAt, reason });
      }
      if (outcome.reason === 'invalid_json' && ++invalidJsonRetries > maxInvalidJsonRetries) throw outcome.error;
      if (n > maxRetries) throw outcome.error;

      const delayMs = retryAfterMs ?? backoffDelay(n, baseDelayMs, maxDelayMs, random);
      hooks.onRetry?.(n, outcome.reason, delayMs);
      log.warn({ source: name, method, path, attempt: n, reason: outcome.reason, delayMs, err: outcome.error.message }, 'upstream request failed: retrying');
      await sleep(delayMs, signal);
    }
  }

  function resolveUrl(path: string): string {
    if (/^https?:\/\//i.test(path)) {
      // Default headers carry credentials: only ever send them to the configured origin.
      const target = new URL(path);
      if (target.origin !== base.origin) throw new TypeError(`${name}: refusing a request to ${target.origin}, outside ${base.origin}`);
      // No fragment: it is never sent, and the query appended after it would not be either.
      target.hash = '';
      return target.href;
    }
    return base.href.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
  }

  return {
    name,
    request,
    close() {
      closing ??= agent.close();
      return closing;
    },
  };
}

/** The path as errors and logs show it: no query string, which may carry keys. */
function displayPath(path: string): string {
  const bare = /^https?:\/\//i.test(path) ? new URL(path).pathname : path;
  return bare.split('?')[0] ?? bare;
}

function withQuery(url: string, query: Record<string, QueryValue> | undefined): string {
  if (!query) return url;
  // encodeURIComponent, not URLSearchParams: a space becomes %20, never '+', which not every API decodes.
  const pairs = Object.entries(query)
    .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  if (pairs.length === 0) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${pairs.join('&')}`;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: unknown } {
  if (text.trim() === '') return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The error's `code`; a failed multi-address connect is an AggregateError whose parts carry it. */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}
