import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from '../dialect.js';
import { recordsMigration } from './001-records.js';
import { tasksMigration } from './002-tasks.js';
import { recordsSourceFeedMigration } from './003-records-source-feed.js';
import { inboxStatusMigration } from './004-inbox-status.js';
import { jsonColumnsMigration } from './005-json-columns.js';
import { taskLeaseLossesMigration } from './006-task-lease-losses.js';

/**
 * One list of migrations for both engines; each takes the dialect so column
 * types come from its capabilities. Names sort in the order they must run.
 */
function migrationsFor(d: Dialect): Record<string, Migration> {
  return {
    '001-records': recordsMigration(d),
    '002-tasks': tasksMigration(d),
    '003-records-source-feed': recordsSourceFeedMigration(),
    '004-inbox-status': inboxStatusMigration(d),
    '005-json-columns': jsonColumnsMigration(d),
    '006-task-lease-losses': taskLeaseLossesMigration(),
  };
}

export async function migrateToLatest(db: Kysely<any>, d: Dialect): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(d) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? 'unknown error');
    throw new Error(`database migration ${failed ? `${failed.migrationName} ` : ''}failed: ${reason}`, { cause: error });
  }
}
