import type { ColumnDefinitionBuilder, Kysely } from 'kysely';

/** The engines this migration knows. It names its own column types for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

const TYPES = {
  sqlite: { autoId: 'integer', bigint: 'integer', double: 'real', json: 'text' },
  postgres: { autoId: 'bigint', bigint: 'bigint', double: 'double precision', json: 'json' },
} as const;

/** An auto-numbered primary key. */
const autoId = (engine: Engine) => (c: ColumnDefinitionBuilder) =>
  engine === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity();

/** The unified record table, its per-filter counters and the webhook inbox. */
export function recordsMigration(engine: Engine) {
  const t = TYPES[engine];
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('records')
        .addColumn('row_id', t.autoId, autoId(engine))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('sender_id', t.bigint)
        .addColumn('name', 'text')
        .addColumn('email', 'text')
        .addColumn('status', 'text')
        .addColumn('budget', t.double)
        .addColumn('details', t.json)
        .addColumn('attributes', t.json, (c) => c.notNull())
        .addColumn('content_hash', 'text', (c) => c.notNull())
        .addColumn('source_updated_at', t.bigint)
        .addColumn('created_at', t.bigint, (c) => c.notNull())
        .addColumn('updated_at', t.bigint, (c) => c.notNull())
        .addColumn('deleted_at', t.bigint)
        .addUniqueConstraint('records_type_external_id_key', ['type', 'external_id'])
        .execute();
      // Each index serves one ordering of GET /data: row order (plain paging),
      // change order (updated_since), each optionally narrowed by type or source.
      await db.schema.createIndex('records_type_row_idx').on('records').columns(['type', 'row_id']).execute();
      await db.schema.createIndex('records_source_row_idx').on('records').columns(['source', 'row_id']).execute();
      await db.schema.createIndex('records_updated_idx').on('records').columns(['updated_at', 'row_id']).execute();
      await db.schema.createIndex('records_type_updated_idx').on('records').columns(['type', 'updated_at', 'row_id']).execute();

      // Exact totals without counting rows: kept in the same transaction as every write.
      await db.schema
        .createTable('record_counts')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull())
        .addColumn('n', t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('record_counts_pkey', ['type', 'source', 'deleted'])
        .execute();

      await db.schema
        .createTable('webhook_inbox')
        .addColumn('id', t.autoId, autoId(engine))
        .addColumn('received_at', t.bigint, (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.unique())
        .addColumn('headers', t.json, (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('response_status', 'integer')
        .addColumn('response', t.json)
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('webhook_inbox_status_idx').on('webhook_inbox').columns(['status', 'id']).execute();
    },
  };
}
