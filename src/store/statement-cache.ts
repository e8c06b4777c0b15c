import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * The database handed to Kysely's SQLite dialect: better-sqlite3's, with
 * prepared statements reused by their text. Kysely's SQLite driver prepares
 * every query anew, and preparing a 1,000-row insert costs about as much as
 * running it. Safe because the driver runs one query at a time on its one
 * connection and never holds a statement open (no streaming here).
 */
export class CachedStatementDatabase implements SqliteDatabase {
  private readonly cache = new Map<string, BetterSqlite3.Statement>();

  /** `size`: statements kept; the least recently used goes first. */
  constructor(
    private readonly sqlite: BetterSqlite3.Database,
    private readonly size: number,
  ) {}

  prepare(source: string): BetterSqlite3.Statement {
    let stmt = this.cache.get(source);
    if (stmt) {
      this.cache.delete(source);
    } else {
      stmt = this.sqlite.prepare(source);
      if (this.cache.size >= this.size) this.cache.delete(this.cache.keys().next().value as string);
    }
    // Re-inserted: a Map iterates in insertion order, so the first key is the least recently used.
    this.cache.set(source, stmt);
    return stmt;
  }

  close(): void {
    this.cache.clear();
    this.sqlite.close();
  }
}
