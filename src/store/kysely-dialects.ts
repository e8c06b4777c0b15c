import {
  CompiledQuery,
  PostgresDialect,
  PostgresDriver,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
  type QueryResult,
  type SqliteDialectConfig,
  type TransactionSettings,
} from 'kysely';
import { StoreLockWaitExceeded } from './store-errors.js';

/**
 * Kysely's SQLite and PostgreSQL dialects with every transaction opened by
 * one statement of ours (Dialect.beginTransaction: the write lock, and on
 * PostgreSQL read committed) instead of a plain BEGIN. Kysely takes a
 * Dialect whose driver it asks to begin, roll back and hand out connections;
 * these are those drivers, with everything else left to Kysely's own.
 *
 * A failed rollback never replaces the error that made the transaction fail:
 * Kysely rethrows that error only if rollbackTransaction returns, so these
 * drivers report a rollback failure on the side (`onRollbackError`) instead.
 */

const ROLLBACK = CompiledQuery.raw('rollback');

/** Where a rollback that failed after a failed transaction is reported. */
export type RollbackErrorHandler = (err: unknown) => void;

function checkSettings(settings: TransactionSettings | undefined): void {
  if (settings?.isolationLevel || settings?.accessMode) throw new Error('transactions here take no isolation level or access mode');
}

export interface SqliteLocking {
  /** The statement that opens every transaction (BEGIN IMMEDIATE: the write lock). */
  begin: string;
  /**
   * better-sqlite3's own view of the connection: SQLite ends a transaction
   * by itself on some errors (SQLITE_FULL, SQLITE_IOERR, a busy COMMIT),
   * and a ROLLBACK then fails with "no transaction is active".
   */
  inTransaction(): boolean;
  /** STORE_LOCK_WAIT: how long a statement waits, on timers, for another connection's write lock. */
  lockWaitMs: number;
  onRollbackError: RollbackErrorHandler;
}

const isBusy = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** First and longest pause between two tries for the write lock (ms). */
const LOCK_RETRY_FIRST_MS = 2;
const LOCK_RETRY_MAX_MS = 100;

/**
 * The one SQLite connection, with a busy lock waited for on timers:
 * better-sqlite3 waits out busy_timeout synchronously, freezing the event
 * loop (health checks, reads, every other answer) for the whole wait. With
 * busy_timeout a few milliseconds, a statement outside a transaction (BEGIN
 * IMMEDIATE, an autocommit write) that finds the lock taken is tried again
 * with backoff until STORE_LOCK_WAIT, then fails as StoreLockWaitExceeded.
 * Inside a transaction nothing is retried: it holds the write lock already.
 */
class LockWaitingConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly locking: SqliteLocking,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const giveUpAt = Date.now() + this.locking.lockWaitMs;
    let pause = LOCK_RETRY_FIRST_MS;
    for (;;) {
      try {
        // Kysely's SQLite connection throws synchronously: awaited inside try, both ways are caught.
        return await this.inner.executeQuery<R>(query);
      } catch (err) {
        if (!isBusy(err) || this.locking.inTransaction()) throw err;
        const left = giveUpAt - Date.now();
        if (left <= 0) throw new StoreLockWaitExceeded(this.locking.lockWaitMs, err);
        await sleep(Math.min(left, pause * (0.5 + Math.random())));
        pause = Math.min(pause * 2, LOCK_RETRY_MAX_MS);
      }
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class LockingSqliteDriver extends SqliteDriver {
  private readonly begin: CompiledQuery;
  private connection: LockWaitingConnection | null = null;

  constructor(
    config: SqliteDialectConfig,
    private readonly locking: SqliteLocking,
  ) {
    super(config);
    this.begin = CompiledQuery.raw(locking.begin);
  }

  // SqliteDriver hands out its one connection behind a mutex, and its release takes no notice of which object comes back.
  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection();
    this.connection ??= new LockWaitingConnection(inner, this.locking);
    return this.connection;
  }

  // SqliteDriver declares no settings parameter, though Kysely passes them.
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    checkSettings(settings);
    // A transaction left open by a rollback that failed would refuse every BEGIN after it.
    if (this.locking.inTransaction()) await this.rollbackTransaction(connection);
    await connection.executeQuery(this.begin);
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite rolled back by itself: a second rollback would only fail and hide why.
    if (!this.locking.inTransaction()) return;
    try {
      await connection.executeQuery(ROLLBACK);
    } catch (err) {
      this.locking.onRollbackError(err);
    }
  }
}

/** SQLite, every transaction opened by `locking.begin`, lock waits on timers. */
export class LockingSqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly locking: SqliteLocking,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new LockingSqliteDriver(this.config, this.locking);
  }
}

export interface PostgresLocking {
  /** The statement(s) that open every transaction and take the write lock, lock_timeout set first. */
  begin: string;
  onRollbackError: RollbackErrorHandler;
}

class LockingPostgresDriver extends PostgresDriver {
  private readonly begin: CompiledQuery;

  constructor(
    config: PostgresDialectConfig,
    private readonly locking: PostgresLocking,
  ) {
    super(config);
    this.begin = CompiledQuery.raw(locking.begin);
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    checkSettings(settings);
    try {
      await connection.executeQuery(this.begin);
    } catch (err) {
      // BEGIN may have succeeded before the lock failed (lock_timeout, a
      // cancel): Kysely rolls back only after beginTransaction returns, so
      // without this the connection would go back to the pool inside an
      // aborted transaction and fail every query after it.
      await this.rollbackTransaction(connection);
      throw err;
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(ROLLBACK);
    } catch (err) {
      this.locking.onRollbackError(err);
    }
  }
}

/** PostgreSQL, every transaction opened by `locking.begin`. */
export class LockingPostgresDialect extends PostgresDialect {
  constructor(
    private readonly config: PostgresDialectConfig,
    private readonly locking: PostgresLocking,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new LockingPostgresDriver(this.config, this.locking);
  }
}
