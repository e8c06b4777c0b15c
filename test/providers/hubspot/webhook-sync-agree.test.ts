/**
 * Webhook and sync agree property by property: a `contact.propertyChange`
 * is kept until a sync brings a snapshot of the contact at least as new as
 * the event; an older snapshot still brings its other properties. The real
 * webhook route and the real connector against the fake, on every engine.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { customPropertyName } from '../../../src/providers/hubspot/fake/properties.js';
import { ENGINES } from '../../helpers/databases.js';
import { hsEvent, HUBSPOT_SECRET, postHubspot } from '../../helpers/webhooks.js';
import { Harness, runSync } from '../../helpers/sync.js';
import type { App } from '../../../src/app.js';

const MIN = 60_000;
const ID = '1002';
const CUSTOM = customPropertyName(7);

interface Customer {
  name: string | null;
  email: string | null;
  attributes: Record<string, unknown>;
}

for (const engine of ENGINES) {
  describe(`webhook and sync agree on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;
    // The fake's clock: its changes are stamped from it, a little ahead of the real one so incremental searches find them.
    let clock = 0;
    let eventId = 1;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    async function setUp(): Promise<App> {
      clock = Date.now() + MIN;
      hs = await startFakeHubspot({ contacts: 5, customProperties: 20, now: () => clock });
      const app = await h.bootFromEnv({ HUBSPOT_BASE_URL: hs.url, HUBSPOT_ACCESS_TOKEN: hs.token, HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      return app;
    }

    async function change(app: App, propertyName: string, propertyValue: string, occurredAt: number) {
      const event = hsEvent({ eventId: eventId++, subscriptionType: 'contact.propertyChange', objectId: Number(ID), propertyName, propertyValue, occurredAt });
      const res = await postHubspot(app, [event]);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ events: [{ status: 'processed' }] });
    }

    const customer = async (app: App): Promise<Customer> => {
      const res = await app.inject(`/customers/${ID}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as Customer;
    };

    const sync = async (app: App) => {
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
    };

    it('a sync whose snapshot is older than the event keeps the webhook value of a custom property, and brings the others', async () => {
      const app = await setUp();
      // HubSpot's state as the sync will read it: changed at `clock`, before the event below.
      clock += MIN;
      hs!.state.updateContact(ID, { [CUSTOM]: 'older, from the sync', company: 'Synced Co' });
      await change(app, CUSTOM, 'newer, from the webhook', clock + MIN);
      expect((await customer(app)).attributes[CUSTOM]).toBe('newer, from the webhook');

      await sync(app);
      const after = await customer(app);
      expect(after.attributes[CUSTOM]).toBe('newer, from the webhook');
      expect(after.attributes.company).toBe('Synced Co');
      // A second run of the same snapshot changes nothing.
      await sync(app);
      expect((await customer(app)).attributes[CUSTOM]).toBe('newer, from the webhook');
    });

    it('a sync whose snapshot is newer than the event replaces the webhook value', async () => {
      const app = await setUp();
      await change(app, CUSTOM, 'from the webhook', clock + MIN);
      clock += 2 * MIN;
      hs!.state.updateContact(ID, { [CUSTOM]: 'newer, from the sync' });
      await sync(app);
      expect((await customer(app)).attributes[CUSTOM]).toBe('newer, from the sync');
      // No event time is left to hold the property: a later webhook-free sync keeps following HubSpot.
      clock += MIN;
      hs!.state.updateContact(ID, { [CUSTOM]: null });
      await sync(app);
      expect((await customer(app)).attributes[CUSTOM]).toBeNull();
    });

    it('a snapshot at the very time of the event (it already holds the change) replaces it too', async () => {
      const app = await setUp();
      clock += MIN;
      hs!.state.updateContact(ID, { [CUSTOM]: 'as HubSpot has it' });
      await change(app, CUSTOM, 'as the event said', clock);
      await sync(app);
      expect((await customer(app)).attributes[CUSTOM]).toBe('as HubSpot has it');
    });

    it('mapped properties agree too: a name part and the email set by events survive an older sync, columns included', async () => {
      const app = await setUp();
      clock += MIN;
      hs!.state.updateContact(ID, { firstname: 'Old', email: 'old@example.com', lastname: 'Synced' });
      await change(app, 'firstname', 'Hooked', clock + MIN);
      await change(app, 'email', 'hooked@example.com', clock + MIN);
      await sync(app);
      const after = await customer(app);
      expect(after.name).toBe('Hooked Synced');
      expect(after.email).toBe('hooked@example.com');
      expect(after.attributes).toMatchObject({ firstname: 'Hooked', lastname: 'Synced', email: 'hooked@example.com' });
    });
  });
}
