/**
 * Which store failures pass by themselves. A transient one (the store is
 * busy, full, read-only, restarting or unreachable) means "try again later":
 * the caller answers 503 with Retry-After and keeps nothing as a dead letter.
 * Anything else is an error the same request would hit again.
 */

// SQLite result codes (extended codes start with these): https://sqlite.org/rescode.html
const SQLITE_TRANSIENT = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL'];

// PostgreSQL SQLSTATE classes and codes: connection exception, insufficient resources,
// operator intervention (57P0x: admin shutdown, crash, cannot connect now, …), serialization
// failure, deadlock, and lock_not_available (a lock wait past lock_timeout, STORE_LOCK_WAIT).
const PG_TRANSIENT_CLASSES = ['08', '53'];
const PG_TRANSIENT_PREFIXES = ['57P0'];
const PG_TRANSIENT_CODES = new Set(['40001', '40P01', '55P03']);

// Socket-level failures on the way to the database server.
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

// node-postgres reports a lost or refused connection with messages, not codes.
const PG_CONNECTION_MESSAGES =
  /connection terminated|terminating connection|timeout exceeded when trying to connect|connection timeout|client has encountered a connection error|cannot use a pool after calling end|server closed the connection/i;

const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

export function isTransientStoreError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = codeOf(e);
    if (code !== undefined) {
      if (SQLITE_TRANSIENT.some((c) => code === c || code.startsWith(`${c}_`))) return true;
      if (
        /^[0-9A-Z]{5}$/.test(code) &&
        (PG_TRANSIENT_CLASSES.includes(code.slice(0, 2)) || PG_TRANSIENT_PREFIXES.some((p) => code.startsWith(p)) || PG_TRANSIENT_CODES.has(code))
      )
        return true;
      if (NETWORK_CODES.has(code)) return true;
    }
    if (e instanceof Error && PG_CONNECTION_MESSAGES.test(e.message)) return true;
  }
  return false;
}

/** A store failure that passes by itself: answered 503 with Retry-After. */
export class StoreUnavailable extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    override readonly cause: unknown,
  ) {
    super('the store is unavailable for a moment; nothing was stored, retry later');
    this.name = 'StoreUnavailable';
  }
}

/**
 * SQLite's write lock stayed taken by another connection for the whole
 * STORE_LOCK_WAIT: transient (its code is SQLite's own for a busy timeout).
 */
export class StoreLockWaitExceeded extends Error {
  readonly code = 'SQLITE_BUSY_TIMEOUT';

  constructor(
    readonly waitedMs: number,
    override readonly cause: unknown,
  ) {
    super(`the database stayed locked by another connection for ${waitedMs} ms (STORE_LOCK_WAIT); nothing was written`);
    this.name = 'StoreLockWaitExceeded';
  }
}
