import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload, storableWrite, type RecordWrite } from '../../src/domain/records.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { countRecords, findRecord, type RecordFilter } from '../../src/store/record-queries.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const customer = (external_id: string, extra: Record<string, unknown> = {}, source = 'webhook'): RecordWrite =>
  recordFromPayload('customer', { external_id, name: 'Ann', email: 'ann@example.com', ...extra }, source);

for (const engine of ENGINES) {
  describe(`record writes on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    const write = (...writes: RecordWrite[]) => inWriteTransaction(store, (tx) => applyRecordWrites(tx, writes));

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('creates, then updates the same (type, external_id) in place', async () => {
      expect(await write(customer('u1'))).toEqual([{ type: 'customer', external_id: 'u1', result: 'created' }]);
      expect((await write(customer('u1', { name: 'Ann B' })))[0]?.result).toBe('updated');
      const rows = await store.db.selectFrom('records').selectAll().where('external_id', '=', 'u1').execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]?.name).toBe('Ann B');
    });

    it('keeps unknown fields as attributes and the same key in both types apart', async () => {
      await write(customer('shared', { plan: 'gold', tags: ['a', 'b'] }));
      await write(recordFromPayload('campaign', { external_id: 'shared', name: 'C', budget: 10, details: { discount: 5 } }, 'webhook'));
      const c = await findRecord(store, 'customer', 'shared');
      const k = await findRecord(store, 'campaign', 'shared');
      expect(c?.attributes).toEqual({ plan: 'gold', tags: ['a', 'b'] });
      expect(k?.fields.details).toEqual({ discount: 5 });
      expect(k?.fields.budget).toBe(10);
    });

    it('a write that changes nothing keeps updated_at', async () => {
      await write(customer('noop', { plan: 'x' }));
      const before = await findRecord(store, 'customer', 'noop');
      await new Promise((r) => setTimeout(r, 5));
      // Same content, keys in another order: still no change.
      const again = recordFromPayload('customer', { plan: 'x', email: 'ann@example.com', name: 'Ann', external_id: 'noop' }, 'webhook');
      expect((await write(again))[0]?.result).toBe('unchanged');
      const after = await findRecord(store, 'customer', 'noop');
      expect(after?.updatedAt).toBe(before?.updatedAt);
    });

    it('an older updated_at does not overwrite a newer record', async () => {
      await write(customer('ooo', { name: 'new', updated_at: '2026-01-02T00:00:00Z' }));
      const stale = await write(customer('ooo', { name: 'old', updated_at: '2026-01-01T00:00:00Z' }));
      expect(stale[0]?.result).toBe('stale');
      expect((await findRecord(store, 'customer', 'ooo'))?.fields.name).toBe('new');
      const newer = await write(customer('ooo', { name: 'newer', updated_at: '2026-01-03T00:00:00Z' }));
      expect(newer[0]?.result).toBe('updated');
      expect((await findRecord(store, 'customer', 'ooo'))?.fields.name).toBe('newer');
    });

    it('a newer timestamp with the same content is remembered without moving updated_at', async () => {
      await write(customer('touch', { updated_at: '2026-02-01T00:00:00Z' }));
      const before = await findRecord(store, 'customer', 'touch');
      expect((await write(customer('touch', { updated_at: '2026-03-01T00:00:00Z' })))[0]?.result).toBe('unchanged');
      const after = await findRecord(store, 'customer', 'touch');
      expect(after?.updatedAt).toBe(before?.updatedAt);
      expect(after?.sourceUpdatedAt).toBe(Date.parse('2026-03-01T00:00:00Z'));
      // ...so a delivery between the two is now stale.
      expect((await write(customer('touch', { name: 'mid', updated_at: '2026-02-15T00:00:00Z' })))[0]?.result).toBe('stale');
    });

    it('repeats of one key inside a batch apply in order', async () => {
      const results = await write(customer('rep', { name: 'one' }), customer('rep', { name: 'two' }), customer('rep', { name: 'two' }));
      expect(results.map((r) => r.result)).toEqual(['created', 'updated', 'unchanged']);
      expect((await findRecord(store, 'customer', 'rep'))?.fields.name).toBe('two');
    });

    it('a deletion keeps a tombstone with the last known fields and leaves the live totals', async () => {
      await write(customer('gone', { name: 'Zed' }));
      const liveBefore = await countRecords(store, { type: 'customer' });
      const allBefore = await countRecords(store, { type: 'customer', includeDeleted: true });
      const del: RecordWrite = { ...customer('gone'), fields: { ...customer('gone').fields, name: null }, deleted: true };
      expect((await write(del))[0]?.result).toBe('deleted');
      const row = await findRecord(store, 'customer', 'gone');
      expect(row?.deletedAt).not.toBeNull();
      expect(row?.fields.name).toBe('Zed');
      expect(await countRecords(store, { type: 'customer' })).toBe(liveBefore - 1);
      expect(await countRecords(store, { type: 'customer', includeDeleted: true })).toBe(allBefore);
      // Deleting again changes nothing.
      expect((await write(del))[0]?.result).toBe('unchanged');
    });

    it('totals kept by the counters match a real count, per type and source', async () => {
      await write(customer('s1', {}, 'crm'), customer('s2', {}, 'crm'), customer('s1b', {}, 'marketing'));
      await write(customer('s2', { name: 'moved' }, 'marketing')); // moves between source buckets
      // More rows than one upsert statement takes on either engine, with moves and a deletion among them.
      const many = Array.from({ length: 5200 }, (_, i) => customer(`bulk${i}`, {}, i % 2 === 0 ? 'crm' : 'marketing'));
      await write(...many, customer('s1', { name: 'moved' }, 'marketing'), { ...customer('s1b', {}, 'marketing'), deleted: true });
      const filters: RecordFilter[] = [{}, { type: 'customer' }, { source: 'crm' }, { source: 'marketing' }, { includeDeleted: true }];
      for (const filter of filters) {
        let q = store.db.selectFrom('records').select((eb) => eb.fn.countAll<number>().as('n'));
        if (filter.type) q = q.where('type', '=', filter.type);
        if (filter.source) q = q.where('source', '=', filter.source);
        if (!filter.includeDeleted) q = q.where('deleted_at', 'is', null);
        const real = Number((await q.executeTakeFirst())?.n);
        expect(await countRecords(store, filter)).toBe(real);
      }
    });

    it('change times grow with every committing transaction', async () => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        await write(customer(`clock${i % 3}`, { name: `v${i}` }));
        times.push((await findRecord(store, 'customer', `clock${i % 3}`))?.updatedAt ?? 0);
      }
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] as number);
    });

    it('migrations are idempotent: opening the store again changes nothing', async () => {
      const again = await openStore(db.config);
      expect(await countRecords(again, { includeDeleted: true })).toBe(await countRecords(store, { includeDeleted: true }));
      await again.close();
    });
  });
}

describe('storableWrite', () => {
  it('drops NUL, replaces lone surrogates and non-finite numbers, keeps the rest', () => {
    const w = recordFromPayload('campaign', { external_id: 'a\u0000b', name: 'x\ud800y', details: { k: 'v\u0000', n: 1 }, extra: ['\udc00', 5] }, 'crm');
    w.fields.budget = Number.POSITIVE_INFINITY;
    const s = storableWrite(w);
    expect(s.external_id).toBe('ab');
    expect(s.fields.name).toBe('x\ufffdy');
    expect(s.fields.budget).toBeNull();
    expect(s.fields.details).toEqual({ k: 'v', n: 1 });
    expect(s.attributes).toEqual({ extra: ['\ufffd', 5] });
  });
});

describe('sender timestamps', () => {
  it('every RFC 3339 form feeds the out-of-order guard (offsets without minutes, leap seconds)', () => {
    const at = (updated_at: string) => recordFromPayload('customer', { external_id: 'x', updated_at }, 'webhook').sourceUpdatedAt;
    expect(at('2026-01-01T01:00:00+01')).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(at('2026-01-01T23:59:60Z')).toBe(Date.parse('2026-01-02T00:00:00Z'));
    expect(at('2026-01-01T00:00:00.5Z')).toBe(Date.parse('2026-01-01T00:00:00.500Z'));
    expect(at('not a date')).toBeNull();
  });
});
