import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/** Background tasks and the per-source sync checkpoints, in the same store as the data. */
export function tasksMigration(d: Dialect) {
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
        .addColumn('lease_expires_at', d.bigintType)
        .addColumn('run_after', d.bigintType, (c) => c.notNull())
        .addColumn('pages', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('records_fetched', d.bigintType, (c) => c.notNull().defaultTo(0))
        .addColumn('records_written', d.bigintType, (c) => c.notNull().defaultTo(0))
        .addColumn('total_estimate', d.bigintType)
        .addColumn('error', 'text')
        .addColumn('created_at', d.bigintType, (c) => c.notNull())
        .addColumn('started_at', d.bigintType)
        .addColumn('heartbeat_at', d.bigintType)
        .addColumn('finished_at', d.bigintType)
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
        .addColumn('checkpoint', d.jsonType)
        .addColumn('updated_at', d.bigintType, (c) => c.notNull())
        .addColumn('last_success_at', d.bigintType)
        .execute();
    },
  };
}
