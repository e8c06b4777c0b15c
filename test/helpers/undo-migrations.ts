import { sql, type Kysely } from 'kysely';

/**
 * Undoes 009-console-stats (and 010-record-search after it), for tests that rewind a store to an older
 * migration: Kysely refuses to run a migration older than one already run,
 * so the later ones must go first.
 */
export async function undoConsoleStats<DB>(db: Kysely<DB>): Promise<void> {
  // 010-record-search came after: it goes first (its indexes only).
  for (const field of ['external_id', 'email', 'name']) await sql`drop index if exists ${sql.ref(`records_search_${field}_idx`)}`.execute(db);
  await sql`delete from kysely_migration where name = '010-record-search'`.execute(db);
  for (const table of ['inbox_counts', 'delivery_minutes', 'write_minutes']) await sql`drop table if exists ${sql.table(table)}`.execute(db);
  for (const index of ['tasks_source_created_idx', 'tasks_finished_idx']) await sql`drop index if exists ${sql.ref(index)}`.execute(db);
  for (const column of ['earlier_runs', 'earlier_pages', 'earlier_fetched', 'earlier_written']) {
    await sql`alter table tasks drop column ${sql.ref(column)}`.execute(db);
  }
  await sql`delete from kysely_migration where name = '009-console-stats'`.execute(db);
}
