import { sql, type Kysely } from 'kysely';

/**
 * The same table on both engines. The ids a walk of every record of a source (or of one part of it) has
 * listed so far, kept until its last page, when the stored records it did
 * not list are checked for deletion. `walk` names the walk within its source
 * (record type and id prefix). Rows come a page at a time and go when the walk
 * starts again or is swept.
 * The index serves the sweep's lookups, a record at a time: it reads the
 * records in row id ranges, so that no one query holds the store long.
 */
export function walkSeenMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('walk_seen')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('walk', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text', (c) => c.notNull())
        .execute();
      await sql`create index walk_seen_key_idx on walk_seen (source, walk, external_id)`.execute(db);
    },
  };
}
