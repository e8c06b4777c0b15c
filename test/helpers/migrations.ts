import { sql, type Kysely } from 'kysely';

/**
 * Makes a store look as if it had been migrated only up to `last`: forgets
 * every later migration in kysely_migration, so the next open runs them
 * again. Kysely refuses a store whose run migrations are not a prefix of the
 * list, so a test that forgets one must forget all that came after it too.
 * Undoing what they did to the schema is the caller's part; the data-only
 * ones (008-mailchimp-member-keys) need nothing undone to run again.
 */
export async function rewindMigrationsTo<DB>(db: Kysely<DB>, last: string): Promise<void> {
  await sql`delete from kysely_migration where name > ${last}`.execute(db);
}
