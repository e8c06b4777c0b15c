import { sql, type Kysely } from 'kysely';

/** The engines this migration knows. It names its own SQL for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

const FIELDS = ['external_id', 'email', 'name'] as const;

/**
 * Search by `email=` (exact) and `q=` (prefix of external_id, email or
 * name), case-insensitive: one index per field on (type, lowercased value).
 * Type leads so a typed search reads only its own type's entries, and a
 * search over both types is two ranges (type IN (...)), not a filter over
 * the other type's matches. A prefix is asked as a range on the lowercased
 * value, so the value must sort bytewise: on PostgreSQL the expression is
 * COLLATE "C" (under another collation a range is not a prefix); SQLite
 * compares text bytewise already, and keeps the rowid in every index.
 */
export function recordSearchMigration(engine: Engine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const field of FIELDS) {
        const key = engine === 'postgres' ? sql`(lower(${sql.ref(field)}) collate "C")` : sql`lower(${sql.ref(field)})`;
        await sql`create index ${sql.id(`records_search_${field}_idx`)} on records (type, ${key})`.execute(db);
      }
    },
  };
}
