import { sql, type Kysely } from 'kysely';

/** The engines this migration knows. It names its own SQL for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

/**
 * The ids a walk of every record of a source (or of one part of it) has
 * listed so far, kept until its last page, when the stored records it did
 * not list are checked for deletion. `walk` names the walk within its source
 * (record type and id prefix). Rows come a page at a time and go when the walk
 * starts again or is swept.
 * SQLite gets no index: a page's rows are appended (no random index
 * inserts on the sync's path), and the one read, the sweep, reads the
 * walk's ids once into a temporary index. PostgreSQL's
 * planner has no statistics for a table filled within minutes and could pick
 * a nested scan of it per record: the index keeps any plan a lookup.
 */
export function walkSeenMigration(engine: Engine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('walk_seen')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('walk', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text', (c) => c.notNull())
        .execute();
      if (engine === 'postgres') await sql`create index walk_seen_key_idx on walk_seen (source, walk, external_id)`.execute(db);
    },
  };
}
