import { sql, type Kysely, type RawBuilder } from 'kysely';
import { postgresInboxStatements, sqliteInboxStatements, type InboxStatements } from './inbox-statements.js';
import { postgresRecordStatements, sqliteRecordStatements, type RecordStatements } from './record-statements.js';
import type { Database } from './schema.js';

/**
 * Every difference between SQLite and PostgreSQL that shared code needs,
 * named once here. Nothing else in the code asks which engine it runs on.
 */
export interface Dialect {
  /** Also what the migrations are given: they state their own column types for each engine. */
  readonly name: 'sqlite' | 'postgres';
  /**
   * The statement that opens every transaction (all of them write), sent by
   * the drivers of kysely-dialects.ts. It serializes writers across every
   * process sharing the database, held to the end of the transaction. Row
   * ids and change times are taken under it, so they grow in commit order
   * and a change-feed reader never skips a row that commits late. On
   * PostgreSQL the lock goes in the same message as BEGIN: one network round
   * trip fewer for every write. `lockWaitMs` (STORE_LOCK_WAIT) bounds the
   * wait for the lock where the engine can (PostgreSQL's lock_timeout);
   * SQLite's driver waits on timers instead.
   */
  beginTransaction(lockWaitMs: number): string;
  /** Reads a JSON column: SQLite gives text, pg gives the parsed value. */
  decodeJson(value: unknown): unknown;
  /** `FOR UPDATE SKIP LOCKED` is available for claiming queue rows. */
  readonly supportsSkipLocked: boolean;
  /** Cheap round trip used by /readyz. */
  ping(db: Kysely<Database>): Promise<void>;
  /** The bulk statements of the record write path, in this engine's SQL. */
  readonly recordStatements: RecordStatements;
  /** The inbox statements of the webhook hot path, in this engine's SQL. */
  readonly inboxStatements: InboxStatements;
  /**
   * A searchable column lowercased, written exactly as its index (migration
   * 010) names it so the planner can use that index; it sorts bytewise.
   */
  searchKey(column: SearchColumn): RawBuilder<string>;
}

export type SearchColumn = 'external_id' | 'email' | 'name';

function decodeJson(value: unknown): unknown {
  if (typeof value === 'string') return JSON.parse(value);
  return value;
}

export const sqliteDialect: Dialect = {
  name: 'sqlite',
  // Every transaction here writes, and reads the change clock first: taking the write lock
  // up front (as PostgreSQL's advisory lock does) makes another process's writer wait
  // (busy_timeout) instead of failing with SQLITE_BUSY_SNAPSHOT when it commits between the
  // read and the first write. Within one process the one connection serializes them anyway.
  beginTransaction: () => 'begin immediate',
  decodeJson,
  supportsSkipLocked: false,
  recordStatements: sqliteRecordStatements,
  inboxStatements: sqliteInboxStatements,
  searchKey: (column) => sql<string>`lower(${sql.ref(column)})`,
  ping: async (db) => {
    await sql`select 1`.execute(db);
  },
};

/** Arbitrary, fixed key of the advisory lock that orders record writes. */
const WRITE_LOCK_KEY = 7_305_146_001;

export const postgresDialect: Dialect = {
  name: 'postgres',
  // A message without parameters goes by the simple protocol, which takes several statements.
  // Read committed whatever the server's default: under repeatable read the snapshot would be
  // taken by the lock's statement before the lock is granted, and the change clock read next
  // could miss a commit made meanwhile (and concurrent updates of one row would fail).
  // lock_timeout for this transaction only: past it the lock (or a row lock after it) fails with
  // 55P03, a transient error (503). 0 would mean no bound, hence at least 1 ms.
  beginTransaction: (lockWaitMs) =>
    `begin isolation level read committed; set local lock_timeout = ${Math.max(1, Math.round(lockWaitMs))}; select pg_advisory_xact_lock(${WRITE_LOCK_KEY})`,
  decodeJson,
  supportsSkipLocked: true,
  recordStatements: postgresRecordStatements,
  inboxStatements: postgresInboxStatements,
  searchKey: (column) => sql<string>`(lower(${sql.ref(column)}) collate "C")`,
  ping: async (db) => {
    await sql`select 1`.execute(db);
  },
};
