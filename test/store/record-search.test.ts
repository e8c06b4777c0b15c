import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload, type RecordWrite } from '../../src/domain/records.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { findMatches, nextMatchIds, type RecordSearch } from '../../src/store/record-search.js';
import type { RecordFilter } from '../../src/store/record-queries.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

// nextMatchIds: the next matches of a search over the cap, first by a scan of
// a window of rows after the cursor, then from the indexes past the window.
// A small window here puts matches on both sides of it and far apart.

const ROWS = 3000;

/** Record i matches q=hit when i is in one of three clusters; the rest are noise. */
const hit = (i: number) => (i >= 100 && i < 700) || (i >= 1500 && i < 1520) || (i >= 2600 && i < 3000);

function write(i: number): RecordWrite {
  const w =
    i % 7 === 3
      ? recordFromPayload('campaign', { external_id: `k${i}`, name: hit(i) ? `Hit ${i}` : `Miss ${i}` }, i % 2 === 0 ? 'crm' : 'webhook')
      : recordFromPayload('customer', { external_id: hit(i) ? `HIT-${i}` : `x-${i}`, email: `e${i}@example.com` }, i % 2 === 0 ? 'crm' : 'webhook');
  if (i % 50 === 7) w.deleted = true;
  return w;
}

for (const engine of ENGINES) {
  describe(`nextMatchIds (${engine.name})`, () => {
    let db: ScratchDatabase;
    let store: Store;
    let rowIdOf: Map<number, number>;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      const writes = Array.from({ length: ROWS }, (_, i) => write(i));
      await inWriteTransaction(store, (tx) => applyRecordWrites(tx, writes));
      const rows = await store.db.selectFrom('records').select(['row_id', 'external_id']).execute();
      rowIdOf = new Map(rows.map((r) => [Number(r.external_id.replace(/^\D+/, '')), Number(r.row_id)]));
    }, 60_000);

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    /** Every match, by row id, as the definition says. */
    function expected(f: RecordFilter): number[] {
      const out: number[] = [];
      for (let i = 0; i < ROWS; i++) {
        if (!hit(i)) continue;
        const campaign = i % 7 === 3;
        if (f.type && f.type !== (campaign ? 'campaign' : 'customer')) continue;
        if (f.source && f.source !== (i % 2 === 0 ? 'crm' : 'webhook')) continue;
        if (!f.includeDeleted && i % 50 === 7) continue;
        out.push(rowIdOf.get(i) as number);
      }
      return out.sort((a, b) => a - b);
    }

    const filters: RecordFilter[] = [{}, { type: 'customer' }, { type: 'campaign', source: 'crm' }, { source: 'webhook', includeDeleted: true }];

    it.each(filters)('walks every match of q=hit with %o in order, no duplicates, no gaps, across the window', async (f) => {
      const search: RecordSearch = { q: 'hit' };
      const want = expected(f);
      expect(want.length).toBeGreaterThan(20);
      for (const [window, n] of [
        [50, 13],
        [400, 7],
        [5, 40],
      ] as const) {
        const got: number[] = [];
        let after = 0;
        for (let guard = 0; guard < 1000; guard++) {
          const ids = await nextMatchIds(store, search, f, after, n, window);
          got.push(...ids);
          if (ids.length < n) break;
          after = ids.at(-1) as number;
        }
        expect(got, `window ${window}, pages of ${n}`).toEqual(want);
      }
      // Over the cap is when the route uses it; the count agrees with the walk below it.
      const matches = await findMatches(store, search, f);
      expect(matches.total).toBe(Math.min(want.length, 1000));
    });

    it('finds nothing past the last match', async () => {
      const last = expected({}).at(-1) as number;
      expect(await nextMatchIds(store, { q: 'hit' }, {}, last, 10, 50)).toEqual([]);
      expect(await nextMatchIds(store, { q: 'nothing' }, {}, 0, 10, 50)).toEqual([]);
    });
  });
}
