import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { recordsMigration } from './001-records.js';
import { tasksMigration } from './002-tasks.js';
import { recordsSourceFeedMigration } from './003-records-source-feed.js';
import { inboxStatusMigration } from './004-inbox-status.js';
import { jsonColumnsMigration } from './005-json-columns.js';
import { taskLeaseLossesMigration } from './006-task-lease-losses.js';
import { providerStateMigration } from './007-provider-state.js';
import { mailchimpMemberKeysMigration } from './008-mailchimp-member-keys.js';
import { consoleStatsMigration } from './009-console-stats.js';
import { recordSearchMigration } from './010-record-search.js';
import { walkSeenMigration } from './011-walk-seen.js';

export type Engine = 'sqlite' | 'postgres';

/**
 * One list of migrations for both engines. A migration is frozen once it has
 * run anywhere: it states its own column types for each engine and imports
 * nothing from the service, so changing the service's code never changes
 * what an old migration creates. Names sort in the order they must run.
 */
function migrationsFor(engine: Engine): Record<string, Migration> {
  return {
    '001-records': recordsMigration(engine),
    '002-tasks': tasksMigration(engine),
    '003-records-source-feed': recordsSourceFeedMigration(),
    '004-inbox-status': inboxStatusMigration(engine),
    '005-json-columns': jsonColumnsMigration(engine),
    '006-task-lease-losses': taskLeaseLossesMigration(),
    '007-provider-state': providerStateMigration(engine),
    '008-mailchimp-member-keys': mailchimpMemberKeysMigration(engine),
    '009-console-stats': consoleStatsMigration(engine),
    '010-record-search': recordSearchMigration(engine),
    '011-walk-seen': walkSeenMigration(),
  };
}

export async function migrateToLatest<DB>(db: Kysely<DB>, engine: Engine): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(engine) };
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? 'unknown error');
    throw new Error(`database migration ${failed ? `${failed.migrationName} ` : ''}failed: ${reason}`, { cause: error });
  }
}
