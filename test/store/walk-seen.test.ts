import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload, type RecordWrite } from '../../src/domain/records.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { clearWalkSeen, markWalkSeen, unseenLiveIds, type WalkKey } from '../../src/store/walk-seen.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const customer = (id: string, source = 'marketing', deleted = false): RecordWrite => ({
  ...recordFromPayload('customer', { external_id: id, email: `${id}@example.com` }, source),
  deleted,
});

/**
 * The ids a complete walk listed, kept in the store until its sweep: the
 * sweep's question is "which live records of this walk did it not list",
 * answered for the walk's source, type and prefix only.
 */
for (const engine of ENGINES) {
  describe(`walk_seen on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      const writes = [...['a:1', 'a:2', 'a:3', 'a:4', 'b:1', 'b:2'].map((id) => customer(id)), customer('a:5', 'marketing', true), customer('a:6', 'other')];
      await inWriteTransaction(store, (tx) => applyRecordWrites(tx, writes));
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    const audienceA: WalkKey = { source: 'marketing', type: 'customer', idPrefix: 'a:' };
    const everything: WalkKey = { source: 'marketing', type: 'customer' };

    it("gives the walk's live records it did not list, within its source, type and prefix, up to the limit", async () => {
      await inWriteTransaction(store, async (tx) => {
        await clearWalkSeen(tx, audienceA);
        await markWalkSeen(tx, audienceA, ['a:1', 'a:3']);
        // Listed again (a walk stepping back over an overlap): no harm.
        await markWalkSeen(tx, audienceA, ['a:3']);
        // Another walk's marks are not this one's.
        await markWalkSeen(tx, everything, ['a:2', 'a:4']);
      });
      expect((await unseenLiveIds(store, audienceA, 10)).sort()).toEqual(['a:2', 'a:4']);
      expect(await unseenLiveIds(store, audienceA, 1)).toHaveLength(1);
      expect((await unseenLiveIds(store, everything, 10)).sort()).toEqual(['a:1', 'a:3', 'b:1', 'b:2']);
      expect(await unseenLiveIds(store, { source: 'marketing', type: 'campaign' }, 10)).toEqual([]);
    });

    it('a cleared walk has listed nothing', async () => {
      await inWriteTransaction(store, (tx) => clearWalkSeen(tx, audienceA));
      expect((await unseenLiveIds(store, audienceA, 10)).sort()).toEqual(['a:1', 'a:2', 'a:3', 'a:4']);
      expect((await unseenLiveIds(store, everything, 10)).sort()).toEqual(['a:1', 'a:3', 'b:1', 'b:2']);
    });

    it('takes a page of a thousand ids in one statement', async () => {
      const ids = Array.from({ length: 1_000 }, (_, i) => `x:${i}`);
      await inWriteTransaction(store, (tx) => markWalkSeen(tx, { source: 'marketing', type: 'customer', idPrefix: 'x:' }, ids));
      const rows = await store.db
        .selectFrom('walk_seen')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('walk', '=', 'customer:x:')
        .executeTakeFirst();
      expect(Number(rows?.n)).toBe(1_000);
    });
  });
}
