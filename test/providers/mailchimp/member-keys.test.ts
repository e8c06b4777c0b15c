import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordWrite } from '../../../src/domain/records.js';
import { applyRecordWrites } from '../../../src/store/record-writes.js';
import { inWriteTransaction } from '../../../src/store/write-transaction.js';
import { expectProblem, startApp, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { inboxRows, MAILCHIMP_SECRET, postMailchimp, record } from '../../helpers/webhooks.js';

/** Mailchimp's member id (subscriber hash), computed here apart from the service's code. */
const hash = (email: string) => createHash('md5').update(email.trim().toLowerCase()).digest('hex');
const key = (listId: string, email: string) => `${listId}:${hash(email)}`;

const event = (type: string, listId: string, email: string, firedAt: string, extra: Record<string, string> = {}) => ({
  type,
  fired_at: firedAt,
  'data[list_id]': listId,
  'data[email]': email,
  ...extra,
});

for (const engine of ENGINES) {
  describe(`Mailchimp member keys on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    /** Every stored customer row (tombstones too) with this email, as the API shows them. */
    const rowsOf = async (email: string) => {
      const stored = await t.store.db.selectFrom('records').select(['external_id', 'email']).where('type', '=', 'customer').execute();
      const keys = stored.filter((r) => r.email?.trim().toLowerCase() === email).map((r) => r.external_id);
      const rows = [];
      for (const k of keys)
        rows.push((await record(t.app, 'customers', k)).json() as { external_id: string; deleted_at: string | null; attributes: Record<string, unknown> });
      return rows;
    };

    it('a subscribe and a later event of the same member update one row, keyed <list_id>:<md5 of the lower-case email>', async () => {
      const first = await postMailchimp(t.app, event('subscribe', 'aud00001', ' Ann@Example.com ', '2026-04-01 10:00:00', { 'data[merges][FNAME]': 'Ann' }));
      expect(first.json().events[0].records).toEqual([{ type: 'customer', external_id: key('aud00001', 'ann@example.com'), result: 'created' }]);
      const second = await postMailchimp(t.app, event('profile', 'aud00001', 'ann@example.com', '2026-04-01 11:00:00', { 'data[merges][FNAME]': 'Annie' }));
      expect(second.json().events[0].records).toEqual([{ type: 'customer', external_id: key('aud00001', 'ann@example.com'), result: 'updated' }]);
      const rows = await rowsOf('ann@example.com');
      expect(rows.map((r) => r.external_id)).toEqual([key('aud00001', 'ann@example.com')]);
      expect(rows[0]).toMatchObject({ name: 'Annie', attributes: { list_id: 'aud00001', status: 'subscribed' } });
    });

    it('a webhook and a sync of the same member write one row', async () => {
      // What the members sync writes: external_id `<list_id>:<member id>`, the member id being the hash.
      const synced: RecordWrite = {
        type: 'customer',
        external_id: `aud00001:${hash('sync@example.com')}`,
        source: 'marketing',
        fields: { sender_id: null, name: 'Syd Sync', email: 'sync@example.com', status: 'subscribed', budget: null, details: null },
        attributes: { list_id: 'aud00001' },
        sourceUpdatedAt: Date.parse('2026-04-01T09:00:00Z'),
        deleted: false,
      };
      await inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, [synced]));
      const res = await postMailchimp(t.app, event('unsubscribe', 'aud00001', 'Sync@Example.com', '2026-04-01 10:00:00', { 'data[reason]': 'manual' }));
      expect(res.json().events[0].records[0]).toEqual({ type: 'customer', external_id: synced.external_id, result: 'updated' });
      const rows = await rowsOf('sync@example.com');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ name: 'Syd Sync', attributes: { status: 'unsubscribed', reason: 'manual' } });
      const [stored] = await t.store.db.selectFrom('records').select(['status']).where('external_id', '=', synced.external_id).execute();
      expect(stored?.status).toBe('unsubscribed');
    });

    it('the same email in two audiences is two rows, each with its own status', async () => {
      await postMailchimp(t.app, event('subscribe', 'aud00001', 'two@example.com', '2026-04-02 10:00:00'));
      await postMailchimp(t.app, event('subscribe', 'aud00002', 'two@example.com', '2026-04-02 10:00:00'));
      await postMailchimp(t.app, event('cleaned', 'aud00002', 'two@example.com', '2026-04-02 11:00:00', { 'data[reason]': 'hard' }));
      const rows = await rowsOf('two@example.com');
      const byKey = new Map(rows.map((r) => [r.external_id, r]));
      expect([...byKey.keys()].sort()).toEqual([key('aud00001', 'two@example.com'), key('aud00002', 'two@example.com')]);
      expect(byKey.get(key('aud00001', 'two@example.com'))?.attributes).toMatchObject({ list_id: 'aud00001', status: 'subscribed' });
      expect(byKey.get(key('aud00002', 'two@example.com'))?.attributes).toMatchObject({ list_id: 'aud00002', status: 'cleaned', reason: 'hard' });
    });

    it('upemail moves the member to its new key; the old key is a tombstone with moved_to; the other audience is untouched', async () => {
      await postMailchimp(t.app, event('subscribe', 'aud00001', 'before@example.com', '2026-04-03 10:00:00', { 'data[merges][FNAME]': 'Bea' }));
      await postMailchimp(t.app, event('subscribe', 'aud00002', 'before@example.com', '2026-04-03 10:00:00'));
      const res = await postMailchimp(t.app, {
        type: 'upemail',
        fired_at: '2026-04-03 11:00:00',
        'data[list_id]': 'aud00001',
        'data[new_id]': '51da8c3259',
        'data[new_email]': 'after@example.com',
        'data[old_email]': 'before@example.com',
      });
      const oldKey = key('aud00001', 'before@example.com');
      const newKey = key('aud00001', 'after@example.com');
      expect(res.json().events[0].records).toEqual([
        { type: 'customer', external_id: newKey, result: 'created' },
        { type: 'customer', external_id: oldKey, result: 'updated' },
        { type: 'customer', external_id: oldKey, result: 'deleted' },
      ]);
      const moved = (await record(t.app, 'customers', newKey)).json();
      expect(moved).toMatchObject({ email: 'after@example.com', name: 'Bea', deleted_at: null });
      expect(moved.attributes).toMatchObject({ list_id: 'aud00001', status: 'subscribed', previous_email: 'before@example.com' });
      const tomb = (await record(t.app, 'customers', oldKey)).json();
      expect(tomb.deleted_at).not.toBeNull();
      expect(tomb.attributes).toMatchObject({ moved_to: newKey, new_email: 'after@example.com' });
      expect((await record(t.app, 'customers', key('aud00002', 'before@example.com'))).json()).toMatchObject({ deleted_at: null, email: 'before@example.com' });
    });

    it('an event without data[list_id] cannot be keyed: a dead letter, nothing stored; other bad payloads answer as before', async () => {
      const before = await t.store.db.selectFrom('records').select('external_id').execute();
      for (const body of <Record<string, string>[]>[
        { type: 'subscribe', fired_at: '2026-04-04 10:00:00', 'data[email]': 'nolist@example.com' },
        { type: 'upemail', fired_at: '2026-04-04 10:00:00', 'data[old_email]': 'two@example.com', 'data[new_email]': 'x@example.com' },
        { type: 'cleaned', fired_at: '2026-04-04 10:00:00', 'data[list_id]': ' ', 'data[email]': 'two@example.com' },
      ]) {
        const res = await postMailchimp(t.app, body);
        expect(res.statusCode).toBe(200);
        expect(res.json().events[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('data[list_id]') });
      }
      const noEmail = await postMailchimp(t.app, { type: 'subscribe', fired_at: '2026-04-04 10:00:00', 'data[list_id]': 'aud00001' });
      expect(noEmail.json().events[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('data[email]') });
      expectProblem(await postMailchimp(t.app, { fired_at: '2026-04-04 10:00:00', 'data[list_id]': 'aud00001' }), 422);
      const json = await t.app.inject({
        method: 'POST',
        url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
        headers: { 'content-type': 'application/json' },
        payload: '{}',
      });
      expectProblem(json, 415);
      expect(await t.store.db.selectFrom('records').select('external_id').execute()).toEqual(before);
      expect((await inboxRows(t.store, '/webhooks/mailchimp')).filter((r) => r.status === 'failed')).toHaveLength(4);
    });
  });
}
