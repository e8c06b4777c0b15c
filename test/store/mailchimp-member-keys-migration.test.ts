import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordWrite } from '../../src/domain/records.js';
import { applyMailchimpEvent, parseMailchimpForm } from '../../src/providers/mailchimp/webhook.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { countRecords, findRecord } from '../../src/store/record-queries.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { rewindMigrationsTo } from '../helpers/migrations.js';
import { form } from '../helpers/webhooks.js';

/** The key today's main gave a member: the MD5 of the lower-case email, alone. */
const md5 = (email: string) => createHash('md5').update(email.toLowerCase()).digest('hex');
const T = Date.parse('2026-03-01T10:00:00Z');

function customer(
  externalId: string,
  source: string,
  o: { email?: string; name?: string; attributes?: Record<string, unknown>; at?: number; deleted?: boolean },
): RecordWrite {
  return {
    type: 'customer',
    external_id: externalId,
    source,
    fields: { sender_id: null, name: o.name ?? null, email: o.email ?? null, status: null, budget: null, details: null },
    attributes: o.attributes ?? {},
    sourceUpdatedAt: o.at ?? T,
    deleted: o.deleted ?? false,
  };
}

/** Members as today's webhook handler stored them, under the old key, and records 008 must leave alone. */
const BEFORE: RecordWrite[] = [
  customer(md5('ann@example.com'), 'marketing', {
    email: 'Ann@example.com',
    name: 'Ann Lee',
    attributes: { list_id: 'L1', status: 'subscribed', id: '8a25ff1d98', merges: { FNAME: 'Ann', LNAME: 'Lee' } },
  }),
  // A profile event that carried no list id: no audience can be told.
  customer(md5('bob@example.com'), 'marketing', { email: 'bob@example.com', attributes: { status: 'subscribed', merges: { FNAME: 'Bob' } } }),
  // upemail: the new address's row, and the old one as a tombstone naming the new (old-style) key.
  customer(md5('new@example.com'), 'marketing', {
    email: 'new@example.com',
    attributes: { list_id: 'L1', status: 'subscribed', previous_email: 'old@example.com' },
  }),
  customer(md5('old@example.com'), 'marketing', {
    email: 'old@example.com',
    attributes: { list_id: 'L1', status: 'subscribed', moved_to: md5('new@example.com'), new_email: 'new@example.com' },
    deleted: true,
  }),
  // Members whose new key is already taken: by a newer row (cara), by an older one (dan).
  customer(md5('cara@example.com'), 'marketing', { email: 'cara@example.com', name: 'Cara old', attributes: { list_id: 'L2', status: 'subscribed' } }),
  customer(`L2:${md5('cara@example.com')}`, 'marketing', { email: 'cara@example.com', name: 'Cara new', attributes: { list_id: 'L2' }, at: T + 60_000 }),
  customer(md5('dan@example.com'), 'marketing', {
    email: 'dan@example.com',
    name: 'Dan new',
    attributes: { list_id: 'L2', status: 'cleaned' },
    at: T + 60_000,
  }),
  customer(`L2:${md5('dan@example.com')}`, 'marketing', { email: 'dan@example.com', name: 'Dan old', attributes: { list_id: 'L2' } }),
  // Not Mailchimp members: another source, and a marketing campaign, both with a 32-hex key.
  customer(md5('crm@example.com'), 'crm', { email: 'crm@example.com', attributes: { list_id: 'L1' } }),
  {
    ...customer(md5('campaign'), 'marketing', { attributes: { list_id: 'L1' } }),
    type: 'campaign',
    fields: { sender_id: null, name: 'Spring', email: null, status: 'sent', budget: null, details: null },
  },
];

interface RowView {
  row_id: number;
  type: string;
  external_id: string;
  updated_at: number;
  deleted_at: number | null;
}

async function rows(store: Store): Promise<RowView[]> {
  const { rows: found } = await sql<RowView>`select row_id, type, external_id, updated_at, deleted_at from records order by row_id`.execute(store.db);
  return found.map((r) => ({
    ...r,
    row_id: Number(r.row_id),
    updated_at: Number(r.updated_at),
    deleted_at: r.deleted_at === null ? null : Number(r.deleted_at),
  }));
}

for (const engine of ENGINES) {
  describe(`migration 008-mailchimp-member-keys on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    let before: Map<string, RowView>;

    beforeAll(async () => {
      db = await engine.create();
      // A store at 007 holding what today's main stored: made by today's migrations, then 008 forgotten.
      const first = await openStore(db.config);
      // Written before the rewind: today's write path keeps counters that later migrations made.
      await inWriteTransaction(first, (tx) => applyRecordWrites(tx, BEFORE));
      await rewindMigrationsTo(first.db, '007-provider-state');
      before = new Map((await rows(first)).map((r) => [`${r.type}/${r.external_id}`, r]));
      await first.close();
      store = await openStore(db.config);
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    const was = (externalId: string, type = 'customer') => before.get(`${type}/${externalId}`) as RowView;

    it('rewrites a member whose list id is known to <list_id>:<hash>, the same row and content, updated_at moved', async () => {
      const ann = md5('ann@example.com');
      expect(await findRecord(store, 'customer', ann)).toBeNull();
      const moved = await findRecord(store, 'customer', `L1:${ann}`);
      expect(moved).toMatchObject({
        rowId: was(ann).row_id,
        source: 'marketing',
        fields: { name: 'Ann Lee', email: 'Ann@example.com' },
        attributes: { list_id: 'L1', status: 'subscribed', id: '8a25ff1d98', merges: { FNAME: 'Ann', LNAME: 'Lee' } },
        sourceUpdatedAt: T,
        deletedAt: null,
      });
      expect(moved?.updatedAt).toBeGreaterThan(was(ann).updated_at);
    });

    it('leaves a member without a list id, and records that are not Mailchimp members, as they were', async () => {
      const now = new Map((await rows(store)).map((r) => [`${r.type}/${r.external_id}`, r]));
      for (const key of [`customer/${md5('bob@example.com')}`, `customer/${md5('crm@example.com')}`, `campaign/${md5('campaign')}`]) {
        expect(now.get(key), key).toEqual(before.get(key));
      }
    });

    it('rewrites the key of an upemail tombstone and the moved_to it names', async () => {
      const tomb = await findRecord(store, 'customer', `L1:${md5('old@example.com')}`);
      expect(tomb?.deletedAt).not.toBeNull();
      expect(tomb?.attributes).toMatchObject({ moved_to: `L1:${md5('new@example.com')}`, new_email: 'new@example.com' });
      expect(Object.keys(tomb?.attributes ?? {})).toEqual([...Object.keys(tomb?.attributes ?? {})].sort());
      expect((await findRecord(store, 'customer', `L1:${md5('new@example.com')}`))?.deletedAt).toBeNull();
    });

    it('where the new key was taken by a newer row, keeps it and leaves the old-key row as a tombstone naming it', async () => {
      const key = `L2:${md5('cara@example.com')}`;
      const kept = (await rows(store)).find((r) => r.external_id === key);
      expect(kept).toEqual(was(key));
      expect((await findRecord(store, 'customer', key))?.fields.name).toBe('Cara new');
      const old = await findRecord(store, 'customer', md5('cara@example.com'));
      expect(old).toMatchObject({ fields: { name: 'Cara old' }, attributes: { moved_to: key } });
      expect(old?.deletedAt).not.toBeNull();
    });

    it('where the new key was taken by an older row, the old-key row replaces it under that key', async () => {
      const key = `L2:${md5('dan@example.com')}`;
      expect(await findRecord(store, 'customer', md5('dan@example.com'))).toBeNull();
      const dan = await findRecord(store, 'customer', key);
      expect(dan).toMatchObject({ rowId: was(md5('dan@example.com')).row_id, fields: { name: 'Dan new' }, attributes: { status: 'cleaned' }, deletedAt: null });
      expect((await rows(store)).filter((r) => r.external_id.endsWith(md5('dan@example.com')))).toHaveLength(1);
    });

    it('keeps the totals right', async () => {
      const all = await rows(store);
      expect(await countRecords(store, { includeDeleted: true })).toBe(all.length);
      expect(await countRecords(store, {})).toBe(all.filter((r) => r.deleted_at === null).length);
      expect(all.length).toBe(BEFORE.length - 1);
      expect(await countRecords(store, { type: 'customer', source: 'marketing' })).toBe(5);
    });

    it('a webhook after it updates the migrated row, and a rewritten tombstone takes a write', async () => {
      const ann = md5('ann@example.com');
      const profile = {
        type: 'profile',
        fired_at: '2026-03-02 10:00:00',
        'data[list_id]': 'L1',
        'data[email]': 'ann@example.com',
        'data[merges][FNAME]': 'Annie',
      };
      const res = await inWriteTransaction(store, (tx) => applyMailchimpEvent(tx, parseMailchimpForm(form(profile))));
      expect(res.records).toEqual([{ type: 'customer', external_id: `L1:${ann}`, result: 'updated' }]);
      expect(await findRecord(store, 'customer', `L1:${ann}`)).toMatchObject({ rowId: was(ann).row_id, fields: { name: 'Annie' } });

      // Back to the address: the tombstone (whose hash 008 could not compute) comes back to life.
      const subscribe = { type: 'subscribe', fired_at: '2026-03-02 10:00:00', 'data[list_id]': 'L1', 'data[email]': 'old@example.com' };
      await inWriteTransaction(store, (tx) => applyMailchimpEvent(tx, parseMailchimpForm(form(subscribe))));
      expect((await findRecord(store, 'customer', `L1:${md5('old@example.com')}`))?.deletedAt).toBeNull();
    });

    it('run again over a store it already rewrote, changes nothing', async () => {
      const now = await rows(store);
      await rewindMigrationsTo(store.db, '007-provider-state');
      await store.close();
      store = await openStore(db.config);
      expect(await rows(store)).toEqual(now);
    });
  });
}

for (const engine of ENGINES) {
  describe(`migration 008 over many members on ${engine.name}`, () => {
    let db: ScratchDatabase;
    afterAll(async () => {
      await db?.drop();
    });

    it('rewrites every page of them (more than one statement holds)', async () => {
      db = await engine.create();
      const first = await openStore(db.config);
      const members = Array.from({ length: 1201 }, (_, i) =>
        customer(md5(`m${i}@example.com`), 'marketing', { email: `m${i}@example.com`, attributes: { list_id: i % 2 ? 'L1' : 'L2' } }),
      );
      // Written before the rewind: today's write path keeps counters that later migrations made.
      await inWriteTransaction(first, (tx) => applyRecordWrites(tx, members));
      await rewindMigrationsTo(first.db, '007-provider-state');
      await first.close();
      const store = await openStore(db.config);
      try {
        const ids = (await rows(store)).map((r) => r.external_id);
        expect(ids).toHaveLength(1201);
        expect(ids.filter((id) => /^L[12]:[0-9a-f]{32}$/.test(id))).toHaveLength(1201);
        expect(await findRecord(store, 'customer', `L1:${md5('m1199@example.com')}`)).not.toBeNull();
        expect(await findRecord(store, 'customer', `L2:${md5('m1200@example.com')}`)).not.toBeNull();
        expect(await countRecords(store, {})).toBe(1201);
      } finally {
        await store.close();
      }
    });
  });
}
