import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/open-store.js';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const KEY = 'duplicate-bodies-key-0123';
const AUTH = { authorization: `Bearer ${KEY}` };
const REPEATS = 50;

/** Bytes the inbox table takes on disk (PostgreSQL: with its TOAST and indexes). */
async function inboxBytes(store: Store): Promise<number> {
  if (store.dialect.name === 'postgres') {
    const { rows } = await sql<{ n: string | number }>`select pg_total_relation_size('webhook_inbox') as n`.execute(store.db);
    return Number(rows[0]?.n);
  }
  const { rows } = await sql<{ n: number }>`select sum(pgsize) as n from dbstat where name = 'webhook_inbox'`.execute(store.db);
  return Number(rows[0]?.n);
}

for (const engine of ENGINES) {
  describe(`repeats of a large delivery on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { API_KEY: KEY });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it(`${REPEATS} repeats keep one body, not ${REPEATS + 1}; every repeat shows the first copy's`, async () => {
      // Random text: PostgreSQL would compress a repeated letter to almost nothing and hide the growth.
      const body = JSON.stringify({ customer: { external_id: 'dup_large', notes: randomBytes(150_000).toString('base64') } });
      const bodyBytes = Buffer.byteLength(body);
      const first = await postWebhook(t.app, body, { 'webhook-id': 'dup-large-1' });
      expect(first.statusCode).toBe(200);
      const before = await inboxBytes(t.store);

      for (let i = 0; i < REPEATS; i++) {
        const res = await postWebhook(t.app, body, { 'webhook-id': 'dup-large-1' });
        expect(res.statusCode).toBe(200);
        expect(res.headers['idempotent-replayed']).toBe('true');
      }
      const growth = (await inboxBytes(t.store)) - before;
      // Fifty small rows (headers, the answer) fit in far less than one body; fifty bodies would be 50 times it.
      expect(growth).toBeLessThan(bodyBytes);

      const rows = await t.store.db.selectFrom('webhook_inbox').select(['id', 'status', 'duplicate_of', 'body']).orderBy('id').execute();
      expect(rows).toHaveLength(REPEATS + 1);
      expect(rows[0]).toMatchObject({ status: 'processed', body });
      const firstId = rows[0]?.id;
      for (const r of rows.slice(1)) expect(r).toMatchObject({ status: 'duplicate', duplicate_of: firstId, body: '' });

      // The API shows each repeat with its first copy's body, in the list and alone.
      const listed = await t.app.inject({ url: '/webhooks/events?status=duplicate&limit=5', headers: AUTH });
      expect(listed.statusCode).toBe(200);
      const items = (listed.json() as { items: Array<{ body: string | null; duplicate_of: number }> }).items;
      expect(items.length).toBeGreaterThan(0);
      for (const item of items) expect(item).toMatchObject({ duplicate_of: firstId, body });
      const one = await t.app.inject({ url: `/webhooks/events/${rows[REPEATS]?.id}`, headers: AUTH });
      expect(one.json()).toMatchObject({ status: 'duplicate', duplicate_of: firstId, body });
    });

    it('a repeat whose first copy has been deleted shows no body (null), and a duplicate stored with its own body still shows it', async () => {
      expect((await postWebhook(t.app, { customer: { external_id: 'dup_gone' } }, { 'webhook-id': 'dup-gone-1' })).statusCode).toBe(200);
      expect((await postWebhook(t.app, { customer: { external_id: 'dup_gone' } }, { 'webhook-id': 'dup-gone-1' })).statusCode).toBe(200);
      const [first, repeat] = await t.store.db
        .selectFrom('webhook_inbox')
        .select(['id', 'duplicate_of'])
        .where((eb) =>
          eb.or([
            eb('idempotency_key', '=', 'dup-gone-1'),
            eb('duplicate_of', 'in', eb.selectFrom('webhook_inbox').select('id').where('idempotency_key', '=', 'dup-gone-1')),
          ]),
        )
        .orderBy('id')
        .execute();
      expect(repeat?.duplicate_of).toBe(first?.id);
      await t.store.db
        .deleteFrom('webhook_inbox')
        .where('id', '=', first?.id as number)
        .execute();
      const gone = await t.app.inject({ url: `/webhooks/events/${repeat?.id}`, headers: AUTH });
      expect(gone.statusCode).toBe(200);
      expect(gone.json()).toMatchObject({ status: 'duplicate', body: null });

      // A row written before duplicates kept no body (an older version's) is shown as it was stored.
      const older = await t.store.db
        .insertInto('webhook_inbox')
        .values({
          received_at: Date.now(),
          route: '/webhook',
          idempotency_key: null,
          duplicate_of: repeat?.id ?? null,
          headers: '{}',
          body: '{"own":true}',
          status: 'duplicate',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      expect((await t.app.inject({ url: `/webhooks/events/${older.id}`, headers: AUTH })).json()).toMatchObject({ body: '{"own":true}' });
    });
  });
}
