import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, SEED_CAMPAIGN, SEED_CUSTOMER, startApp, storedSnapshot, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

for (const engine of ENGINES) {
  describe(`webhooks on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('stores the seed customer and campaign, and answers with what was stored', async () => {
      const res = await postWebhook(t.app, { customer: SEED_CUSTOMER, campaign: SEED_CAMPAIGN });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        status: 'stored',
        delivery_id: null,
        stored: 2,
        records: [
          { type: 'customer', external_id: 'cust_12345', result: 'created' },
          { type: 'campaign', external_id: 'camp_67890', result: 'created' },
        ],
      });
      const customer = (await t.app.inject('/customers/cust_12345')).json();
      expect(customer).toMatchObject({ type: 'customer', source: 'webhook', id: 1, name: 'John Doe', email: 'john.doe@example.com' });
      const campaign = (await t.app.inject('/campaigns/camp_67890')).json();
      expect(campaign).toMatchObject({ name: 'Winter Sale', status: 'active', budget: 5000, details: SEED_CAMPAIGN.details });
    });

    it('the seed route /receive_webhook does the same', async () => {
      const res = await postWebhook(t.app, { customer: { external_id: 'legacy_1', name: 'Old Route' } }, {}, '/receive_webhook');
      expect(res.statusCode).toBe(200);
      expect((await t.app.inject('/customers/legacy_1')).statusCode).toBe(200);
    });

    it('takes arrays of both types and keeps every extra field in attributes', async () => {
      const res = await postWebhook(t.app, {
        customer: [
          { external_id: 'arr_1', email: 'a1@example.com', vip: true },
          { external_id: 'arr_2', nested: { deep: [1, { x: 2 }] } },
        ],
        campaign: [{ external_id: 'arr_c', channel: 'email' }],
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().stored).toBe(3);
      expect((await t.app.inject('/customers/arr_2')).json().attributes).toEqual({ nested: { deep: [1, { x: 2 }] } });
      expect((await t.app.inject('/campaigns/arr_c')).json().attributes).toEqual({ channel: 'email' });
    });

    it('a second write of the same key updates the one row', async () => {
      await postWebhook(t.app, { customer: { external_id: 'up_1', name: 'First' } });
      await postWebhook(t.app, { customer: { external_id: 'up_1', name: 'Second' } });
      expect((await t.app.inject('/customers/up_1')).json().name).toBe('Second');
      const rows = await t.store.db.selectFrom('records').select('row_id').where('external_id', '=', 'up_1').execute();
      expect(rows).toHaveLength(1);
    });

    it('out-of-order deliveries: the older one does not overwrite the newer', async () => {
      await postWebhook(t.app, { customer: { external_id: 'ooo', name: 'Newer', updated_at: '2026-05-02T10:00:00Z' } });
      const res = await postWebhook(t.app, { customer: { external_id: 'ooo', name: 'Older', updated_at: '2026-05-01T10:00:00Z' } });
      expect(res.statusCode).toBe(200);
      expect(res.json().records[0].result).toBe('stale');
      expect((await t.app.inject('/customers/ooo')).json().name).toBe('Newer');
    });

    it('a no-op write keeps updated_at', async () => {
      await postWebhook(t.app, { campaign: { external_id: 'same', name: 'S', budget: 1 } });
      const first = (await t.app.inject('/campaigns/same')).json();
      await new Promise((r) => setTimeout(r, 10));
      const res = await postWebhook(t.app, { campaign: { external_id: 'same', name: 'S', budget: 1 } });
      expect(res.json().records[0].result).toBe('unchanged');
      expect((await t.app.inject('/campaigns/same')).json().updated_at).toBe(first.updated_at);
    });

    for (const header of ['webhook-id', 'idempotency-key']) {
      it(`a repeated ${header} gets the first answer and writes nothing`, async () => {
        const key = `key-${header}`;
        const first = await postWebhook(t.app, { customer: { external_id: `idem-${header}`, name: 'Once' } }, { [header]: key });
        expect(first.statusCode).toBe(200);
        const before = await storedSnapshot(t.store);
        const again = await postWebhook(t.app, { customer: { external_id: `idem-${header}`, name: 'Twice' } }, { [header]: key });
        expect(again.statusCode).toBe(200);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(again.json()).toEqual(first.json());
        expect(await storedSnapshot(t.store)).toBe(before);
        expect((await t.app.inject(`/customers/idem-${header}`)).json().name).toBe('Once');
      });
    }

    it('keeps every delivery raw in the inbox, without credentials', async () => {
      const raw = '{"customer": {"external_id": "inbox_1",   "spacing": "kept"}}';
      await postWebhook(t.app, raw, { 'webhook-id': 'inbox-raw', authorization: 'Bearer secret' });
      const row = await t.store.db.selectFrom('webhook_inbox').selectAll().where('idempotency_key', '=', 'inbox-raw').executeTakeFirstOrThrow();
      expect(row.body).toBe(raw);
      expect(row.status).toBe('processed');
      const headers = t.store.dialect.decodeJson(row.headers) as Record<string, string>;
      expect(headers['webhook-id']).toBe('inbox-raw');
      expect(headers.authorization).toBeUndefined();
    });

    it('accepts exactly 1000 records and refuses 1001 with 422, storing nothing', async () => {
      const many = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ external_id: `${p}_${i}` }));
      const ok = await postWebhook(t.app, { customer: many(600, 'k'), campaign: many(400, 'k') });
      expect(ok.statusCode).toBe(200);
      const before = await storedSnapshot(t.store);
      const tooMany = await postWebhook(t.app, { customer: many(600, 'm'), campaign: many(401, 'm') });
      expect(tooMany.statusCode).toBe(422);
      expect(tooMany.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await storedSnapshot(t.store)).toBe(before);
    });

    it('2,000 webhooks from 32 concurrent clients are all stored exactly once', async () => {
      const base = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const total = 2000;
      let next = 0;
      const statuses: number[] = [];
      const client = async () => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          const res = await fetch(`${base}/webhook`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'webhook-id': `conc-${i}` },
            body: JSON.stringify({ customer: { external_id: `concurrent-${i}`, name: `C ${i}` } }),
          });
          statuses.push(res.status);
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: 32 }, client));
      expect(statuses.filter((s) => s === 200)).toHaveLength(total);
      const rows = await t.store.db
        .selectFrom('records')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('external_id').distinct().as('d')])
        .where('external_id', 'like', 'concurrent-%')
        .executeTakeFirstOrThrow();
      expect(Number(rows.n)).toBe(total);
      expect(Number(rows.d)).toBe(total);
      const inbox = await t.store.db
        .selectFrom('webhook_inbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('idempotency_key', 'like', 'conc-%')
        .executeTakeFirstOrThrow();
      expect(Number(inbox.n)).toBe(total);
    });
  });
}
