/**
 * A HubSpot property named like one of the connector's own attributes
 * (`merged_into`, `merged_ids`, `hubspot_webhook`) is kept under
 * `hubspot_property_<name>`, by the sync and by webhooks alike, so neither
 * overwrites the other; the record link is `recordUrl`. On every engine.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../../src/app.js';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { attributeOf, PROPERTY_PREFIX } from '../../../src/providers/hubspot/attribute-keys.js';
import { customerFromContact } from '../../../src/providers/hubspot/contact-mapping.js';
import { ENGINES } from '../../helpers/databases.js';
import { Harness, runSync } from '../../helpers/sync.js';
import { hsEvent, HUBSPOT_SECRET, postHubspot } from '../../helpers/webhooks.js';

const MIN = 60_000;

describe('attribute names of HubSpot properties', () => {
  it('keeps a property under its own name unless the connector writes that attribute itself', () => {
    const w = customerFromContact(
      {
        id: '7',
        properties: { email: 'a@example.com', url: 'https://example.com', merged_into: 'x', merged_ids: 'y', hubspot_webhook: 'z' },
        createdAt: '2024-01-01T00:00:00.000Z',
        url: 'https://app.hubspot.com/contacts/1/record/0-1/7',
      },
      'crm',
    );
    expect(w.attributes).toEqual({
      email: 'a@example.com',
      url: 'https://example.com',
      [`${PROPERTY_PREFIX}merged_into`]: 'x',
      [`${PROPERTY_PREFIX}merged_ids`]: 'y',
      [`${PROPERTY_PREFIX}hubspot_webhook`]: 'z',
      createdAt: '2024-01-01T00:00:00.000Z',
      recordUrl: 'https://app.hubspot.com/contacts/1/record/0-1/7',
    });
    expect(attributeOf('company')).toBe('company');
  });
});

for (const engine of ENGINES) {
  describe(`HubSpot properties named like connector attributes on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;
    let clock = 0;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    const customer = async (app: App, id: string, deleted = false): Promise<{ attributes: Record<string, unknown> }> => {
      const res = await app.inject(`/customers/${id}${deleted ? '?include_deleted=true' : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { attributes: Record<string, unknown> };
    };

    it('a sync, a property-change event and a merge each keep their own attribute', async () => {
      clock = Date.now() + MIN;
      hs = await startFakeHubspot({ contacts: 5, now: () => clock });
      for (const name of ['merged_into', 'merged_ids', 'hubspot_webhook']) hs.state.properties.define(name);
      hs.state.updateContact('1002', { merged_into: 'their value', merged_ids: 'their list', hubspot_webhook: 'their note' });
      const app = await h.bootFromEnv({ HUBSPOT_BASE_URL: hs.url, HUBSPOT_ACCESS_TOKEN: hs.token, HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      expect((await runSync(app, 'crm')).status).toBe('succeeded');

      const synced = await customer(app, '1002');
      expect(synced.attributes).toMatchObject({
        [`${PROPERTY_PREFIX}merged_into`]: 'their value',
        [`${PROPERTY_PREFIX}merged_ids`]: 'their list',
        [`${PROPERTY_PREFIX}hubspot_webhook`]: 'their note',
        recordUrl: expect.stringMatching(/\/record\/0-1\/1002$/),
      });
      expect(synced.attributes).not.toHaveProperty('merged_into');
      expect(synced.attributes).not.toHaveProperty('hubspot_webhook');

      // An event for the property named like the webhook note: the note stays the connector's.
      const occurredAt = clock + MIN;
      const event = hsEvent({
        eventId: 1,
        subscriptionType: 'contact.propertyChange',
        objectId: 1002,
        propertyName: 'hubspot_webhook',
        propertyValue: 'their newer note',
        occurredAt,
      });
      const res = await postHubspot(app, [event]);
      expect(res.json()).toMatchObject({ events: [{ status: 'processed' }] });
      const changed = await customer(app, '1002');
      expect(changed.attributes[`${PROPERTY_PREFIX}hubspot_webhook`]).toBe('their newer note');
      expect(changed.attributes.hubspot_webhook).toMatchObject({ property_times: { hubspot_webhook: new Date(occurredAt).toISOString() } });
      expect(changed.attributes.recordUrl).toBe(synced.attributes.recordUrl);

      // An older sync keeps the event's value of that property, under the same prefixed name.
      clock += 1;
      hs.state.updateContact('1002', { company: 'Synced Co' });
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      const resynced = await customer(app, '1002');
      expect(resynced.attributes).toMatchObject({ company: 'Synced Co', [`${PROPERTY_PREFIX}hubspot_webhook`]: 'their newer note' });

      // A merge into 1002: merged_ids is the connector's list; the portal's value stays beside it.
      clock += MIN * 2;
      hs.state.mergeContacts('1002', '1004');
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      const survivor = await customer(app, '1002');
      expect(survivor.attributes).toMatchObject({ merged_ids: ['1004'], [`${PROPERTY_PREFIX}merged_ids`]: 'their list' });
      expect((await customer(app, '1004', true)).attributes).toMatchObject({ merged_into: '1002' });
    });
  });
}
