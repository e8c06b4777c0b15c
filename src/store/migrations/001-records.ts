import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/** The unified record table, its per-filter counters and the webhook inbox. */
export function recordsMigration(d: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('records')
        .addColumn('row_id', d.autoIdType, (c) => d.autoIdColumn(c))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('sender_id', d.bigintType)
        .addColumn('name', 'text')
        .addColumn('email', 'text')
        .addColumn('status', 'text')
        .addColumn('budget', d.doubleType)
        .addColumn('details', d.jsonType)
        .addColumn('attributes', d.jsonType, (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('source_updated_at', d.bigintType)
        .addColumn('created_at', d.bigintType, (c) => c.notNull())
        .addColumn('updated_at', d.bigintType, (c) => c.notNull())
        .addColumn('deleted_at', d.bigintType)
        .addUniqueConstraint('records_type_external_id_key', ['type', 'external_id'])
        .execute();
      // Each index serves one ordering of GET /data: row order (plain paging),
      // change order (updated_since), each optionally narrowed by type or source.
      await db.schema.createIndex('records_type_row_idx').on('records').columns(['type', 'row_id']).execute();
      await db.schema.createIndex('records_source_row_idx').on('records').columns(['source', 'row_id']).execute();
      await db.schema.createIndex('records_updated_idx').on('records').columns(['updated_at', 'row_id']).execute();
      await db.schema
        .createIndex('records_type_updated_idx')
        .on('records')
        .columns(['type', 'updated_at', 'row_id'])
        .execute();

      // Exact totals without counting rows: kept in the same transaction as every write.
      await db.schema
        .createTable('record_counts')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull())
        .addColumn('n', d.bigintType, (c) => c.notNull())
        .addPrimaryKeyConstraint('record_counts_pkey', ['type', 'source', 'deleted'])
        .execute();

      await db.schema
        .createTable('webhook_inbox')
        .addColumn('id', d.autoIdType, (c) => d.autoIdColumn(c))
        .addColumn('received_at', d.bigintType, (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.unique())
        .addColumn('headers', d.jsonType, (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response', d.jsonType)
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('webhook_inbox_status_idx').on('webhook_inbox').columns(['status', 'id']).execute();
    },
  };
}
