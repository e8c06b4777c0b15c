import { sql, type Kysely } from 'kysely';

/** The engines this migration knows. It names its own column types for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

/** Every JSON column: written as text by the service, read back whole, never queried inside. */
export const JSON_COLUMNS = [
  ['records', 'details'],
  ['records', 'attributes'],
  ['webhook_inbox', 'headers'],
  ['webhook_inbox', 'response'],
  ['sync_state', 'checkpoint'],
] as const;

/**
 * PostgreSQL keeps the JSON columns as `json` (validated text) instead of
 * `jsonb`. No query looks inside them, so jsonb's binary form only cost
 * time: converting a 1.3 KB campaign record to jsonb made a 1,000-row
 * upsert take 63 ms in the server against 37 ms as json (BENCHMARKS.md). And
 * json keeps the text as written, so the API gives the same attributes, in
 * the same key order, on both engines. Databases created since this change
 * get `json` from 001 already; this converts older ones. SQLite has TEXT.
 */
export function jsonColumnsMigration(engine: Engine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (engine === 'sqlite') return;
      for (const [table, column] of JSON_COLUMNS) {
        await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type json using ${sql.ref(column)}::json`.execute(db);
      }
    },
  };
}
