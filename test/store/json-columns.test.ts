import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload } from '../../src/domain/records.js';
import { JSON_COLUMNS } from '../../src/store/migrations/005-json-columns.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { findRecord } from '../../src/store/record-queries.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { undoConsoleStats } from '../helpers/undo-migrations.js';

const campaign = (name: string) =>
  recordFromPayload('campaign', { external_id: 'k1', name, details: { zeta: 1, alpha: { y: 2, b: 1 } }, web_id: 7, archive_url: 'u' }, 'webhook');

for (const engine of ENGINES) {
  describe(`JSON columns on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('give back what was written, keys in the same (sorted) order on both engines', async () => {
      await inWriteTransaction(store, (tx) => applyRecordWrites(tx, [campaign('Sale')]));
      const found = await findRecord(store, 'campaign', 'k1');
      expect(found?.attributes).toEqual({ web_id: 7, archive_url: 'u' });
      expect(Object.keys(found?.attributes ?? {})).toEqual(['archive_url', 'web_id']);
      expect(JSON.stringify(found?.fields.details)).toBe('{"alpha":{"b":1,"y":2},"zeta":1}');
    });
  });
}

const postgres = ENGINES.find((e) => e.name === 'postgres');

describe.runIf(postgres)('migration 005 on PostgreSQL', () => {
  let db: ScratchDatabase;

  beforeAll(async () => {
    db = await (postgres as (typeof ENGINES)[number]).create();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const columnTypes = async (store: Store) => {
    const { rows } = await sql<{ table_name: string; column_name: string; data_type: string }>`
      select table_name, column_name, data_type from information_schema.columns
      where table_schema = current_schema() and data_type in ('json', 'jsonb')`.execute(store.db);
    return new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r.data_type]));
  };

  it('turns the jsonb columns of a database made before it into json, keeping every value', async () => {
    let store = await openStore(db.config);
    await inWriteTransaction(store, (tx) => applyRecordWrites(tx, [campaign('Before')]));
    // The database as an older release left it: jsonb columns, 005 not yet run
    for (const [table, column] of JSON_COLUMNS) {
      await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type jsonb using ${sql.ref(column)}::jsonb`.execute(store.db);
    }
    // (and without what came after 005)
    await undoConsoleStats(store.db);
    await sql`alter table tasks drop column lease_losses`.execute(store.db);
    await sql`drop table provider_state`.execute(store.db);
    for (const field of ['external_id', 'email', 'name']) await sql`drop index if exists ${sql.id(`records_search_${field}_idx`)}`.execute(store.db);
    await sql`delete from kysely_migration where name in ('005-json-columns', '006-task-lease-losses', '007-provider-state', '010-record-search')`.execute(
      store.db,
    );
    expect(new Set((await columnTypes(store)).values())).toEqual(new Set(['jsonb']));
    await store.close();

    store = await openStore(db.config);
    try {
      const types = await columnTypes(store);
      expect(Object.fromEntries(types)).toEqual(Object.fromEntries(JSON_COLUMNS.map(([t, c]) => [`${t}.${c}`, 'json'])));
      const found = await findRecord(store, 'campaign', 'k1');
      expect(found?.fields.name).toBe('Before');
      expect(found?.fields.details).toEqual({ zeta: 1, alpha: { y: 2, b: 1 } });
      expect(found?.attributes).toEqual({ web_id: 7, archive_url: 'u' });
      // The converted columns take new writes and give them back.
      const changed = await inWriteTransaction(store, (tx) => applyRecordWrites(tx, [campaign('After')]));
      expect(changed[0]?.result).toBe('updated');
      expect((await findRecord(store, 'campaign', 'k1'))?.fields.details).toEqual({ zeta: 1, alpha: { y: 2, b: 1 } });
      expect((await findRecord(store, 'campaign', 'k1'))?.fields.name).toBe('After');
    } finally {
      await store.close();
    }
  });
});
