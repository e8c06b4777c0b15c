import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { HUBSPOT_SECRET, hsEvent, postHubspot, record, T0 } from '../webhooks/helpers.js';

/**
 * The generic route's webhook-id / Idempotency-Key and HubSpot's event keys
 * (`hubspot:<portal>:<sub>:<event>:<occurredAt>`) live in one unique column and
 * one lookup: a generic delivery that took a HubSpot event's key would make
 * the real event a "duplicate", never applied. The prefix is reserved.
 */
for (const engine of ENGINES) {
  describe(`generic and HubSpot idempotency keys kept apart on ${engine.name}`, () => {
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

    it('a generic delivery may not take a HubSpot event key, and the HubSpot event is applied', async () => {
      const event = hsEvent({ eventId: 77, subscriptionType: 'contact.creation', objectId: 4242, occurredAt: T0 });
      const key = `hubspot:${event.portalId}:${event.subscriptionId}:77:${T0}`;
      const generic = await postWebhook(t.app, { customer: { external_id: 'unrelated_1' } }, { 'webhook-id': key });
      expect(generic.statusCode).toBe(422);
      expect(generic.json().errors[0]).toMatchObject({ path: '/header/webhook-id' });
      expect((await record(t.app, 'customers', 'unrelated_1')).statusCode).toBe(404);

      const res = await postHubspot(t.app, [event]);
      expect(res.statusCode).toBe(200);
      expect(res.json().events[0].status).toBe('processed');
      expect((await record(t.app, 'customers', '4242')).statusCode).toBe(200);
    });
  });
}
