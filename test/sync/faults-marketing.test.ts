/**
 * Upstream faults during marketing (Mailchimp) syncs: rate limits with
 * Retry-After, bursts of 5xx, timeouts and malformed pages. A transient fault
 * is survived with exact counts; one that does not pass fails the task
 * cleanly, keeps what was committed, and the next run completes from the
 * checkpoint. Request counts are exact: each fault costs one request more.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import { ENGINES } from '../helpers/databases.js';
import { Harness, dataTotal, expectExactly, mailchimpConnector, runSync, since } from './sync-helpers.js';

const CAMPAIGNS = '/3.0/campaigns';

for (const engine of ENGINES) {
  describe(`marketing sync through upstream faults on ${engine.name}`, () => {
    const h = new Harness(engine);
    let mc: FakeMailchimp | undefined;

    afterEach(async () => {
      await h.reset();
      await mc?.close();
      mc = undefined;
    });
    afterAll(() => h.drop());

    // 1,050 campaigns: two pages (1,000 and 50).
    const PAGES = 2;
    const boot = async (timeoutMs?: number, campaigns = 1_050) => {
      mc = await startFakeMailchimp({ campaigns });
      return h.boot(new Map([['marketing', mailchimpConnector(mc, timeoutMs === undefined ? {} : { client: { timeoutMs } })]]));
    };
    const ids = () => Array.from({ length: mc!.state.baseCount }, (_, i) => mc!.state.idAt(i));
    const faulted = () => mc!.state.requests.entries.filter((e) => e.fault !== undefined);

    it('a 429 with Retry-After and a burst of 503s are retried through', async () => {
      const app = await boot();
      mc!.faults.rateLimit({ pathPrefix: CAMPAIGNS, retryAfterSeconds: 1 });
      mc!.faults.status(503, { pathPrefix: CAMPAIGNS, skip: 1, times: 3 });
      const task = await runSync(app, 'marketing');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ pages: PAGES, records_fetched: 1_050, records_written: 1_050 });
      expect(faulted().map((e) => e.status)).toEqual([429, 503, 503, 503]);
      expect(mc!.state.requests.length).toBe(PAGES + 4);
      await expectExactly(app, 'marketing', ids());
    });

    it('a page whose body stalls after the headers times out and is retried', async () => {
      // A small account (one page), so that no honest page comes near the short timeout.
      const app = await boot(1_000, 40);
      mc!.faults.hang({ pathPrefix: CAMPAIGNS, afterHeaders: true });
      const task = await runSync(app, 'marketing');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ pages: 1, records_fetched: 40, records_written: 40 });
      expect(mc!.state.requests.entries.map((e) => [e.query.offset, e.fault ?? null])).toEqual([
        ['0', 'hang'],
        ['0', null],
      ]);
      await expectExactly(app, 'marketing', ids());
    });

    it('a page without its campaigns array fails the task; the first page stays, and the next run walks every campaign again', async () => {
      const app = await boot();
      mc!.faults.malformed('missing-collection', { pathPrefix: CAMPAIGNS, skip: 1 });
      const failed = await runSync(app, 'marketing');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/campaigns/);
      expect(failed.progress).toMatchObject({ pages: 1, records_fetched: 1_000 });
      expect(await dataTotal(app, 'marketing')).toBe(1_000);

      const mark = mc!.state.requests.length;
      const resumed = await runSync(app, 'marketing');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      // A walk of every campaign is done whole in one run (it is what tells deletions): it starts over.
      expect(since(mc!.state.requests.entries, mark).map((e) => e.query.offset)).toEqual(['0', '1000']);
      expect(resumed.progress).toMatchObject({ records_fetched: 1_050, records_written: 50 });
      await expectExactly(app, 'marketing', ids());
    });

    it('a cut-off JSON page is retried; an empty 200 body fails the task cleanly, and the next run completes', async () => {
      const app = await boot();
      mc!.faults.malformed('invalid-json', { pathPrefix: CAMPAIGNS });
      mc!.faults.malformed('empty-body', { pathPrefix: CAMPAIGNS, skip: 1 });
      const failed = await runSync(app, 'marketing');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/campaigns/);
      // The cut-off first page was fetched again and committed; the empty second one was not.
      expect(mc!.state.requests.entries.map((e) => [e.query.offset, e.fault ?? null])).toEqual([
        ['0', 'malformed'],
        ['0', null],
        ['1000', 'malformed'],
      ]);
      expect(await dataTotal(app, 'marketing')).toBe(1_000);

      const resumed = await runSync(app, 'marketing');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      // The walk of every campaign starts over: both pages again.
      expect(mc!.state.requests.entries.slice(3).map((e) => [e.query.offset, e.fault ?? null])).toEqual([
        ['0', null],
        ['1000', null],
      ]);
      await expectExactly(app, 'marketing', ids());
    });
  });
}
