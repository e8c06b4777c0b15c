import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, SEED_CAMPAIGN, SEED_CUSTOMER, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { form, hsEvent, MAILCHIMP_SECRET, postHubspot } from '../helpers/webhooks.js';

/**
 * A replay runs the code the delivery's arrival ran. Each delivery below is
 * sent to one store, and kept as a dead letter in another (the same raw row,
 * as the inbox stores it) and replayed there: records and stored answers
 * must come out the same.
 */

interface Delivery {
  name: string;
  send(t: TestApp): Promise<unknown>;
  /** Records it writes, as GET paths. */
  reads: string[];
}

const mailchimpBody = form({
  type: 'subscribe',
  fired_at: '2026-03-01 10:00:00',
  'data[id]': 'ab12',
  'data[list_id]': 'a6b5da1054',
  'data[email]': 'Replay.Me@Example.com',
  'data[merges][FNAME]': 'Re',
  'data[merges][LNAME]': 'Play',
});

const DELIVERIES: Delivery[] = [
  {
    name: 'generic (POST /webhook)',
    send: (t) => postWebhook(t.app, { customer: SEED_CUSTOMER, campaign: [SEED_CAMPAIGN] }, { 'webhook-id': 'msg_replay_same_1' }),
    reads: [`/customers/${SEED_CUSTOMER.external_id}`, `/campaigns/${SEED_CAMPAIGN.external_id}`],
  },
  {
    name: 'hubspot (POST /webhooks/hubspot)',
    send: (t) =>
      postHubspot(
        t.app,
        [hsEvent({ eventId: 9001, subscriptionType: 'contact.propertyChange', objectId: 7001, propertyName: 'firstname', propertyValue: 'Rhea' })],
        {
          secret: null,
        },
      ),
    reads: ['/customers/7001'],
  },
  {
    name: 'mailchimp (POST /webhooks/mailchimp/{secret})',
    send: (t) =>
      t.app.inject({
        method: 'POST',
        url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: mailchimpBody,
      }),
    reads: [],
  },
];

/** What a record shows, less what depends on when it was written. */
function content(json: Record<string, unknown>): Record<string, unknown> {
  const { updated_at: _u, created_at: _c, ...rest } = json;
  return rest;
}

for (const engine of ENGINES) {
  describe(`a replay does what the delivery's arrival did, on ${engine.name}`, () => {
    const dbs: ScratchDatabase[] = [];
    let arrived: TestApp;
    let replayed: TestApp;

    beforeAll(async () => {
      const env = { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET };
      dbs.push(await engine.create(), await engine.create());
      arrived = await startApp(dbs[0] as ScratchDatabase, env);
      replayed = await startApp(dbs[1] as ScratchDatabase, env);
    });
    afterAll(async () => {
      await arrived?.close();
      await replayed?.close();
      for (const db of dbs) await db.drop();
    });

    for (const d of DELIVERIES) {
      it(d.name, async () => {
        const before = await arrived.store.db.selectFrom('webhook_inbox').select('id').orderBy('id', 'desc').executeTakeFirst();
        await d.send(arrived);
        const rows = await arrived.store.db
          .selectFrom('webhook_inbox')
          .selectAll()
          .where('id', '>', before?.id ?? 0)
          .orderBy('id')
          .execute();
        expect(rows.length).toBeGreaterThan(0);
        const reads = [...d.reads];
        for (const row of rows) {
          expect(row.status).toBe('processed');
          // The same raw row, kept as a dead letter in the other store, then replayed.
          const dead = await replayed.store.db
            .insertInto('webhook_inbox')
            .values({
              received_at: row.received_at,
              route: row.route,
              idempotency_key: row.idempotency_key,
              headers: typeof row.headers === 'string' ? row.headers : JSON.stringify(row.headers),
              body: row.body,
              status: 'failed',
              error: 'kept for this test',
            })
            .returning('id')
            .executeTakeFirstOrThrow();
          const res = await replayed.app.inject({ method: 'POST', url: `/webhooks/events/${Number(dead.id)}/replay` });
          expect(res.statusCode, res.body).toBe(200);
          expect(res.json()).toMatchObject({ status: 'processed' });

          const original = (await arrived.app.inject(`/webhooks/events/${Number(row.id)}`)).json();
          const again = (await replayed.app.inject(`/webhooks/events/${Number(dead.id)}`)).json();
          expect(again.status).toBe('processed');
          expect(again.response).toEqual(original.response);
          for (const r of (original.response?.records ?? original.response?.body?.records ?? []) as Array<{ type: string; external_id: string }>) {
            reads.push(`/${r.type === 'customer' ? 'customers' : 'campaigns'}/${encodeURIComponent(r.external_id)}`);
          }
        }
        expect(reads.length).toBeGreaterThan(0);
        for (const path of new Set(reads)) {
          const a = await arrived.app.inject(`${path}?include_deleted=true`);
          const b = await replayed.app.inject(`${path}?include_deleted=true`);
          expect(a.statusCode, path).toBe(200);
          expect(content(b.json()), path).toEqual(content(a.json()));
        }
      });
    }
  });
}
