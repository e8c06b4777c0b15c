import {
  CompiledQuery,
  PostgresDialect,
  PostgresDriver,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
  type SqliteDialectConfig,
  type TransactionSettings,
} from 'kysely';

/**
 * Kysely's SQLite and PostgreSQL dialects with every transaction opened by
 * one statement of ours (Dialect.beginTransaction: the write lock, and on
 * PostgreSQL read committed) instead of a plain BEGIN. Kysely takes a
 * Dialect whose driver it asks to begin each transaction; these are those
 * drivers, with everything else left to Kysely's own.
 */

async function beginWith(begin: CompiledQuery, connection: DatabaseConnection, settings: TransactionSettings | undefined): Promise<void> {
  if (settings?.isolationLevel || settings?.accessMode) throw new Error('transactions here take no isolation level or access mode');
  try {
    await connection.executeQuery(begin);
  } catch (err) {
    // BEGIN may have succeeded before the lock failed (a lock_timeout, a
    // cancel): Kysely rolls back only after beginTransaction returns, so
    // without this the connection would go back to the pool inside an
    // aborted transaction and fail every query after it.
    await connection.executeQuery(CompiledQuery.raw('rollback')).catch(() => {});
    throw err;
  }
}

class LockingSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly begin: CompiledQuery,
  ) {
    super(config);
  }

  // SqliteDriver declares no settings parameter, though Kysely passes them.
  override beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    return beginWith(this.begin, connection, settings);
  }
}

/** SQLite, every transaction opened by `begin`. */
export class LockingSqliteDialect extends SqliteDialect {
  private readonly begin: CompiledQuery;

  constructor(
    private readonly config: SqliteDialectConfig,
    begin: string,
  ) {
    super(config);
    this.begin = CompiledQuery.raw(begin);
  }

  override createDriver(): Driver {
    return new LockingSqliteDriver(this.config, this.begin);
  }
}

class LockingPostgresDriver extends PostgresDriver {
  constructor(
    config: PostgresDialectConfig,
    private readonly begin: CompiledQuery,
  ) {
    super(config);
  }

  override beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return beginWith(this.begin, connection, settings);
  }
}

/** PostgreSQL, every transaction opened by `begin`. */
export class LockingPostgresDialect extends PostgresDialect {
  private readonly begin: CompiledQuery;

  constructor(
    private readonly config: PostgresDialectConfig,
    begin: string,
  ) {
    super(config);
    this.begin = CompiledQuery.raw(begin);
  }

  override createDriver(): Driver {
    return new LockingPostgresDriver(this.config, this.begin);
  }
}
