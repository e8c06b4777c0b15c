import { sql, type Kysely } from 'kysely';

/** The engines this migration knows. It names its own column types for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

const TYPES = {
  sqlite: { bigint: 'integer' },
  postgres: { bigint: 'bigint' },
} as const;

const MINUTE_MS = 60_000;
/** Existing inbox rows and records of the last day seed the per-minute buckets. */
const SEED_WINDOW_MS = 24 * 3_600_000;

/**
 * Counters behind GET /stats and GET /events, kept in the transactions of
 * the writes they count, so reading them costs the same at any data size:
 * - `inbox_counts`: inbox rows by status (dead letters are `failed`);
 * - `delivery_minutes`: deliveries by the minute they were received and
 *   their status now;
 * - `write_minutes`: records written (created, changed or deleted) by
 *   minute and source.
 * The task columns `earlier_*` hold what the interrupted runs a task resumed
 * from had already done (GET /tasks progress.overall); the two task indexes
 * serve the last task of a source and the recently finished tasks.
 * Existing rows are counted once here, in the migration's transaction.
 */
export function consoleStatsMigration(engine: Engine) {
  const t = TYPES[engine];
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('inbox_counts')
        .addColumn('status', 'text', (c) => c.primaryKey())
        .addColumn('n', t.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('delivery_minutes')
        .addColumn('minute', t.bigint, (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('n', t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('delivery_minutes_pkey', ['minute', 'status'])
        .execute();
      await db.schema
        .createTable('write_minutes')
        .addColumn('minute', t.bigint, (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('n', t.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('write_minutes_pkey', ['minute', 'source'])
        .execute();
      for (const column of ['earlier_runs', 'earlier_pages', 'earlier_fetched', 'earlier_written']) {
        await db.schema
          .alterTable('tasks')
          .addColumn(column, t.bigint, (c) => c.notNull().defaultTo(0))
          .execute();
      }
      await db.schema.createIndex('tasks_source_created_idx').on('tasks').columns(['source', 'created_at']).execute();
      await db.schema.createIndex('tasks_finished_idx').on('tasks').columns(['finished_at']).execute();

      const since = Math.floor((Date.now() - SEED_WINDOW_MS) / MINUTE_MS) * MINUTE_MS;
      await sql`insert into inbox_counts (status, n) select status, count(*) from webhook_inbox group by status`.execute(db);
      await sql`insert into delivery_minutes (minute, status, n)
        select (received_at / ${sql.lit(MINUTE_MS)}) * ${sql.lit(MINUTE_MS)}, status, count(*) from webhook_inbox where received_at >= ${since} group by 1, 2`.execute(
        db,
      );
      // A record's last write is all that is known of earlier ones.
      await sql`insert into write_minutes (minute, source, n)
        select (updated_at / ${sql.lit(MINUTE_MS)}) * ${sql.lit(MINUTE_MS)}, source, count(*) from records where updated_at >= ${since} group by 1, 2`.execute(
        db,
      );
    },
  };
}
