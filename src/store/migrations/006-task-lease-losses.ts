import type { Kysely } from 'kysely';

/**
 * How many times a task's process stopped renewing its lease (it died, or
 * lost the database) and the task was taken back. TASK_MAX_ATTEMPTS bounds
 * this count, not `attempts`: a task parked by a daily rate limit, or put
 * back by a shutdown, is claimed again without having crashed anything, and
 * a long first load parked for several days must not fail on its first crash.
 */
export function taskLeaseLossesMigration() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('tasks')
        .addColumn('lease_losses', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  };
}
