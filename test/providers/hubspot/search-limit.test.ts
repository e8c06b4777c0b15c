/**
 * HubSpot's CRM search limit (4 requests a second per token): searches keep
 * to HUBSPOT_SEARCH_RATE_LIMIT, and a 429 on search slows the walk down
 * without spending the client's retries. The fake enforces the limit on a
 * shorter window (4 per 250 ms) so 20,000 changes take seconds, not half a minute.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import type { RateLimit } from '../../../src/sources/rate-limit.js';
import { ENGINES } from '../../helpers/databases.js';
import type { App } from '../../../src/app.js';
import { dataTotal, getTask, Harness, hubspotConnector, runSync, startSync, waitFor } from '../../helpers/sync.js';

/** A run of thousands of writes on a shared machine may take longer than runSync waits. */
async function runLong(app: App) {
  const id = await startSync(app, 'crm');
  return waitFor(
    async () => {
      const t = await getTask(app, id);
      return t.status === 'succeeded' || t.status === 'failed' || t.status === 'cancelled' ? t : undefined;
    },
    `task ${id} to end`,
    150_000,
  );
}

const SEARCH = '/crm/v3/objects/contacts/search';
const CHANGED = 20_000;
const FAKE_LIMIT: RateLimit = { requests: 4, perMs: 250 };

for (const engine of ENGINES) {
  describe(`HubSpot search limit on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    /** An account that starts empty (a first load of nothing), with a clock one millisecond a change. */
    async function start(searchRateLimit: RateLimit | null, changed = CHANGED, fakeLimit = FAKE_LIMIT) {
      let clock = Date.now();
      hs = await startFakeHubspot({ contacts: 0, searchRateLimit: fakeLimit, now: () => (clock += 1) });
      // No retries at all: a 429 that spent one would fail the task. The general limit is off to keep the test short.
      const crm = hubspotConnector(hs, { maxRetries: 0, rateLimit: undefined }, { searchRateLimit });
      const app = await h.boot(new Map([['crm', crm]]));
      const first = await runSync(app, 'crm');
      expect(first.status, first.error ?? '').toBe('succeeded');
      for (let i = 0; i < changed; i += 1) hs.state.createContact({ firstname: 'Changed', lastname: String(i) });
      return app;
    }
    const searches = () => hs!.state.requests.entries.filter((e) => e.path === SEARCH);

    it('an incremental run of 20,000 changes through a search limit the fake enforces: every contact, the limit kept', async () => {
      const app = await start(FAKE_LIMIT);
      const inc = await runLong(app);
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(await dataTotal(app, 'crm')).toBe(CHANGED);
      // About 100 pages of 200, sent no faster than 4 a window; a rare 429 (a request that took longer
      // to reach the fake than the one after it) is waited out, never a failure.
      const sent = searches();
      expect(sent.length).toBeGreaterThanOrEqual(CHANGED / 200);
      // On a loaded machine more arrive bunched; most must still pass the first time.
      expect(hs!.searchRefused()).toBeLessThan(sent.length / 4);
    }, 180_000);

    it('without a search limiter of its own, 429s on search slow the run down: every contact, no retry spent', async () => {
      // The fake takes one search a second; the connector sends them as fast as pages commit.
      const app = await start(null, 2_000, { requests: 1, perMs: 1_000 });
      const inc = await runLong(app);
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(hs!.searchRefused()).toBeGreaterThan(0);
      expect(await dataTotal(app, 'crm')).toBe(2_000);
    }, 180_000);

    it('a 429 on search with Retry-After waits that long, then asks again', async () => {
      const app = await start(FAKE_LIMIT, 1_000);
      const mark = hs!.state.requests.length;
      hs!.faults.rateLimit({ pathPrefix: SEARCH, skip: 2, retryAfterSeconds: 1 });
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      const entries = hs!.state.requests.entries.slice(mark);
      const refused = entries.findIndex((e) => e.status === 429);
      expect(refused).toBe(2);
      expect((entries[refused + 1]?.time as number) - (entries[refused]?.time as number)).toBeGreaterThanOrEqual(950);
      // The same query again.
      expect(entries[refused + 1]?.body).toEqual(entries[refused]?.body);
      expect(await dataTotal(app, 'crm')).toBe(1_000);
    }, 90_000);
  });
}
