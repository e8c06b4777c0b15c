/**
 * Errors the source HTTP client throws. Each names the source, the method and
 * the path (never the query string or headers, which may carry credentials)
 * and how many attempts were made, so a task's error reads on its own.
 * `code` is stable, for the task runner and for metrics labels.
 */

export type UpstreamErrorCode = 'UPSTREAM_HTTP' | 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT' | 'UPSTREAM_INVALID_JSON' | 'UPSTREAM_RATE_LIMIT_PARKED';

export interface UpstreamErrorContext {
  /** The client's name, the source name. */
  source: string;
  method: string;
  /** The request path without its query string. */
  path: string;
  /** Requests made for this call, the failing one included. */
  attempts: number;
  cause?: unknown;
}

const EXCERPT_CHARS = 300;

/** A short, one-line excerpt of a response body for error messages and logs. */
export function bodyExcerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}

function attemptsText(n: number): string {
  return n === 1 ? '1 attempt' : `${n} attempts`;
}

export abstract class UpstreamError extends Error {
  abstract readonly code: UpstreamErrorCode;
  readonly source: string;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;

  protected constructor(message: string, ctx: UpstreamErrorContext) {
    super(`${ctx.source}: ${ctx.method} ${ctx.path} ${message} (${attemptsText(ctx.attempts)})`, { cause: ctx.cause });
    this.name = new.target.name;
    this.source = ctx.source;
    this.method = ctx.method;
    this.path = ctx.path;
    this.attempts = ctx.attempts;
  }
}

/** Upstream answered with a status that is not 2xx: a 4xx at once, a 429 or 5xx after the last retry. */
export class UpstreamHttpError extends UpstreamError {
  readonly code = 'UPSTREAM_HTTP';
  readonly status: number;
  readonly bodyExcerpt: string;

  constructor(ctx: UpstreamErrorContext & { status: number; body: string }) {
    const excerpt = bodyExcerpt(ctx.body);
    super(`answered ${ctx.status}${excerpt ? `: ${excerpt}` : ''}`, ctx);
    this.status = ctx.status;
    this.bodyExcerpt = excerpt;
  }
}

/** The request never got an answer: refused, reset, DNS failure. */
export class UpstreamUnavailableError extends UpstreamError {
  readonly code: UpstreamErrorCode = 'UPSTREAM_UNAVAILABLE';
  /** The underlying error's code (ECONNREFUSED, UND_ERR_SOCKET, …), when it has one. */
  readonly networkCode: string | undefined;

  constructor(ctx: UpstreamErrorContext & { networkCode?: string | undefined; detail?: string }) {
    super(`failed: ${ctx.detail ?? ctx.networkCode ?? 'network error'}`, ctx);
    this.networkCode = ctx.networkCode;
  }
}

/**
 * No headers (or no next body chunk) within the timeout. A kind of
 * unavailability, so code that handles "upstream is down" handles this too.
 */
export class UpstreamTimeoutError extends UpstreamUnavailableError {
  override readonly code = 'UPSTREAM_TIMEOUT';
  readonly timeoutMs: number;

  constructor(ctx: UpstreamErrorContext & { networkCode?: string | undefined; timeoutMs: number }) {
    super({ ...ctx, detail: `timed out after ${ctx.timeoutMs} ms (${ctx.networkCode ?? 'timeout'})` });
    this.timeoutMs = ctx.timeoutMs;
  }
}

/** A 2xx whose body is not JSON: a truncated page, a proxy's HTML. */
export class UpstreamInvalidJsonError extends UpstreamError {
  readonly code = 'UPSTREAM_INVALID_JSON';
  readonly status: number;
  readonly bodyExcerpt: string;

  constructor(ctx: UpstreamErrorContext & { status: number; body: string }) {
    const excerpt = bodyExcerpt(ctx.body);
    super(`answered ${ctx.status} with a body that is not JSON: ${excerpt || '(empty)'}`, ctx);
    this.status = ctx.status;
    this.bodyExcerpt = excerpt;
  }
}

/**
 * Upstream wants us to wait longer than is worth sleeping (a daily quota, a
 * long Retry-After): the caller should stop and run again at `retryAt`.
 */
export class RateLimitParkedError extends UpstreamError {
  readonly code = 'UPSTREAM_RATE_LIMIT_PARKED';
  readonly status: number;
  /** Epoch milliseconds after which the call may be tried again. */
  readonly retryAt: number;
  readonly reason: string;

  constructor(ctx: UpstreamErrorContext & { status: number; retryAt: number; reason: string }) {
    super(`is rate limited until ${new Date(ctx.retryAt).toISOString()}: ${ctx.reason}`, ctx);
    this.status = ctx.status;
    this.retryAt = ctx.retryAt;
    this.reason = ctx.reason;
  }
}
