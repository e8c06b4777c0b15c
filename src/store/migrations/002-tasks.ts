import { sql, type Kysely } from 'kysely';

/** The engines this migration knows. It names its own column types for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

const TYPES = {
  sqlite: { bigint: 'integer', json: 'text' },
  postgres: { bigint: 'bigint', json: 'json' },
} as const;

/** Background tasks and the per-source sync checkpoints, in the same store as the data. */
export function tasksMigration(engine: Engine) {
  const t = TYPES[engine];
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('full_sync', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', t.bigint)
        .addColumn('run_after', t.bigint, (c) => c.notNull())
        .addColumn('pages', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('records_fetched', t.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('records_written', t.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('total_estimate', t.bigint)
        .addColumn('error', 'text')
        .addColumn('created_at', t.bigint, (c) => c.notNull())
        .addColumn('started_at', t.bigint)
        .addColumn('heartbeat_at', t.bigint)
        .addColumn('finished_at', t.bigint)
        .execute();
      // The database itself allows one queued-or-running sync per source, so two
      // processes triggering the same source at once get one task, not two.
      await db.schema
        .createIndex('tasks_one_active_per_source')
        .on('tasks')
        .column('source')
        .unique()
        .where(sql.ref('status'), 'in', sql`('queued', 'running')`)
        .execute();
      await db.schema.createIndex('tasks_status_run_after_idx').on('tasks').columns(['status', 'run_after']).execute();
      await db.schema.createIndex('tasks_created_idx').on('tasks').columns(['created_at']).execute();

      await db.schema
        .createTable('sync_state')
        .addColumn('source', 'text', (c) => c.primaryKey())
        .addColumn('checkpoint', t.json)
        .addColumn('updated_at', t.bigint, (c) => c.notNull())
        .addColumn('last_success_at', t.bigint)
        .execute();
    },
  };
}
