import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely } from 'kysely';
import pg from 'pg';
import { ConfigError, type DatabaseConfig } from '../config/index.js';
import { postgresDialect, sqliteDialect, type Dialect } from './dialect.js';
import { LockingPostgresDialect, LockingSqliteDialect } from './kysely-dialects.js';
import { migrateToLatest } from './migrations/index.js';
import { sqliteAddonError } from './sqlite-addon.js';
import { CachedStatementDatabase } from './statement-cache.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import type { Database } from './schema.js';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  close(): Promise<void>;
}

// pg hands back BIGINT as a string to protect values past 2^53; ours (ms times,
// row ids, counters) stay far below that, so numbers are the honest type.
const PG_INT8_OID = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === PG_INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Prepared statements kept per SQL text (CachedStatementDatabase). */
const SQLITE_STATEMENT_CACHE = 200;

/** busy_timeout while starting (WAL switch, migrations), and how long a start waits for another process switching the same file to WAL. */
const SQLITE_BUSY_WAIT_MS = 5_000;
/** The main connection's own checkpoint threshold, a backstop for the checkpointing thread: 40 MB of 4 KB pages. */
const SQLITE_BACKSTOP_CHECKPOINT_PAGES = 10_000;

/**
 * Switches to WAL, waiting for another process doing the same. SQLite skips
 * the busy handler when two connections would deadlock (each holding a read
 * lock and wanting the write lock, as two first starts on one file do), so
 * busy_timeout alone lets one start fail with `database is locked`.
 */
async function switchToWal(sqlite: SqliteDatabase.Database): Promise<void> {
  const giveUpAt = Date.now() + SQLITE_BUSY_WAIT_MS;
  for (;;) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      const busy = err instanceof SqliteDatabase.SqliteError && err.code.startsWith('SQLITE_BUSY');
      if (!busy || Date.now() >= giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}

/** busy_timeout once started: a lock is waited for on timers (kysely-dialects.ts), so this only bounds one try. */
const SQLITE_BUSY_TRY_MS = 10;

/** STORE_LOCK_WAIT's default, for callers that give none. */
const DEFAULT_LOCK_WAIT_MS = 5_000;

function rollbackReporter(options: StoreOptions): (err: unknown) => void {
  return (err) => options.log?.warn({ err }, "a rollback failed after a failed transaction; the transaction's own error is the one reported");
}

async function openSqlite(file: string, options: StoreOptions): Promise<{ db: Kysely<Database>; sqlite: SqliteDatabase.Database }> {
  if (file !== ':memory:') {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
    } catch (err) {
      // A path under a regular file, or a folder that may not be made: the variable's fault, said in its one line.
      throw new ConfigError('DATABASE_URL', `names a SQLite file whose folder cannot be made (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  let sqlite: SqliteDatabase.Database;
  try {
    sqlite = new SqliteDatabase(file);
  } catch (err) {
    // The addon loads on first use: a build for another Node.js fails here, and is not the file's fault.
    throw (
      sqliteAddonError(err) ??
      new ConfigError('DATABASE_URL', `names a SQLite file that cannot be opened (${file}: ${err instanceof Error ? err.message : String(err)})`)
    );
  }
  // First: switching to WAL, and the migrations, may wait for another process starting on the same file.
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_WAIT_MS}`);
  // WAL lets readers run beside the writer; FULL makes an acknowledged commit
  // survive a power cut, not only a process crash.
  try {
    await switchToWal(sqlite);
  } catch (err) {
    sqlite.close();
    // The first statement reads the file: one that is not SQLite (a typo naming another file) fails here.
    if (err instanceof SqliteDatabase.SqliteError && err.code === 'SQLITE_NOTADB') {
      throw new ConfigError('DATABASE_URL', `names a file that is not a SQLite database (${file})`);
    }
    throw err;
  }
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  const database = new CachedStatementDatabase(sqlite, SQLITE_STATEMENT_CACHE);
  const dialect = new LockingSqliteDialect(
    { database },
    {
      begin: sqliteDialect.beginTransaction(0),
      inTransaction: () => sqlite.inTransaction,
      lockWaitMs: options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
      onRollbackError: rollbackReporter(options),
    },
  );
  return { db: new Kysely<Database>({ dialect }), sqlite };
}

export interface StoreOptions {
  /** PostgreSQL: how long a connection (or a free one from the pool) may take before the query fails. */
  connectTimeoutMs?: number;
  /** PostgreSQL: how long a session may sit idle inside a transaction before the server ends it. */
  idleInTransactionTimeoutMs?: number;
  /** STORE_LOCK_WAIT: how long a write waits for another connection's lock before failing as transient (ms). */
  lockWaitMs?: number;
  /** Where the store reports trouble that does not stop it (the checkpointing thread failing, a failed rollback). */
  log?: { warn(obj: object, msg: string): void };
  /**
   * SQLite: false leaves the WAL to SQLite's own checkpoint at commit time
   * (every 1,000 pages) instead of starting the checkpointing thread; for
   * short-lived handles such as tests that only open and close a store.
   */
  checkpointThread?: boolean;
}

/**
 * A process that froze inside a write transaction (stopped, paused, its
 * event loop stuck) would hold the write lock, and stall every instance on
 * the database, for as long as it stays frozen. Our transactions never wait
 * on anything but their own statements, so a minute idle is far past normal.
 */
const PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

/** Without a bound, a server that accepts TCP but never answers (a dead host behind a proxy) hangs the start, or the writer, for good. */
const PG_CONNECT_TIMEOUT_MS = 10_000;

/** Server answers that mean DATABASE_URL itself is wrong, not that the server is away. */
const PG_CONFIG_ERRORS = new Map([
  ['3D000', 'names a database that does not exist'],
  ['28P01', 'has a user or password the server refuses'],
  ['28000', 'names a user the server does not let in'],
]);

/** A ConfigError naming DATABASE_URL for such an answer (found on err or its causes), else null. */
function postgresConfigError(err: unknown): ConfigError | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const what = typeof code === 'string' ? PG_CONFIG_ERRORS.get(code) : undefined;
    if (what) return new ConfigError('DATABASE_URL', `${what} (${e.message})`);
  }
  return null;
}

function openPostgres(url: string, options: StoreOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: pgTypes,
    connectionTimeoutMillis: options.connectTimeoutMs ?? PG_CONNECT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    // TCP keepalive from 10 s of silence, so a connection to a host that
    // vanished is found dead by the kernel's probes (about 11 minutes with
    // Linux's defaults) rather than after its default two hours idle.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // A client that loses its connection must not crash the process: idle in
  // the pool (the pool's event), or checked out between two statements (the
  // client's own event, which has no listener then), as when the server ends
  // a session idle in a transaction or restarts. Its next query fails instead.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const dialect = new LockingPostgresDialect(
    { pool },
    { begin: postgresDialect.beginTransaction(options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS), onRollbackError: rollbackReporter(options) },
  );
  return new Kysely<Database>({ dialect });
}

/** Opens the store named by the configuration and brings its schema up to date. */
export async function openStore(config: DatabaseConfig, options: StoreOptions = {}): Promise<Store> {
  const dialect = config.kind === 'sqlite' ? sqliteDialect : postgresDialect;
  let db: Kysely<Database>;
  let sqlite: SqliteDatabase.Database | undefined;
  if (config.kind === 'sqlite') ({ db, sqlite } = await openSqlite(config.path, options));
  else db = openPostgres(config.url, options);
  try {
    // Kysely migrates SQLite without a lock or a transaction (PostgreSQL gets
    // both): BEGIN IMMEDIATE on the one connection it uses makes processes
    // starting together on one file migrate in turn, and a failure all-or-nothing.
    sqlite?.exec('begin immediate');
    await migrateToLatest(db, dialect.name);
    sqlite?.exec('commit');
  } catch (err) {
    if (sqlite?.inTransaction) sqlite.exec('rollback');
    await db.destroy();
    throw config.kind === 'postgres' ? (postgresConfigError(err) ?? err) : err;
  }
  // Started: from now on a lock is waited for on timers, not inside SQLite with the event loop stopped.
  sqlite?.pragma(`busy_timeout = ${SQLITE_BUSY_TRY_MS}`);
  let checkpointer: WalCheckpointer | null = null;
  if (sqlite && config.kind === 'sqlite' && config.path !== ':memory:' && options.checkpointThread !== false) {
    checkpointer = new WalCheckpointer(config.path, (err) =>
      options.log?.warn(
        { err },
        `the WAL checkpointing thread failed; the commit that crosses ${SQLITE_BACKSTOP_CHECKPOINT_PAGES} pages of WAL checkpoints instead`,
      ),
    );
    // SQLite's default is 1,000 pages.
    sqlite.pragma(`wal_autocheckpoint = ${SQLITE_BACKSTOP_CHECKPOINT_PAGES}`);
  }
  let closed = false;
  return {
    db,
    dialect,
    close: async () => {
      if (closed) return;
      closed = true;
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}
