import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { postgresDialect } from '../../src/store/dialect.js';
import type { ScratchDatabase } from '../helpers/databases.js';

/** Another connection holding the store's write lock, as a second process would, until `release`. */
export interface LockHolder {
  release(): Promise<void>;
}

/** Takes the write lock from outside the app: BEGIN IMMEDIATE on the SQLite file, or the writers' advisory lock on PostgreSQL. */
export async function holdWriteLock(db: ScratchDatabase): Promise<LockHolder> {
  if (db.config.kind === 'sqlite') {
    const other = new SqliteDatabase(db.config.path);
    other.exec('begin immediate');
    return {
      release: async () => {
        other.exec('rollback');
        other.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: db.config.url });
  await client.connect();
  await client.query(postgresDialect.beginTransaction(60_000));
  return {
    release: async () => {
      await client.query('rollback');
      await client.end();
    },
  };
}
