/**
 * One portal: HubSpot webhook events of another portalId than
 * HUBSPOT_PORTAL_ID, or else the token's portal (read once from the fake's
 * account details by a sync and kept in the store), are dead letters.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../../src/providers/fakes.js';
import { PORTAL_KEY } from '../../../src/providers/hubspot/portal.js';
import { openStore } from '../../../src/store/open-store.js';
import { readProviderState } from '../../../src/store/provider-state.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { FAST_TASKS, runSync } from '../../helpers/sync.js';
import { hsEvent, HUBSPOT_SECRET, inboxRows, postHubspot } from '../../helpers/webhooks.js';

const ACCOUNT_DETAILS = '/account-info/v3/details';
const TABLES = ['records', 'record_counts', 'webhook_inbox', 'tasks', 'sync_state', 'provider_state'] as const;

let nextEventId = 1;
/** A contact.creation event of `portalId` for contact `objectId`. */
const created = (portalId: number, objectId: number) => hsEvent({ eventId: nextEventId++, subscriptionType: 'contact.creation', objectId, portalId });

for (const engine of ENGINES) {
  describe(`HubSpot portal check on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp | undefined;
    let hs: FakeHubspot | undefined;

    beforeAll(async () => {
      db = await engine.create();
    });
    afterEach(async () => {
      await t?.close();
      t = undefined;
      await hs?.close();
      hs = undefined;
      const store = await openStore(db.config);
      try {
        for (const table of TABLES) await store.db.deleteFrom(table).execute();
      } finally {
        await store.close();
      }
    });
    afterAll(() => db?.drop());

    async function boot(env: Record<string, string>): Promise<TestApp> {
      await t?.close();
      t = await startApp(db, { ...FAST_TASKS, HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET, ...env });
      return t;
    }

    it('with HUBSPOT_PORTAL_ID, an event of another portal is a dead letter naming both portals; its own portal applies', async () => {
      const { app, store } = await boot({ HUBSPOT_PORTAL_ID: '62515' });
      const res = await postHubspot(app, [created(999, 7001), created(62515, 7002)]);
      expect(res.statusCode, res.body).toBe(200);
      const [foreign, own] = (res.json() as { events: Array<{ status: string; error: string | null; inbox_id: number }> }).events;
      expect(own).toMatchObject({ status: 'processed', error: null });
      expect(foreign?.status).toBe('failed');
      expect(foreign?.error).toMatch(/portal 999.*portal 62515.*HUBSPOT_PORTAL_ID/);
      expect((await app.inject('/customers/7001')).statusCode).toBe(404);
      expect((await app.inject('/customers/7002')).statusCode).toBe(200);

      const rows = await inboxRows(store, '/webhooks/hubspot');
      expect(rows.map((r) => r.status)).toEqual(['failed', 'processed']);
      expect(rows[0]?.error).toContain('portal 999');
      // A replay applies the same rule: still a dead letter, still not applied.
      const replay = await app.inject({ method: 'POST', url: `/webhooks/events/${foreign?.inbox_id}/replay` });
      expect(replay.statusCode, replay.body).toBe(200);
      expect(replay.json()).toMatchObject({ status: 'failed', error: expect.stringContaining('portal 999') });
      expect((await inboxRows(store, '/webhooks/hubspot'))[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('portal 999') });
      expect((await app.inject('/customers/7001')).statusCode).toBe(404);
    });

    it("without it, a sync reads the token's portal once and keeps it; events of another portal are then dead letters, also after a restart", async () => {
      hs = await startFakeHubspot({ contacts: 30, portalId: 777 });
      const env = { HUBSPOT_BASE_URL: hs.url, HUBSPOT_ACCESS_TOKEN: hs.token };
      let { app, store } = await boot(env);

      // Before any sync the portal is not known: events apply whatever their portal.
      const early = await postHubspot(app, [created(62515, 8001)]);
      expect(early.json()).toMatchObject({ events: [{ status: 'processed' }] });

      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      const details = () => hs!.state.requests.entries.filter((e) => e.path === ACCOUNT_DETAILS);
      expect(details()).toHaveLength(1);
      expect(details()[0]?.headers.authorization).toBe(`Bearer ${hs.token}`);
      expect(JSON.parse((await readProviderState(store.db, 'hubspot', PORTAL_KEY)) ?? '{}')).toMatchObject({ portalId: 777 });

      const after = await postHubspot(app, [created(62515, 8002), created(777, 8003)]);
      const [foreign, own] = (after.json() as { events: Array<{ status: string; error: string | null }> }).events;
      expect(foreign?.status).toBe('failed');
      expect(foreign?.error).toMatch(/portal 62515.*portal 777/);
      expect(own?.status).toBe('processed');
      expect((await app.inject('/customers/8002')).statusCode).toBe(404);

      // Read once: the next run asks no more.
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect(details()).toHaveLength(1);

      // Kept in the store: a restarted service refuses a foreign event before any sync.
      ({ app, store } = await boot(env));
      const restarted = await postHubspot(app, [created(62515, 8004)]);
      expect(restarted.json()).toMatchObject({ events: [{ status: 'failed' }] });
      expect((await app.inject('/customers/8004')).statusCode).toBe(404);
    });

    it('with HUBSPOT_PORTAL_ID, a sync does not ask for the account details', async () => {
      hs = await startFakeHubspot({ contacts: 5, portalId: 62515 });
      const { app } = await boot({ HUBSPOT_BASE_URL: hs.url, HUBSPOT_ACCESS_TOKEN: hs.token, HUBSPOT_PORTAL_ID: '62515' });
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect(hs.state.requests.entries.filter((e) => e.path === ACCOUNT_DETAILS)).toHaveLength(0);
    });
  });
}
