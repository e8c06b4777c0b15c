/**
 * Upstream faults during crm (HubSpot) syncs: rate limits with
 * Retry-After, bursts of 5xx, timeouts and malformed pages. A transient fault
 * is survived with exact counts; one that does not pass fails the task
 * cleanly, keeps what was committed, and the next run completes from the
 * checkpoint. Request counts are exact: each fault costs one request more.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/providers/fakes.js';
import { ENGINES } from '../helpers/databases.js';
import { Harness, contactIds, dataTotal, expectExactly, hubspotConnector, runSync, since } from './sync-helpers.js';

const CONTACTS = '/crm/v3/objects/contacts';

for (const engine of ENGINES) {
  describe(`crm sync through upstream faults on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    // 500 contacts: 5 live list pages and 1 archived one.
    const PAGES = 6;
    const boot = async (timeoutMs?: number) => {
      hs = await startFakeHubspot({ contacts: 500 });
      return h.boot(new Map([['crm', hubspotConnector(hs, timeoutMs === undefined ? {} : { timeoutMs })]]));
    };
    const faulted = () => hs!.state.requests.entries.filter((e) => e.fault !== undefined);

    it('a 429 with Retry-After is waited out', async () => {
      const app = await boot();
      hs!.faults.rateLimit({ pathPrefix: CONTACTS, skip: 2, retryAfterSeconds: 1 });
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ pages: PAGES, records_fetched: 500, records_written: 500 });
      expect(faulted().map((e) => e.status)).toEqual([429]);
      expect(hs!.state.requests.length).toBe(PAGES + 1);
      // The retry asked for the same page again.
      const entries = hs!.state.requests.entries;
      expect(entries[3]?.query.after).toBe(entries[2]?.query.after);
      await expectExactly(app, 'crm', contactIds(500));
    });

    it('a burst of 500s and 503s is retried through', async () => {
      const app = await boot();
      hs!.faults.status(500, { pathPrefix: CONTACTS, skip: 1, times: 2 });
      hs!.faults.status(503, { pathPrefix: CONTACTS, times: 2 });
      hs!.faults.status(502, { pathPrefix: CONTACTS, skip: 2, times: 1 });
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ pages: PAGES, records_fetched: 500, records_written: 500 });
      expect(faulted().map((e) => e.status)).toEqual([500, 500, 503, 503, 502]);
      expect(hs!.state.requests.length).toBe(PAGES + 5);
      await expectExactly(app, 'crm', contactIds(500));
    });

    it('a request that never answers times out and is retried', async () => {
      const app = await boot(1_000);
      hs!.faults.hang({ pathPrefix: CONTACTS, skip: 3 });
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(faulted().map((e) => e.fault)).toEqual(['hang']);
      expect(hs!.state.requests.length).toBe(PAGES + 1);
      await expectExactly(app, 'crm', contactIds(500));
    });

    it('a cut-off JSON page is retried; one that stays broken fails the task cleanly, and the next run completes', async () => {
      const app = await boot();
      hs!.faults.malformed('invalid-json', { pathPrefix: CONTACTS, skip: 1 });
      const ok = await runSync(app, 'crm');
      expect(ok.status, ok.error ?? '').toBe('succeeded');
      expect(hs!.state.requests.length).toBe(PAGES + 1);
      await expectExactly(app, 'crm', contactIds(500));

      // A fresh full sync whose third page stays broken: the client gives up after its JSON retries.
      const mark = hs!.state.requests.length;
      const broken = hs!.faults.malformed('invalid-json', { pathPrefix: CONTACTS, skip: 2, times: Infinity });
      const failed = await runSync(app, 'crm', '?full=true');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/not JSON/);
      expect(failed.progress.pages).toBe(2);
      broken.cancel();
      const resumeMark = hs!.state.requests.length;
      const resumed = await runSync(app, 'crm');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      const live = since(hs!.state.requests.entries, resumeMark).filter((e) => e.query.archived !== 'true');
      expect(live[0]?.query.after).toBe('1201');
      expect(live).toHaveLength(3);
      expect(resumeMark - mark).toBe(2 + 3); // two good pages, then the first try and two retries of the third
      await expectExactly(app, 'crm', contactIds(500));
    });

    it('a page without its results array fails the task; committed pages stay and the next run resumes', async () => {
      const app = await boot();
      hs!.faults.malformed('missing-collection', { pathPrefix: CONTACTS, skip: 2 });
      const failed = await runSync(app, 'crm');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/results/);
      expect(failed.progress).toMatchObject({ pages: 2, records_fetched: 200 });
      expect(await dataTotal(app, 'crm')).toBe(200);
      await expectExactly(app, 'crm', contactIds(200));

      const mark = hs!.state.requests.length;
      const resumed = await runSync(app, 'crm');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      const entries = since(hs!.state.requests.entries, mark);
      expect(entries.map((e) => [e.query.after ?? null, e.query.archived])).toEqual([
        ['1201', 'false'],
        ['1301', 'false'],
        ['1401', 'false'],
        [null, 'true'],
      ]);
      expect(resumed.progress.records_fetched).toBe(300);
      await expectExactly(app, 'crm', contactIds(500));
    });
  });
}
