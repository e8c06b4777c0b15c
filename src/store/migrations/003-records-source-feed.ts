import type { Kysely } from 'kysely';

/**
 * The change feed narrowed by source (`GET /data?source=crm&updated_since=…`,
 * what a client following one integration polls) had no index of its own:
 * the planner read every record of that source and sorted them on each page,
 * so a page cost grew with the source's size. With (source, updated_at,
 * row_id) a page is one index range again, like the other orderings.
 */
export function recordsSourceFeedMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('records_source_updated_idx').on('records').columns(['source', 'updated_at', 'row_id']).execute();
    },
  };
}
