import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { hsEvent, inboxRows, postHubspot } from '../webhooks/helpers.js';

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
