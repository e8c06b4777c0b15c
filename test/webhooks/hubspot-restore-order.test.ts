import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { hsEvent, HUBSPOT_SECRET, postHubspot, record, T0 } from '../webhooks/helpers.js';

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
