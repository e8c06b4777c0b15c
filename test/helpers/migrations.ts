import { sql, type Kysely } from 'kysely';

/**
 * What each later migration changed in the schema, undone, newest first, so
 * that a rewound store can run it again. Data-only migrations
 * (008-mailchimp-member-keys) need nothing here.
 */
const UNDO: Record<string, <DB>(db: Kysely<DB>) => Promise<void>> = {
  '009-console-stats': async (db) => {
    for (const table of ['inbox_counts', 'delivery_minutes', 'write_minutes']) await sql`drop table if exists ${sql.table(table)}`.execute(db);
    for (const index of ['tasks_source_created_idx', 'tasks_finished_idx']) await sql`drop index if exists ${sql.ref(index)}`.execute(db);
    for (const column of ['earlier_runs', 'earlier_pages', 'earlier_fetched', 'earlier_written']) {
      await sql`alter table tasks drop column ${sql.ref(column)}`.execute(db);
    }
  },
  '010-record-search': async (db) => {
    for (const field of ['external_id', 'email', 'name']) await sql`drop index if exists ${sql.id(`records_search_${field}_idx`)}`.execute(db);
  },
  '011-walk-seen': async (db) => {
    await sql`drop table if exists walk_seen`.execute(db);
  },
};

/**
 * Makes a store look as if it had been migrated only up to `last`: undoes the
 * schema of the later migrations listed in UNDO and forgets every later one
 * in kysely_migration, so the next open runs them again. Kysely refuses a
 * store whose run migrations are not a prefix of the list, so a test that
 * forgets one must forget all that came after it too. Undoing what `last`
 * and the ones before it did is the caller's part.
 */
export async function rewindMigrationsTo<DB>(db: Kysely<DB>, last: string): Promise<void> {
  for (const name of Object.keys(UNDO).sort().reverse()) if (name > last) await UNDO[name]!(db);
  await sql`delete from kysely_migration where name > ${last}`.execute(db);
}
