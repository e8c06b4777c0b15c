import type { Kysely } from 'kysely';

/** The engines this migration knows. It names its own column types for each: nothing outside this file changes what it creates. */
type Engine = 'sqlite' | 'postgres';

const TYPES = {
  sqlite: { bigint: 'integer' },
  postgres: { bigint: 'bigint' },
} as const;

/**
 * A small key/value table per provider, for what a provider learns upstream
 * and must keep across restarts: a rotated OAuth refresh token, the portal
 * its token belongs to. One row per (provider, key); the value is text.
 */
export function providerStateMigration(engine: Engine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('provider_state')
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', TYPES[engine].bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint('provider_state_pkey', ['provider', 'key'])
        .execute();
    },
  };
}
