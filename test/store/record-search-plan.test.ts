import { sql, type Compilable } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { pageQuery, type PageRequest, type RecordFilter } from '../../src/store/record-queries.js';
import { laterMatchesQuery, matchesQuery, type RecordSearch } from '../../src/store/record-search.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

// The plans of a search: each field's prefix range is read from its index of
// migration 010 on both engines, with or without type and source filters, and
// the page that follows never sorts the table.

const ROWS = 50_000;

/** ROWS records, 80% customers, three sources, 1% deleted, generated in the engine. */
async function load(store: Store): Promise<void> {
  const pgEngine = store.dialect.name === 'postgres';
  const series = pgEngine
    ? `select i from generate_series(0, ${ROWS - 1}) as g(i)`
    : `with recursive g(i) as (select 0 union all select i + 1 from g where i < ${ROWS - 1}) select i from g`;
  await sql
    .raw(
      `insert into records (type, external_id, source, name, email, attributes, content_hash, created_at, updated_at, deleted_at)
       select case when i % 5 = 4 then 'campaign' else 'customer' end,
         case when i % 5 = 4 then 'camp_' else 'cust_' end || i,
         case i % 3 when 0 then 'webhook' when 1 then 'crm' else 'marketing' end,
         case when i % 5 = 4 then 'Campaign ' else 'Customer ' end || i,
         case when i % 5 = 4 then null else 'customer.' || i || '@example.com' end,
         '{}', 'h', 1, 1, case when i % 100 = 99 then 1 else null end
       from (${series}) as s`,
    )
    .execute(store.db);
  // As autovacuum would on PostgreSQL; SQLite is left without statistics, as the service runs it.
  if (pgEngine) await sql`analyze records`.execute(store.db);
}

async function plan(store: Store, query: Compilable): Promise<string> {
  const compiled = query.compile();
  const pgEngine = store.dialect.name === 'postgres';
  const explained = await store.db.executeQuery<Record<string, unknown>>({
    ...compiled,
    sql: `${pgEngine ? 'explain' : 'explain query plan'} ${compiled.sql}`,
  });
  return explained.rows.map((r) => String(pgEngine ? r['QUERY PLAN'] : r.detail)).join('\n');
}

const INDEXES = ['records_search_external_id_idx', 'records_search_email_idx', 'records_search_name_idx'];

const SEARCHES: Array<{ search: RecordSearch; filter: RecordFilter; indexes: string[] }> = [
  { search: { email: 'Customer.77@Example.com' }, filter: {}, indexes: ['records_search_email_idx'] },
  { search: { email: 'customer.77@example.com' }, filter: { type: 'customer', source: 'crm' }, indexes: ['records_search_email_idx'] },
  { search: { q: 'cust_777' }, filter: {}, indexes: INDEXES },
  { search: { q: 'customer.12' }, filter: { type: 'customer' }, indexes: INDEXES },
  { search: { q: 'Campaign 44' }, filter: { type: 'campaign', source: 'marketing' }, indexes: INDEXES },
  { search: { q: 'camp_1' }, filter: { source: 'crm', includeDeleted: true }, indexes: INDEXES },
];

for (const engine of ENGINES) {
  describe(`record search plans (${engine.name})`, () => {
    let db: ScratchDatabase;
    let store: Store;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      await load(store);
    }, 120_000);

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it.each(SEARCHES)('reads the matches of $search with $filter from the search indexes', async ({ search, filter, indexes }) => {
      const text = await plan(store, matchesQuery(store, search, filter));
      for (const index of indexes) expect(text, text).toContain(index);
      // Never a walk of the whole table or of a whole source.
      expect(text, text).not.toMatch(/Seq Scan|^SCAN records|records_source_|records_type_/m);
    });

    it('reads a page of a search from its row ids, after the cursor, without sorting the table', async () => {
      const req: PageRequest = {
        type: 'customer',
        source: 'crm',
        limit: 50,
        offset: 0,
        order: 'row',
        after: { kind: 'row', rowId: 700 },
        search: { search: { q: 'cust_777' }, rowIds: [5, 777, 7770, 7771, 7772] },
      };
      const text = await plan(store, pageQuery(store, req).limit(51));
      expect(text, text).toMatch(store.dialect.name === 'postgres' ? /Index Scan using records_pkey/ : /USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(text, text).not.toMatch(/Seq Scan|^SCAN records/m);
    });

    it.each(SEARCHES.filter((s) => s.search.q !== undefined))(
      'reads the matches of $search with $filter past a scan window from the search indexes, sorted, not in row order',
      async ({ search, filter, indexes }) => {
        const text = await plan(store, laterMatchesQuery(store, search, filter, 20_000, 51));
        for (const index of indexes) expect(text, text).toContain(index);
        expect(text, text).not.toMatch(/Seq Scan|^SCAN records|records_source_|records_type_|records_pkey|INTEGER PRIMARY KEY/m);
      },
    );

    it('reads a page of a search with more matches than the cap in row order from the cursor, never sorting all matches', async () => {
      for (const filter of [{}, { type: 'customer' as const }, { source: 'crm' }]) {
        const req: PageRequest = {
          ...filter,
          limit: 50,
          offset: 0,
          order: 'row',
          after: { kind: 'row', rowId: 25_000 },
          search: { search: { q: 'cust' }, rowIds: null },
        };
        const text = await plan(store, pageQuery(store, req).limit(51));
        expect(text, text).not.toMatch(/Sort|TEMP B-TREE|Seq Scan|Bitmap/);
        if (store.dialect.name === 'postgres') expect(text, text).toMatch(/Index Scan using records_(pkey|type_row_idx|source_row_idx)/);
        else expect(text, text).toMatch(/SEARCH records USING (INTEGER PRIMARY KEY|INDEX records_(type|source)_row_idx) \(.*row_id>\?|rowid>\?/);
      }
    });
  });
}
