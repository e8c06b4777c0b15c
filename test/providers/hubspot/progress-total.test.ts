/**
 * GET /tasks shows a HubSpot run's percent from its first page: a first load
 * counts the contacts with one search of one result, an incremental run
 * takes the `total` of its first search page.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { ENGINES } from '../../helpers/databases.js';
import { getTask, Harness, hubspotConnector, runSync, startSync, waitFor, waitForTask } from '../../helpers/sync.js';

const SEARCH = '/crm/v3/objects/contacts/search';

for (const engine of ENGINES) {
  describe(`HubSpot progress with a total on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    it('a first load shows its total and percent from the first committed page', async () => {
      hs = await startFakeHubspot({ contacts: 1_000, latencyMs: 120 });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      const id = await startSync(app, 'crm');
      const early = await waitFor(async () => {
        const t = await getTask(app, id);
        return t.progress.pages >= 1 ? t : undefined;
      }, 'the first page');
      expect(early.status).toBe('running');
      expect(early.progress.total_estimate).toBe(1_000);
      expect(early.progress.percent).toBe((early.progress.records_fetched / 1_000) * 100);
      expect(early.progress.percent).toBeLessThan(100);

      const done = await waitForTask(app, id);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(done.progress).toMatchObject({ total_estimate: 1_000, percent: 100, records_fetched: 1_000 });
      // One search, the count: one result, one property.
      const searches = hs.state.requests.entries.filter((e) => e.path === SEARCH);
      expect(searches).toHaveLength(1);
      expect(searches[0]?.body).toMatchObject({ limit: 1, properties: ['hs_object_id'], filterGroups: [] });
    });

    it('an incremental run shows the total of its first search page from that page on', async () => {
      hs = await startFakeHubspot({ contacts: 100 });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      let clock = Date.now();
      const tick = () => (clock += 1);
      for (let i = 0; i < 700; i += 1) {
        hs.state.createContact({ firstname: `N${i}`, createdate: new Date(tick()).toISOString() });
      }
      hs.faults.setLatency(150);
      const id = await startSync(app, 'crm');
      const early = await waitFor(async () => {
        const t = await getTask(app, id);
        return t.progress.pages >= 1 ? t : undefined;
      }, 'the first page');
      expect(early.progress.total_estimate).toBeGreaterThanOrEqual(700);
      expect(early.progress.percent).not.toBeNull();
      const done = await waitForTask(app, id);
      expect(done.status, done.error ?? '').toBe('succeeded');
    });

    it('a count that fails costs the percent, not the run', async () => {
      hs = await startFakeHubspot({ contacts: 300 });
      hs.faults.status(500, { pathPrefix: SEARCH, times: Infinity });
      const crm = hubspotConnector(hs, { maxRetries: 1 });
      const app = await h.boot(new Map([['crm', crm]]));
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ records_fetched: 300, total_estimate: null, percent: 100 });
    });
  });
}
