import type { Kysely } from 'kysely';

/** The engines this migration knows. It names its own column types for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

const TYPES = {
  sqlite: { bigint: 'integer' },
  postgres: { bigint: 'bigint' },
} as const;

/**
 * The inbox as a dead-letter queue. Every delivery keeps a row whose status
 * is `received` (stored, not yet processed), `processed`, `failed` (a dead
 * letter, with its error) or `duplicate`.
 *
 * A duplicate row points at the first copy of its key through `duplicate_of`
 * and leaves `idempotency_key` NULL, so the unique index on the key (from
 * 001) keeps holding for first copies on both engines without rebuilding the
 * table: NULLs never collide in a unique index, in SQLite or PostgreSQL.
 *
 * `received_at` gets an index for the retention sweep, which deletes old
 * processed and duplicate rows by age.
 */
export function inboxStatusMigration(engine: Engine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('webhook_inbox').addColumn('duplicate_of', TYPES[engine].bigint).execute();
      await db.schema.createIndex('webhook_inbox_received_idx').on('webhook_inbox').columns(['received_at', 'id']).execute();
      // The listing of one route's events, newest first (GET /webhooks/events?route=...).
      await db.schema.createIndex('webhook_inbox_route_idx').on('webhook_inbox').columns(['route', 'id']).execute();
    },
  };
}
