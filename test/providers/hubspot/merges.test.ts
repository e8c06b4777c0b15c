/**
 * Merged HubSpot contacts, through the sync (hs_merged_object_ids) and
 * through the contact.merge webhook: the merged-away id becomes a tombstone
 * that names the survivor, and the survivor lists what was merged into it.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { ENGINES } from '../../helpers/databases.js';
import { hsEvent, HUBSPOT_SECRET, postHubspot } from '../../helpers/webhooks.js';
import { contactIds, dataTotal, Harness, hubspotConnector, runSync } from '../../helpers/sync.js';
import type { App } from '../../../src/app.js';

async function customer(app: App, id: string, includeDeleted = false): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.inject(`/customers/${id}${includeDeleted ? '?include_deleted=true' : ''}`);
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

for (const engine of ENGINES) {
  describe(`HubSpot merges on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    const boot = (fake: FakeHubspot) => h.boot(new Map([['crm', hubspotConnector(fake)]]), { HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });

    it('a merge seen by an incremental sync tombstones the merged-away id, pointing at the survivor', async () => {
      hs = await startFakeHubspot({ contacts: 50 });
      const app = await boot(hs);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect((await customer(app, '1010')).body.deleted_at).toBeNull();

      hs.state.mergeContacts('1005', '1010');
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');

      expect((await customer(app, '1010')).status).toBe(404);
      const gone = await customer(app, '1010', true);
      expect(gone.status).toBe(200);
      expect(gone.body).toMatchObject({ external_id: '1010', deleted_at: expect.any(String), attributes: { merged_into: '1005' } });
      const survivor = await customer(app, '1005');
      expect(survivor.body).toMatchObject({ deleted_at: null, attributes: { merged_ids: ['1010'], hs_merged_object_ids: '1010' } });
      expect(await dataTotal(app, 'crm')).toBe(49);
      expect(await dataTotal(app, 'crm', true)).toBe(50);

      // Seen again (the survivor comes back within the lookback): nothing is written, the tombstone stays.
      const again = await runSync(app, 'crm');
      expect(again.status, again.error ?? '').toBe('succeeded');
      expect(again.progress.records_written).toBe(0);
      expect((await customer(app, '1010', true)).body).toMatchObject({ deleted_at: expect.any(String), attributes: { merged_into: '1005' } });

      // A second merge into the same survivor: both ids listed, both tombstones.
      hs.state.mergeContacts('1005', '1011');
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect((await customer(app, '1005')).body).toMatchObject({ attributes: { merged_ids: ['1010', '1011'] } });
      expect((await customer(app, '1011', true)).body).toMatchObject({ deleted_at: expect.any(String), attributes: { merged_into: '1005' } });
      expect(await dataTotal(app, 'crm')).toBe(48);
    });

    it('a merge made before the first load leaves a tombstone for an id the store never saw', async () => {
      hs = await startFakeHubspot({ contacts: 30 });
      hs.state.mergeContacts('1001', '1020');
      const app = await boot(hs);
      const full = await runSync(app, 'crm');
      expect(full.status, full.error ?? '').toBe('succeeded');
      expect(await dataTotal(app, 'crm')).toBe(29);
      expect((await customer(app, '1020', true)).body).toMatchObject({ deleted_at: expect.any(String), attributes: { merged_into: '1001' } });
      expect((await customer(app, '1001')).body).toMatchObject({ attributes: { merged_ids: ['1020'] } });
      // The merged-away contact is in neither list: not a live contact, not an archived one.
      const listed = await app.inject('/data?source=crm&limit=1000');
      const ids = (listed.json().items as Array<{ external_id: string }>).map((r) => r.external_id).sort();
      expect(ids).toEqual(contactIds(30).filter((id) => id !== '1020'));
    });

    it('a contact.merge webhook tombstones the merged ids at once; a later deletion of them is stale', async () => {
      hs = await startFakeHubspot({ contacts: 20 });
      const app = await boot(hs);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');

      const occurredAt = Date.now();
      const merge = hsEvent({
        eventId: 801,
        subscriptionType: 'contact.merge',
        objectId: 1003,
        occurredAt,
        primaryObjectId: 1003,
        mergedObjectIds: [1007, 1008],
        newObjectId: 1003,
        numberOfPropertiesMoved: 4,
      });
      const res = await postHubspot(app, [merge]);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().events[0]).toMatchObject({ status: 'processed' });

      for (const id of ['1007', '1008']) {
        expect((await customer(app, id)).status).toBe(404);
        expect((await customer(app, id, true)).body).toMatchObject({ deleted_at: expect.any(String), attributes: { merged_into: '1003' } });
      }
      const survivor = await customer(app, '1003');
      expect(survivor.body).toMatchObject({ deleted_at: null, attributes: { merged_ids: ['1007', '1008'] } });
      // The survivor keeps what the sync brought.
      expect(survivor.body.email).toBe(hs.state.getContact('1003')?.properties.email);

      // A deletion or restore of a merged-away id arriving later does not undo the merge.
      const late = await postHubspot(app, [
        hsEvent({ eventId: 802, subscriptionType: 'contact.restore', objectId: 1007, occurredAt: occurredAt + 1_000 }),
        hsEvent({ eventId: 803, subscriptionType: 'contact.deletion', objectId: 1008, occurredAt: occurredAt + 1_000 }),
      ]);
      expect(late.statusCode, late.body).toBe(200);
      expect((await customer(app, '1007')).status).toBe(404);
      expect((await customer(app, '1008', true)).body).toMatchObject({ attributes: { merged_into: '1003' } });

      // The sync then sees the same merge upstream: it agrees, and writes no tombstone again.
      hs.state.mergeContacts('1003', '1007');
      hs.state.mergeContacts('1003', '1008');
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect((await customer(app, '1007', true)).body).toMatchObject({ deleted_at: expect.any(String), attributes: { merged_into: '1003' } });
      expect((await customer(app, '1003')).body).toMatchObject({ deleted_at: null, attributes: { merged_ids: ['1007', '1008'] } });
      expect(await dataTotal(app, 'crm')).toBe(18);
    });

    it('a merge event without its ids is a dead letter, not a write', async () => {
      hs = await startFakeHubspot({ contacts: 5 });
      const app = await boot(hs);
      const res = await postHubspot(app, [hsEvent({ eventId: 900, subscriptionType: 'contact.merge', objectId: 1001, primaryObjectId: 1001 })]);
      expect(res.statusCode, res.body).toBe(200);
      expect(JSON.stringify(res.json())).toMatch(/mergedObjectIds/);
      expect(await dataTotal(app, 'crm', true)).toBe(0);
    });
  });
}
