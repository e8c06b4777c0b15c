import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerFromContact } from '../../../src/providers/hubspot/contact-mapping.js';
import { type HubspotEvent, hubspotEventKey } from '../../../src/providers/hubspot/webhook.js';
import { applyRecordWrites } from '../../../src/store/record-writes.js';
import { inWriteTransaction } from '../../../src/store/write-transaction.js';
import { expectProblem, startApp, storedSnapshot, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { breakRecordWrites, HOOK_HOST, hsEvent, HUBSPOT_SECRET, hubspotV3, inboxRows, postHubspot, record, T0 } from '../../helpers/webhooks.js';

const MIN = 60_000;

for (const engine of ENGINES) {
  describe(`HubSpot webhooks on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    describe('v3 signature', () => {
      const events = [hsEvent({ eventId: 1, subscriptionType: 'contact.creation', objectId: 5001 })];

      it('takes a request signed over method + URI + body + timestamp with the client secret', async () => {
        const res = await postHubspot(t.app, events);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toMatchObject({
          status: 'received',
          events: [{ event_id: 1, status: 'processed', records: [{ external_id: '5001', result: 'created' }] }],
        });
      });

      it('takes the http:// URI a TLS-terminating proxy forwards, and X-Forwarded-Host/Proto', async () => {
        const a = await postHubspot(t.app, [hsEvent({ eventId: 2, subscriptionType: 'contact.creation', objectId: 5002 })], {
          uri: `http://${HOOK_HOST}/webhooks/hubspot`,
        });
        expect(a.statusCode, a.body).toBe(200);
        const b = await postHubspot(t.app, [hsEvent({ eventId: 3, subscriptionType: 'contact.creation', objectId: 5003 })], {
          uri: 'https://public.example.org/webhooks/hubspot',
          headers: { 'x-forwarded-host': 'public.example.org', 'x-forwarded-proto': 'https' },
        });
        expect(b.statusCode, b.body).toBe(200);
      });

      it('signs the query string too, with the escapes HubSpot decodes before signing', async () => {
        const url = '/webhooks/hubspot?portal=a%3Ab%2Fc&x=%20';
        const res = await postHubspot(t.app, [hsEvent({ eventId: 4, subscriptionType: 'contact.creation', objectId: 5004 })], {
          url,
          uri: `https://${HOOK_HOST}/webhooks/hubspot?portal=a:b/c&x=%20`,
        });
        expect(res.statusCode, res.body).toBe(200);
      });

      it('refuses a bad, missing, stale or future signature with 401 problem JSON, storing nothing', async () => {
        const before = await storedSnapshot(t.store);
        const body = JSON.stringify([hsEvent({ eventId: 90, subscriptionType: 'contact.creation', objectId: 5090 })]);
        const cases = [
          postHubspot(t.app, body, { secret: 'another-secret' }),
          postHubspot(t.app, body, { secret: null }),
          postHubspot(t.app, body, { timestamp: Date.now() - 6 * MIN }),
          postHubspot(t.app, body, { timestamp: Date.now() + 6 * MIN }),
          postHubspot(t.app, body, { uri: `https://${HOOK_HOST}/somewhere-else` }),
          postHubspot(t.app, body, { headers: { 'x-hubspot-request-timestamp': 'yesterday' } }),
        ];
        for (const res of await Promise.all(cases)) {
          const p = expectProblem(res, 401);
          expect(p.type).toBe('/problems/invalid-signature');
        }
        // A body changed after signing.
        const ts = String(Date.now());
        const sig = hubspotV3(HUBSPOT_SECRET, 'POST', `https://${HOOK_HOST}/webhooks/hubspot`, body, ts);
        const tampered = await t.app.inject({
          method: 'POST',
          url: '/webhooks/hubspot',
          headers: { host: HOOK_HOST, 'content-type': 'application/json', 'x-hubspot-request-timestamp': ts, 'x-hubspot-signature-v3': sig },
          payload: body.replace('5090', '5091'),
        });
        expectProblem(tampered, 401);
        expect(await storedSnapshot(t.store)).toBe(before);
      });

      it('accepts a timestamp just inside the 5 minutes', async () => {
        const res = await postHubspot(t.app, [hsEvent({ eventId: 5, subscriptionType: 'contact.creation', objectId: 5005 })], {
          timestamp: Date.now() - 4 * MIN,
        });
        expect(res.statusCode, res.body).toBe(200);
      });

      it('refuses bodies that are not HubSpot event arrays: 415, 400, 422', async () => {
        expectProblem(await postHubspot(t.app, '[]', { headers: { 'content-type': 'text/plain' } }), 415);
        expectProblem(await postHubspot(t.app, '[{"eventId": 1'), 400);
        expectProblem(await postHubspot(t.app, '[]'), 422);
        const p = expectProblem(await postHubspot(t.app, [{ eventId: 'x', subscriptionType: 'contact.creation' }]), 422);
        expect(p.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['/body/0/eventId', '/body/0/portalId']));
      });
    });

    describe('events', () => {
      it('contact.creation creates the customer with what the event carries (source crm, id = contact id)', async () => {
        const res = await postHubspot(t.app, [hsEvent({ eventId: 10, subscriptionType: 'contact.creation', objectId: 6001, occurredAt: T0 })]);
        expect(res.json().events[0]).toMatchObject({ status: 'processed', records: [{ type: 'customer', external_id: '6001', result: 'created' }] });
        const c = (await record(t.app, 'customers', '6001')).json();
        expect(c).toMatchObject({ external_id: '6001', source: 'crm', id: 6001, name: null, email: null, deleted_at: null });
        expect(c.attributes.createdAt).toBe(new Date(T0).toISOString());
        expect(c.attributes.hubspot_webhook.last_event).toEqual({ id: 10, type: 'contact.creation', occurred_at: new Date(T0).toISOString() });
      });

      it('contact.propertyChange applies the change to the stored customer', async () => {
        const res = await postHubspot(t.app, [
          hsEvent({
            eventId: 11,
            subscriptionType: 'contact.propertyChange',
            objectId: 6001,
            occurredAt: T0 + 1000,
            propertyName: 'firstname',
            propertyValue: 'Ann',
          }),
          hsEvent({
            eventId: 12,
            subscriptionType: 'contact.propertyChange',
            objectId: 6001,
            occurredAt: T0 + 2000,
            propertyName: 'email',
            propertyValue: 'ann@example.com',
          }),
          hsEvent({
            eventId: 13,
            subscriptionType: 'contact.propertyChange',
            objectId: 6001,
            occurredAt: T0 + 3000,
            propertyName: 'lastname',
            propertyValue: 'Lee',
          }),
        ]);
        expect(res.json().events.map((e: { status: string }) => e.status)).toEqual(['processed', 'processed', 'processed']);
        const c = (await record(t.app, 'customers', '6001')).json();
        expect(c).toMatchObject({ name: 'Ann Lee', email: 'ann@example.com', source: 'crm' });
        expect(c.attributes).toMatchObject({ firstname: 'Ann', lastname: 'Lee' });
        expect(c.attributes.hubspot_webhook.property_times).toEqual({
          firstname: new Date(T0 + 1000).toISOString(),
          email: new Date(T0 + 2000).toISOString(),
          lastname: new Date(T0 + 3000).toISOString(),
        });
      });

      it('propertyChange for an unknown contact creates it with that property', async () => {
        await postHubspot(t.app, [
          hsEvent({ eventId: 14, subscriptionType: 'contact.propertyChange', objectId: 6002, propertyName: 'email', propertyValue: 'new@example.com' }),
        ]);
        expect((await record(t.app, 'customers', '6002')).json()).toMatchObject({ email: 'new@example.com', source: 'crm', id: 6002 });
      });

      it('out of order: changes of different properties all apply; an older change of the same property is stale', async () => {
        const at = T0 + 10 * MIN;
        const change = (eventId: number, occurredAt: number, propertyName: string, propertyValue: string) =>
          hsEvent({ eventId, subscriptionType: 'contact.propertyChange', objectId: 6003, occurredAt, propertyName, propertyValue });
        await postHubspot(t.app, [change(20, at + 2000, 'lastname', 'Newer')]);
        await postHubspot(t.app, [change(21, at + 1000, 'firstname', 'Older')]);
        const stale = await postHubspot(t.app, [change(22, at + 500, 'lastname', 'Oldest')]);
        expect(stale.json().events[0]).toMatchObject({ status: 'processed', records: [{ result: 'stale' }] });
        expect((await record(t.app, 'customers', '6003')).json()).toMatchObject({ name: 'Older Newer' });
      });

      it('a webhook and a sync of the same contact share one row; an event older than the synced snapshot is stale', async () => {
        const snapshot = T0 + 60 * MIN;
        const contact = {
          id: '6004',
          properties: { firstname: 'Syn', lastname: 'Ced', email: 'sync@example.com', lastmodifieddate: new Date(snapshot).toISOString() },
        };
        await inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, [customerFromContact(contact, 'crm')]));
        const older = await postHubspot(t.app, [
          hsEvent({
            eventId: 30,
            subscriptionType: 'contact.propertyChange',
            objectId: 6004,
            occurredAt: snapshot - 1000,
            propertyName: 'firstname',
            propertyValue: 'Old',
          }),
        ]);
        expect(older.json().events[0].records[0].result).toBe('stale');
        const newer = await postHubspot(t.app, [
          hsEvent({
            eventId: 31,
            subscriptionType: 'contact.propertyChange',
            objectId: 6004,
            occurredAt: snapshot + 1000,
            propertyName: 'firstname',
            propertyValue: 'New',
          }),
        ]);
        expect(newer.json().events[0].records[0].result).toBe('updated');
        let c = (await record(t.app, 'customers', '6004')).json();
        expect(c).toMatchObject({ name: 'New Ced', email: 'sync@example.com', source: 'crm' });

        // The next sync, newer still, updates the same row and replaces the webhook's bookkeeping.
        const later = { id: '6004', properties: { ...contact.properties, firstname: 'Again', lastmodifieddate: new Date(snapshot + 5000).toISOString() } };
        const [applied] = await inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, [customerFromContact(later, 'crm')]));
        expect(applied?.result).toBe('updated');
        c = (await record(t.app, 'customers', '6004')).json();
        expect(c.name).toBe('Again Ced');
        expect(c.attributes.hubspot_webhook).toBeUndefined();
        const rows = await t.store.db.selectFrom('records').select('row_id').where('type', '=', 'customer').where('external_id', '=', '6004').execute();
        expect(rows).toHaveLength(1);
      });

      it('contact.deletion leaves a tombstone (applyRecordWrites with deleted), hidden unless asked for', async () => {
        await postHubspot(t.app, [hsEvent({ eventId: 40, subscriptionType: 'contact.creation', objectId: 6005 })]);
        await postHubspot(t.app, [
          hsEvent({
            eventId: 41,
            subscriptionType: 'contact.propertyChange',
            objectId: 6005,
            occurredAt: T0 + 1,
            propertyName: 'firstname',
            propertyValue: 'Gone',
          }),
        ]);
        const res = await postHubspot(t.app, [hsEvent({ eventId: 42, subscriptionType: 'contact.deletion', objectId: 6005, occurredAt: T0 + 5000 })]);
        expect(res.json().events[0].records).toEqual([{ type: 'customer', external_id: '6005', result: 'deleted' }]);
        expect((await t.app.inject('/customers/6005')).statusCode).toBe(404);
        const c = (await record(t.app, 'customers', '6005')).json();
        expect(c.deleted_at).not.toBeNull();
        expect(c.name).toBe('Gone'); // the tombstone keeps the last known fields
        // A deletion of a contact never seen still leaves a tombstone, so a later sync lines up with it.
        await postHubspot(t.app, [hsEvent({ eventId: 43, subscriptionType: 'contact.deletion', objectId: 6006 })]);
        expect((await record(t.app, 'customers', '6006')).json().deleted_at).not.toBeNull();
        // A change of a deleted contact changes nothing; contact.restore brings it back.
        const late = await postHubspot(t.app, [
          hsEvent({
            eventId: 44,
            subscriptionType: 'contact.propertyChange',
            objectId: 6005,
            occurredAt: T0 + 9000,
            propertyName: 'firstname',
            propertyValue: 'X',
          }),
        ]);
        expect(late.json().events[0].records[0].result).toBe('stale');
        await postHubspot(t.app, [hsEvent({ eventId: 45, subscriptionType: 'contact.restore', objectId: 6005, occurredAt: T0 + 10_000 })]);
        expect((await t.app.inject('/customers/6005')).json()).toMatchObject({ name: 'Gone', deleted_at: null });
      });

      it('contact.privacyDeletion erases the personal data and keeps a bare tombstone', async () => {
        await postHubspot(t.app, [
          hsEvent({ eventId: 50, subscriptionType: 'contact.propertyChange', objectId: 6007, propertyName: 'email', propertyValue: 'private@example.com' }),
          hsEvent({ eventId: 51, subscriptionType: 'contact.propertyChange', objectId: 6007, propertyName: 'firstname', propertyValue: 'Pri' }),
        ]);
        await postHubspot(t.app, [hsEvent({ eventId: 52, subscriptionType: 'contact.privacyDeletion', objectId: 6007, occurredAt: T0 + 1000 })]);
        const c = (await record(t.app, 'customers', '6007')).json();
        expect(c.deleted_at).not.toBeNull();
        expect(c).toMatchObject({ name: null, email: null });
        expect(JSON.stringify(c)).not.toContain('private@example.com');
        expect(JSON.stringify(c)).not.toContain('Pri');
      });

      it('generic object.* subscriptions for contacts (objectTypeId 0-1) are handled too', async () => {
        const res = await postHubspot(t.app, [
          hsEvent({
            eventId: 60,
            subscriptionType: 'object.propertyChange',
            objectTypeId: '0-1',
            objectId: 6008,
            propertyName: 'lastname',
            propertyValue: 'Generic',
          }),
        ]);
        expect(res.json().events[0].status).toBe('processed');
        expect((await record(t.app, 'customers', '6008')).json().name).toBe('Generic');
      });
    });

    describe('de-duplication on eventId', () => {
      it('a repeated event (a HubSpot retry, attemptNumber moved) is recorded as a duplicate pointing at the first, and applied once', async () => {
        const first = hsEvent({ eventId: 70, subscriptionType: 'contact.propertyChange', objectId: 6010, propertyName: 'firstname', propertyValue: 'Once' });
        const a = await postHubspot(t.app, [first]);
        expect(a.json().events[0].status).toBe('processed');
        const firstId = a.json().events[0].inbox_id as number;
        const before = await storedSnapshot(t.store);
        const retry = await postHubspot(t.app, [{ ...first, attemptNumber: 1 }]);
        expect(retry.statusCode).toBe(200);
        expect(retry.json().events[0]).toMatchObject({ status: 'duplicate', duplicate_of: firstId, records: [] });
        expect(await storedSnapshot(t.store)).toBe(before);
        const rows = await inboxRows(t.store, '/webhooks/hubspot');
        const dup = rows.find((r) => r.id === retry.json().events[0].inbox_id);
        expect(dup).toMatchObject({ status: 'duplicate', duplicate_of: firstId, idempotency_key: null });
        expect(rows.find((r) => r.id === firstId)).toMatchObject({ status: 'processed', idempotency_key: hubspotEventKey(first as HubspotEvent) });
      });

      it('a repeat inside one request is a duplicate of the copy before it', async () => {
        const e = hsEvent({ eventId: 71, subscriptionType: 'contact.creation', objectId: 6011 });
        const res = await postHubspot(t.app, [e, e]);
        const [one, two] = res.json().events;
        expect(one.status).toBe('processed');
        expect(two).toMatchObject({ status: 'duplicate', duplicate_of: one.inbox_id });
      });

      it('the same eventId in another portal is another event', async () => {
        const e = hsEvent({ eventId: 72, subscriptionType: 'contact.creation', objectId: 6012 });
        await postHubspot(t.app, [e]);
        const other = await postHubspot(t.app, [{ ...e, portalId: 99, objectId: 6013 }]);
        expect(other.json().events[0].status).toBe('processed');
      });

      it('a retry of an event whose first copy was stored but never processed (the process died) processes it', async () => {
        const e = hsEvent({ eventId: 73, subscriptionType: 'contact.propertyChange', objectId: 6014, propertyName: 'firstname', propertyValue: 'Late' });
        const stuck = await t.store.db
          .insertInto('webhook_inbox')
          .values({
            received_at: Date.now(),
            route: '/webhooks/hubspot',
            idempotency_key: hubspotEventKey(e as HubspotEvent),
            headers: '{}',
            body: JSON.stringify(e),
            status: 'received',
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        const res = await postHubspot(t.app, [{ ...e, attemptNumber: 1 }]);
        expect(res.json().events[0]).toMatchObject({ status: 'duplicate', duplicate_of: Number(stuck.id) });
        expect((await inboxRows(t.store)).find((r) => r.id === Number(stuck.id))?.status).toBe('processed');
        expect((await record(t.app, 'customers', '6014')).json().name).toBe('Late');
      });
    });

    describe('dead letters', () => {
      it('an event of a type this service does not handle is kept as failed; its neighbours are processed', async () => {
        const res = await postHubspot(t.app, [
          hsEvent({ eventId: 80, subscriptionType: 'deal.creation', objectId: 1 }),
          hsEvent({ eventId: 81, subscriptionType: 'contact.creation', objectId: 6020 }),
          hsEvent({ eventId: 82, subscriptionType: 'contact.propertyChange', objectId: 6020 }),
        ]);
        expect(res.statusCode).toBe(200);
        const [deal, ok, noProp] = res.json().events;
        expect(deal).toMatchObject({ status: 'failed', error: expect.stringContaining('deal.creation is not handled') });
        expect(ok.status).toBe('processed');
        expect(noProp).toMatchObject({ status: 'failed', error: expect.stringContaining('propertyName') });
        const row = (await inboxRows(t.store)).find((r) => r.id === deal.inbox_id);
        expect(row).toMatchObject({ status: 'failed', error: expect.stringContaining('deal.creation') });
        expect(JSON.parse(row?.body ?? '{}')).toMatchObject({ eventId: 80, subscriptionType: 'deal.creation' });
      });

      it('a store failure while processing keeps that event as failed, the others are stored, and replay processes it once the store heals', async () => {
        const broken = await breakRecordWrites(t.store, '777%');
        let healed = false;
        try {
          const res = await postHubspot(t.app, [
            hsEvent({ eventId: 190, subscriptionType: 'contact.creation', objectId: 6030 }),
            hsEvent({ eventId: 191, subscriptionType: 'contact.propertyChange', objectId: 777001, propertyName: 'firstname', propertyValue: 'Poison' }),
            hsEvent({ eventId: 192, subscriptionType: 'contact.creation', objectId: 6031 }),
          ]);
          expect(res.statusCode, res.body).toBe(200);
          const [a, bad, c] = res.json().events;
          expect([a.status, bad.status, c.status]).toEqual(['processed', 'failed', 'processed']);
          // The sender is not shown the store's error; the inbox keeps it for operators.
          expect(bad.error).not.toContain('simulated store failure');
          const row = (await inboxRows(t.store)).find((r) => r.id === bad.inbox_id);
          expect(row?.error).toContain('simulated store failure');
          expect((await record(t.app, 'customers', '6030')).statusCode).toBe(200);
          expect((await record(t.app, 'customers', '777001')).statusCode).toBe(404);

          await broken.heal();
          healed = true;
          const replay = await t.app.inject({ method: 'POST', url: `/webhooks/events/${bad.inbox_id}/replay` });
          expect(replay.statusCode, replay.body).toBe(200);
          expect(replay.json()).toEqual({
            id: bad.inbox_id,
            status: 'processed',
            records: [{ type: 'customer', external_id: '777001', result: 'created' }],
            error: null,
          });
          expect((await record(t.app, 'customers', '777001')).json().name).toBe('Poison');
        } finally {
          if (!healed) await broken.heal();
        }
      });
    });
  });

  describe(`HubSpot webhooks without HUBSPOT_CLIENT_SECRET on ${engine.name}`, () => {
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

    it('takes unsigned events', async () => {
      const res = await postHubspot(t.app, [hsEvent({ eventId: 1, subscriptionType: 'contact.creation', objectId: 1 })], { secret: null });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().events[0].status).toBe('processed');
    });
  });
}

describe('deletion and restore out of order', () => {
  const engine = ENGINES[0]!;

  describe(`HubSpot deletion/restore out of order on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    const post = (e: Record<string, unknown>) => postHubspot(t.app, [hsEvent(e as never)]);

    it('a restore older than the stored deletion does not bring the contact back', async () => {
      // Upstream: deleted at +1s, restored at +2s, deleted again at +3s. Delivered: 1s, 3s, then the late 2s restore.
      await post({ eventId: 1, subscriptionType: 'contact.creation', objectId: 7001, occurredAt: T0 });
      await post({ eventId: 2, subscriptionType: 'contact.deletion', objectId: 7001, occurredAt: T0 + 1000 });
      await post({ eventId: 4, subscriptionType: 'contact.deletion', objectId: 7001, occurredAt: T0 + 3000 });
      const late = await post({ eventId: 3, subscriptionType: 'contact.restore', objectId: 7001, occurredAt: T0 + 2000 });
      expect(late.statusCode).toBe(200);
      const rec = (await record(t.app, 'customers', '7001')).json();
      // The contact's last upstream state (deleted at +3s) must win.
      expect(rec.deleted_at, JSON.stringify(late.json())).not.toBeNull();
    });

    it('a deletion older than an already-applied restore does not delete the contact', async () => {
      // Upstream: deleted at +1s, restored at +2s. Delivered: restore first (contact still live: "unchanged"), then the deletion.
      await post({ eventId: 11, subscriptionType: 'contact.creation', objectId: 7002, occurredAt: T0 });
      const restore = await post({ eventId: 13, subscriptionType: 'contact.restore', objectId: 7002, occurredAt: T0 + 2000 });
      expect(restore.statusCode).toBe(200);
      const del = await post({ eventId: 12, subscriptionType: 'contact.deletion', objectId: 7002, occurredAt: T0 + 1000 });
      expect(del.statusCode).toBe(200);
      const rec = (await record(t.app, 'customers', '7002')).json();
      // The later event (restore at +2s) must win: the contact is live.
      expect(rec.deleted_at, JSON.stringify(del.json())).toBeNull();
    });
  });
});

describe('an event whose occurredAt is out of range', () => {
  // occurredAt passes the schema (an integer >= 0) and contactEvent's isFinite
  // check, but past 8.64e15 ms `new Date(ms).toISOString()` threw a RangeError
  // inside the handler. Not a DeliveryRejected, the event was handled as a
  // *store failure*: the request's processing transaction rolled back and was
  // retried event by event, tributary_store_errors_total moved, and the sender
  // was told "could not be processed ... replay" instead of the reason.
  for (const engine of ENGINES) {
    describe(`HubSpot event with an out-of-range occurredAt, on ${engine.name}`, () => {
      let db: ScratchDatabase;
      let t: TestApp;
      beforeAll(async () => {
        db = await engine.create();
        t = await startApp(db); // HubSpot unsigned (the default)
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('is a dead letter with its reason, not counted as a store error', async () => {
        const before = (await t.app.metrics.storeErrors.get()).values.reduce((n, v) => n + v.value, 0);
        const res = await postHubspot(t.app, [hsEvent({ eventId: 900, subscriptionType: 'contact.creation', objectId: 900, occurredAt: 9e15 })], {
          secret: null,
        });
        expect(res.statusCode, res.body).toBe(200);
        const [row] = await inboxRows(t.store, '/webhooks/hubspot');
        const after = (await t.app.metrics.storeErrors.get()).values.reduce((n, v) => n + v.value, 0);
        expect(row?.status).toBe('failed');
        expect(row?.error ?? '').not.toMatch(/RangeError|Invalid time value/);
        expect(after - before).toBe(0);
      });
    });
  }
});
