import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { isTransientStoreError } from './store-errors.js';

/**
 * Whether a failure came from the database (SQLite or PostgreSQL refusing a
 * statement, or the way to the server failing), found on err or its causes.
 * A request that fails for any other reason is a bug in the route, and must
 * not read as a store failure in tributary_store_errors_total.
 */
export function isStoreError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof SqliteDatabase.SqliteError || e instanceof pg.DatabaseError) return true;
  }
  return isTransientStoreError(err);
}
