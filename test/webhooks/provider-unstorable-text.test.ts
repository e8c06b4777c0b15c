import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { hsEvent, HUBSPOT_SECRET, MAILCHIMP_SECRET, postHubspot, postMailchimp } from '../webhooks/helpers.js';

// The generic route refuses U+0000 / unpaired surrogates (422) and the syncs
// clean them (storableWrite); the provider webhook routes did neither. On
// PostgreSQL a raw NUL byte in a Mailchimp body made the inbox insert fail
// (500 for bad input), and a NUL or lone surrogate inside an event value made
// the event a dead letter no replay could fix, while SQLite stored it. Now the
// NUL byte is a 400 and event values are cleaned as a sync cleans them.
for (const engine of ENGINES) {
  describe(`provider webhooks with text PostgreSQL cannot keep, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET, MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('a Mailchimp body with a raw NUL byte is a 400, not a 500', async () => {
      const payload = Buffer.concat([
        Buffer.from('type=subscribe&fired_at=2026-01-01+00:00:00&data[email]=nul@example.com&data[merges][FNAME]=A'),
        Buffer.from([0]),
        Buffer.from('B'),
      ]);
      const res = await t.app.inject({
        method: 'POST',
        url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload,
      });
      expect(res.statusCode, res.body).toBe(400);
    });

    it('a Mailchimp event with %00 in a merge field is processed, not a permanent dead letter', async () => {
      const res = await postMailchimp(t.app, {
        type: 'subscribe',
        fired_at: '2026-01-01 00:00:00',
        'data[email]': 'pct@example.com',
        'data[merges][FNAME]': 'A\u0000B',
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().events[0], res.body).toMatchObject({ status: 'processed' });
    });

    it('a HubSpot propertyChange whose value holds U+0000 is processed, not a permanent dead letter', async () => {
      const res = await postHubspot(t.app, [
        hsEvent({ eventId: 501, subscriptionType: 'contact.propertyChange', objectId: 501, propertyName: 'firstname', propertyValue: 'A\u0000B' }),
      ]);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().events[0], res.body).toMatchObject({ status: 'processed' });
    });

    it('a HubSpot propertyChange whose value is an unpaired surrogate is processed, not a permanent dead letter', async () => {
      const body = JSON.stringify([
        hsEvent({ eventId: 502, subscriptionType: 'contact.propertyChange', objectId: 502, propertyName: 'lastname', propertyValue: 'X' }),
      ]).replace('"X"', '"\\ud800"');
      const res = await postHubspot(t.app, body);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().events[0], res.body).toMatchObject({ status: 'processed' });
    });
  });
}
