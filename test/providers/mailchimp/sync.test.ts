/**
 * The marketing source (Mailchimp Marketing API 3.0 campaigns) end to end:
 * the real connector against the fake Mailchimp, driven through /sync and
 * /tasks, read back through /data, on every engine.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { type RecordWrite } from '../../../src/domain/records.js';
import { type FakeMailchimp, startFakeMailchimp } from '../../../src/providers/fakes.js';
import { MailchimpSource, type MailchimpCheckpoint } from '../../../src/providers/mailchimp/connector.js';
import { type SyncContext, type SyncPage } from '../../../src/sources/connector.js';
import { TaskStore } from '../../../src/tasks/task-store.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { waitFor } from '../../helpers/wait.js';
import { sendJson, startUpstream, type Upstream } from '../../helpers/upstream.js';
import { dataTotal, expectExactly, FAST_TASKS, Harness, mailchimpConnector, runSync, since } from '../../helpers/sync.js';

const CAMPAIGNS = '/3.0/campaigns';
/** The audiences, listed once per run after the campaigns (none in these accounts). */
const AUDIENCES = '/3.0/lists';
const campaignsOnly = <T extends { path: string }>(entries: readonly T[]): T[] => entries.filter((e) => e.path !== AUDIENCES);
const DAY = 86_400_000;

for (const engine of ENGINES) {
  describe(`marketing sync (Mailchimp) on ${engine.name}`, () => {
    const h = new Harness(engine);
    let mc: FakeMailchimp | undefined;

    afterEach(async () => {
      await h.reset();
      await mc?.close();
      mc = undefined;
    });
    afterAll(() => h.drop());

    const ids = (m: FakeMailchimp) => Array.from({ length: m.state.baseCount }, (_, i) => m.state.idAt(i));
    const lists = (from = 0) => since(mc!.state.requests.entries, from).filter((e) => e.method === 'GET' && e.path === CAMPAIGNS);

    it('a full sync through the configured default connector stores every campaign once, with exact progress', async () => {
      mc = await startFakeMailchimp({ campaigns: 1_050 });
      const app = await h.bootFromEnv({ MAILCHIMP_BASE_URL: mc.url, MAILCHIMP_API_KEY: mc.apiKey });

      const task = await runSync(app, 'marketing');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ pages: 2, records_fetched: 1_050, records_written: 1_050, total_estimate: 1_050, percent: 100 });
      const requests = lists();
      expect(requests.map((e) => [e.query.offset, e.query.count, e.status])).toEqual([
        ['0', '1000', 200],
        ['1000', '1000', 200],
      ]);
      expect(requests[0]?.query.since_create_time).toBeUndefined();

      const records = await expectExactly(app, 'marketing', ids(mc));
      const id = mc.state.idAt(77);
      const upstream = mc.state.getCampaign(id)!;
      expect(records.find((r) => r.external_id === id)).toMatchObject({
        type: 'campaign',
        source: 'marketing',
        id: upstream.web_id,
        name: upstream.settings.title,
        status: upstream.status,
        deleted_at: null,
        details: { subject_line: upstream.settings.subject_line, list_id: upstream.recipients.list_id, emails_sent: upstream.emails_sent },
      });
      expect((await app.inject('/data?type=campaign&limit=1')).json().total).toBe(1_050);
    });

    it('a full run tombstones the campaigns Mailchimp deleted (each confirmed by a 404); an incremental run does not', async () => {
      mc = await startFakeMailchimp({ campaigns: 30 });
      const app = await h.boot(new Map([['marketing', mailchimpConnector(mc)]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const gone = [mc.state.idAt(3), mc.state.idAt(17)];
      for (const id of gone) mc.state.deleteCampaign(id);

      // Incremental: the listing is partial, so nothing can be concluded from absence.
      let mark = mc.state.requests.length;
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      expect(await dataTotal(app, 'marketing')).toBe(30);
      expect(since(mc.state.requests.entries, mark).filter((e) => e.path !== CAMPAIGNS && e.path !== AUDIENCES)).toEqual([]);

      mark = mc.state.requests.length;
      const full = await runSync(app, 'marketing', '?full=true');
      expect(full.status, full.error ?? '').toBe('succeeded');
      // Exactly the two missing ones were asked about, one by one.
      const checks = since(mc.state.requests.entries, mark).filter((e) => e.path !== CAMPAIGNS && e.path !== AUDIENCES);
      expect(checks.map((e) => [e.path, e.status]).sort()).toEqual(gone.map((id) => [`${CAMPAIGNS}/${id}`, 404]).sort());
      expect(full.progress.records_written).toBe(2);

      await expectExactly(
        app,
        'marketing',
        ids(mc).filter((id) => !gone.includes(id)),
      );
      expect(await dataTotal(app, 'marketing', true)).toBe(30);
      for (const id of gone) {
        const res = await app.inject(`/campaigns/${id}?include_deleted=true`);
        expect(res.statusCode).toBe(200);
        // The tombstone keeps the last known fields.
        expect(res.json()).toMatchObject({ external_id: id, deleted_at: expect.any(String), name: expect.any(String) });
        expect((await app.inject(`/campaigns/${id}`)).statusCode).toBe(404);
      }
      // Another full run finds nothing new to check or delete.
      mark = mc.state.requests.length;
      const again = await runSync(app, 'marketing', '?full=true');
      expect(again.progress.records_written).toBe(0);
      expect(since(mc.state.requests.entries, mark).filter((e) => e.path !== CAMPAIGNS && e.path !== AUDIENCES)).toEqual([]);
    });

    it('a stored campaign a complete walk missed but Mailchimp still has is kept, not tombstoned', async () => {
      mc = await startFakeMailchimp({ campaigns: 5 });
      const connector = mailchimpConnector(mc);
      const app = await h.boot(new Map([['marketing', connector]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const id = mc.state.idAt(2);
      const log = pino({ level: 'silent' });
      const check = await connector.confirmGone!([id, 'no-such-campaign'], { signal: new AbortController().signal, checkpoint: null, full: true, log });
      expect(check.gone).toEqual(['no-such-campaign']);
      expect(check.present.map((w) => [w.external_id, w.deleted])).toEqual([[id, false]]);
    });

    it('an incremental run picks up a new campaign and re-fetches the window, so a recently created campaign that gets sent is updated', async () => {
      const now = Date.now();
      // 400 campaigns over the last 60 days: about half inside the default 30-day re-fetch window.
      mc = await startFakeMailchimp({ campaigns: 400, startTime: now - 60 * DAY, stepMs: (60 * DAY) / 400 });
      const app = await h.boot(new Map([['marketing', mailchimpConnector(mc)]]));
      const full = await runSync(app, 'marketing');
      expect(full.status, full.error ?? '').toBe('succeeded');
      expect(full.progress.records_fetched).toBe(400);

      const fresh = mc.state.createCampaign({ settings: { title: 'Brand new' } });
      // A draft created about 10 days ago.
      let recentIndex = 333;
      while (mc.state.current(recentIndex).status === 'sent') recentIndex++;
      expect(recentIndex).toBeLessThan(366);
      const recentId = mc.state.idAt(recentIndex);
      expect((await app.inject(`/campaigns/${recentId}`)).json().status).toBe(mc.state.current(recentIndex).status);
      const sent = mc.state.sendCampaign(recentId, { emailsSent: 4321 });

      const mark = mc.state.requests.length;
      const inc = await runSync(app, 'marketing');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      const requests = lists(mark);
      // The created-since listing, then the sent-since one.
      expect(requests.map((e) => e.query.sort_field)).toEqual(['create_time', 'send_time']);
      const sinceParam = requests[0]?.query.since_create_time;
      expect(sinceParam).toBeDefined();
      const sinceMs = Date.parse(sinceParam as string);
      expect(sinceMs).toBeGreaterThanOrEqual(now - 30 * DAY - 1_000);
      // Exactly the campaigns created inside the window, plus the new one: far fewer than a full run.
      let inWindow = 0;
      for (let i = 0; i < mc.state.baseCount; i++) if (mc.state.createTimeAt(i) > sinceMs) inWindow++;
      expect(inWindow).toBeGreaterThan(180);
      expect(inWindow).toBeLessThan(220);
      // Sent within the window (a campaign still sending at the last run must be seen once sent), but only
      // those created before the listing's start: the listing had the others, the one just sent among them.
      expect(Date.parse(requests[1]?.query.since_send_time as string)).toBeLessThanOrEqual(Date.now() - 30 * DAY);
      expect(Date.parse(requests[1]?.query.since_send_time as string)).toBeGreaterThanOrEqual(now - 30 * DAY - 60_000);
      expect(Date.parse(requests[1]?.query.before_create_time as string)).toBe(sinceMs + 1_000);
      expect(inc.progress).toMatchObject({ pages: 2, records_written: 2 });
      expect(inc.progress.records_fetched).toBeGreaterThanOrEqual(inWindow + 2);
      expect(inc.progress.records_fetched).toBeLessThan(inWindow + 12);

      await expectExactly(app, 'marketing', [...ids(mc), fresh.id]);
      const stored = (await app.inject(`/campaigns/${recentId}`)).json();
      expect(stored).toMatchObject({
        status: 'sent',
        details: { emails_sent: 4321, send_time: sent.send_time },
      });
      expect(stored.attributes).toMatchObject({ status: 'sent', emails_sent: 4321, report_summary: sent.report_summary });
      expect((await app.inject(`/campaigns/${fresh.id}`)).json()).toMatchObject({ name: 'Brand new', status: 'save' });

      // Nothing changed: the window comes back unchanged and nothing is written.
      const noop = await runSync(app, 'marketing');
      expect(noop.status, noop.error ?? '').toBe('succeeded');
      expect(noop.progress.records_written).toBe(0);
      expect(await dataTotal(app, 'marketing')).toBe(401);
    });

    it('an old draft, created before the re-fetch window and sent since the last run, is updated by an incremental run', async () => {
      const now = Date.now();
      mc = await startFakeMailchimp({ campaigns: 200, startTime: now - 90 * DAY, stepMs: (90 * DAY) / 200 });
      const app = await h.boot(new Map([['marketing', mailchimpConnector(mc)]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      // A draft created about 80 days ago: far outside the 30-day window of created campaigns.
      let index = 20;
      while (mc.state.current(index).status === 'sent') index++;
      expect(index).toBeLessThan(60);
      const id = mc.state.idAt(index);
      const sent = mc.state.sendCampaign(id, { emailsSent: 777 });

      const mark = mc.state.requests.length;
      const inc = await runSync(app, 'marketing');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(lists(mark).map((e) => e.query.sort_field)).toEqual(['create_time', 'send_time']);
      expect((await app.inject(`/campaigns/${id}`)).json()).toMatchObject({ status: 'sent', details: { emails_sent: 777, send_time: sent.send_time } });
    });

    it('outside the re-fetch window only campaigns created since the newest seen are fetched, same-second ones included', async () => {
      // An account whose campaigns are all older than the window: the run lists from the newest create_time seen.
      let clock = Date.UTC(2024, 5, 1, 12, 0, 0, 100);
      mc = await startFakeMailchimp({ campaigns: 50, startTime: Date.UTC(2024, 4, 1), stepMs: 3_600_000, now: () => clock });
      const app = await h.boot(new Map([['marketing', mailchimpConnector(mc)]]));
      const a = mc.state.createCampaign({ settings: { title: 'A' } });
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      expect(await dataTotal(app, 'marketing')).toBe(51);

      // Created in the same second as the newest campaign already synced (Mailchimp shows whole seconds).
      clock += 500;
      const b = mc.state.createCampaign({ settings: { title: 'B' } });
      expect(b.create_time).toBe(a.create_time);
      clock += 60_000;
      const c = mc.state.createCampaign({ settings: { title: 'C' } });

      const mark = mc.state.requests.length;
      const inc = await runSync(app, 'marketing');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      const requests = lists(mark);
      expect(requests.map((e) => e.query.sort_field)).toEqual(['create_time', 'send_time']);
      // Only the newest second again and what came after it: not the 50 old ones.
      expect(inc.progress).toMatchObject({ records_fetched: 3, records_written: 2 });
      await expectExactly(app, 'marketing', [...ids(mc), a.id, b.id, c.id]);
    });
  });
}

/**
 * Upstream faults during marketing (Mailchimp) syncs: rate limits with
 * Retry-After, bursts of 5xx, timeouts and malformed pages. A transient fault
 * is survived with exact counts; one that does not pass fails the task
 * cleanly, keeps what was committed, and the next run completes from the
 * checkpoint. Request counts are exact: each fault costs one request more.
 */
describe('marketing sync through upstream faults', () => {
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
        expect(mc!.state.requests.length).toBe(PAGES + 4 + 1);
        await expectExactly(app, 'marketing', ids());
      });

      it('a page whose body stalls after the headers times out and is retried', async () => {
        // A small account (one page), so that no honest page comes near the short timeout.
        const app = await boot(1_000, 40);
        mc!.faults.hang({ pathPrefix: CAMPAIGNS, afterHeaders: true });
        const task = await runSync(app, 'marketing');
        expect(task.status, task.error ?? '').toBe('succeeded');
        expect(task.progress).toMatchObject({ pages: 1, records_fetched: 40, records_written: 40 });
        expect(campaignsOnly(mc!.state.requests.entries).map((e) => [e.query.offset, e.fault ?? null])).toEqual([
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
        expect(campaignsOnly(since(mc!.state.requests.entries, mark)).map((e) => e.query.offset)).toEqual(['0', '1000']);
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
        expect(campaignsOnly(mc!.state.requests.entries).map((e) => [e.query.offset, e.fault ?? null])).toEqual([
          ['0', 'malformed'],
          ['0', null],
          ['1000', 'malformed'],
        ]);
        expect(await dataTotal(app, 'marketing')).toBe(1_000);

        const resumed = await runSync(app, 'marketing');
        expect(resumed.status, resumed.error ?? '').toBe('succeeded');
        // The walk of every campaign starts over: both pages again.
        expect(
          campaignsOnly(mc!.state.requests.entries)
            .slice(3)
            .map((e) => [e.query.offset, e.fault ?? null]),
        ).toEqual([
          ['0', null],
          ['1000', null],
        ]);
        await expectExactly(app, 'marketing', ids());
      });
    });
  }
});

/**
 * Mailchimp deletions show only on a full run (the first, or ?full=true):
 * only a walk of every campaign can tell which stored ones are gone, and the
 * runner sweeps those it did not see. Such a walk counted as complete only
 * when it began at offset 0 in the same run, so a ?full=true run interrupted
 * by a shutdown, requeued and resumed at its saved offset ended "succeeded"
 * without looking for deletions: the deleted campaign stayed live. A resumed
 * walk of every campaign now starts over from the first.
 */
describe('a resumed full run still sweeps deletions', () => {
  let db: ScratchDatabase | undefined;
  let mc: FakeMailchimp | undefined;
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    await mc?.close();
    mc = undefined;
  });
  afterAll(async () => db?.drop());

  const boot = async () => {
    t = await startApp(db!, FAST_TASKS, { connectors: new Map([['marketing', mailchimpConnector(mc!)]]) });
    return t.app;
  };
  const task = async (id: string) => (await t!.app.inject(`/tasks/${id}`)).json() as { status: string; progress: { pages: number }; error: string | null };

  it('a ?full=true run interrupted by a shutdown and resumed still tombstones a deleted campaign', async () => {
    db = await ENGINES[0]!.create();
    mc = await startFakeMailchimp({ campaigns: 3_500 });
    let app = await boot();
    const first = (await app.inject({ method: 'POST', url: '/sync/marketing' })).json().task_id as string;
    expect(await waitFor(async () => ((await task(first)).status === 'succeeded' ? true : undefined), 'the first run')).toBe(true);

    const gone = mc.state.idAt(3_200);
    mc.state.deleteCampaign(gone);

    // A full run, slowed so that the shutdown lands after its first page.
    mc.faults.setLatency(500);
    const full = (await app.inject({ method: 'POST', url: '/sync/marketing?full=true' })).json().task_id as string;
    await waitFor(async () => ((await task(full)).progress.pages >= 1 ? true : undefined), 'a committed page of the full run');
    await t!.close(); // SIGTERM: the running sync goes back to the queue
    t = undefined;
    mc.faults.setLatency(0);

    app = await boot(); // the restart resumes it
    const done = await waitFor(async () => {
      const v = await task(full);
      return v.status === 'succeeded' || v.status === 'failed' ? v : undefined;
    }, 'the resumed full run');
    expect(done.status, done.error ?? '').toBe('succeeded');
    const row = await new TaskStore(t!.store).get(full);
    expect(row?.attempts).toBe(2); // it really was interrupted and resumed

    const res = await app.inject(`/campaigns/${gone}`);
    expect(res.statusCode, 'the campaign Mailchimp deleted is still shown as live').toBe(404);
  }, 90_000);
});

/**
 * A page of 1,000 campaigns takes about as long to arrive as to prepare and
 * store, so the Mailchimp walk keeps two page requests out at once: never
 * more, never past the total Mailchimp gave, and the pages still come in order.
 */
describe('two page requests in flight', () => {
  let mc: FakeMailchimp | undefined;
  afterEach(async () => {
    await mc?.close();
    mc = undefined;
  });

  it('asks for two pages at a time, within the total, and yields every campaign once in order', async () => {
    mc = await startFakeMailchimp({ campaigns: 4_500, latencyMs: 400 });
    const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url });
    const ids: string[] = [];
    try {
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) })) {
        for (const r of page.records) ids.push(r.external_id);
      }
    } finally {
      await src.close();
    }
    expect(ids).toEqual(Array.from({ length: 4_500 }, (_, i) => mc!.state.idAt(i)));
    const requests = mc.state.requests.matching('/3.0/campaigns', 'GET');
    expect(requests.map((r) => Number(r.query.offset))).toEqual([0, 1000, 2000, 3000, 4000]);
    // Each answer takes 400 ms (long beside a loaded machine's jitter): requests sent one after
    // another would arrive at least that far apart.
    const gaps = requests.slice(1).map((r, i) => r.time - (requests[i] as { time: number }).time);
    expect(gaps.filter((g) => g < 200).length).toBeGreaterThanOrEqual(1);
    // No more than two out at once: the third request comes after the first answer.
    for (let i = 2; i < requests.length; i++)
      expect((requests[i] as { time: number }).time - (requests[i - 2] as { time: number }).time).toBeGreaterThanOrEqual(300);
  }, 30_000);
});

/**
 * Mailchimp count/offset paging when total_items drops mid-walk: a campaign
 * deleted before the walk's offset shifts every later campaign one place
 * down, so the campaign that was first on the next page is never listed.
 * On a first (full) sync it is not stored yet, so the deletion sweep does not
 * ask about it either, and incremental runs only look 30 days back: it is lost.
 */
describe('a deletion between two pages of a walk', () => {
  let mc: FakeMailchimp | undefined;
  afterEach(async () => {
    await mc?.close();
    mc = undefined;
  });

  it('a deletion between two pages of a full walk loses no remaining campaign', async () => {
    mc = await startFakeMailchimp({ campaigns: 1_500 });
    // Holds the second page back for 1 s (429, Retry-After: 1) so the deletion lands between the pages.
    mc.faults.rateLimit({ pathPrefix: '/3.0/campaigns', skip: 1, retryAfterSeconds: 1 });
    const src = new MailchimpSource({
      name: 'marketing',
      apiKey: mc.apiKey,
      baseUrl: mc.url,
      client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
    });
    const log = pino({ level: 'silent' });
    const seen = new Set<string>();
    const deleted = mc.state.idAt(5);
    const shifted = mc.state.idAt(1_000);
    let checkpoint: MailchimpCheckpoint | null = null;
    // The ids of the pages of the complete walk (the runner keeps them as seen), and whether its last page came.
    const walked = new Set<string>();
    let lastOfWalk = false;
    try {
      let n = 0;
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log })) {
        if (n++ === 0) mc.state.deleteCampaign(deleted);
        for (const r of page.records) seen.add(r.external_id);
        checkpoint = page.checkpoint;
        if (page.walk) for (const r of page.records) walked.add(r.external_id);
        lastOfWalk ||= page.walk?.last === true;
      }
      // The next (incremental) run, from the saved checkpoint.
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: false, log })) {
        for (const r of page.records) seen.add(r.external_id);
      }
    } finally {
      await src.close();
    }
    const remaining = Array.from({ length: 1_500 }, (_, i) => mc!.state.idAt(i)).filter((id) => id !== deleted);
    const missing = remaining.filter((id) => !seen.has(id));
    expect({ missing, inCompleteSeen: lastOfWalk && walked.has(shifted) }).toEqual({ missing: [], inCompleteSeen: true });
  }, 60_000);
});

/**
 * Every campaign deleted while a walk is in progress: total_items falls to 0
 * and the walk steps back to offset 0 (not the last page, since the total
 * fell). It must still ask for that page, whose empty answer ends the walk;
 * the first version of the two-requests-ahead walk asked for nothing (no page
 * lies before a total of 0) and failed on an empty queue.
 */
describe('every campaign deleted during a walk', () => {
  let mc: FakeMailchimp | undefined;
  afterEach(async () => {
    await mc?.close();
    mc = undefined;
  });

  it('a walk whose campaigns are all deleted between two pages ends cleanly', async () => {
    mc = await startFakeMailchimp({ campaigns: 1_500 });
    // Holds the second page (offset 1000) back for 1 s so the deletions land before it is answered.
    mc.faults.rateLimit({ pathPrefix: '/3.0/campaigns', skip: 1, retryAfterSeconds: 1 });
    const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
    const all = Array.from({ length: 1_500 }, (_, i) => mc!.state.idAt(i));
    let pages = 0;
    let error: unknown = null;
    try {
      for await (const _page of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) })) {
        if (pages++ === 0) for (const id of all) mc.state.deleteCampaign(id);
      }
    } catch (err) {
      error = err;
    } finally {
      await src.close();
    }
    expect(error).toBeNull();
  }, 30_000);
});

/**
 * The walk noticed an offset shift only by total_items falling between two
 * pages of one walk. A walk that stopped (cancel, shutdown, a failed page)
 * and resumed from its saved offset could not see a deletion made in
 * between: the campaigns that slid back over the saved offset were never
 * listed (on a first full sync never stored, and incremental runs look only
 * 30 days back). The checkpoint now keeps the total too.
 */
describe('a walk resumed after a deletion', () => {
  let mc: FakeMailchimp | undefined;
  afterEach(async () => {
    await mc?.close();
    mc = undefined;
  });

  async function missedAfterResume(first: MailchimpCheckpoint | null): Promise<{ missed: string[]; saved: unknown }> {
    mc = await startFakeMailchimp({ campaigns: 1_500 });
    const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
    const log = pino({ level: 'silent' });
    const seen = new Set<string>();
    const deleted = mc.state.idAt(5);
    let checkpoint: MailchimpCheckpoint | null = first;
    let saved: MailchimpCheckpoint | null = null;
    try {
      // The first run commits its first page, then stops (cancelled, or interrupted by a shutdown).
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: first === null, log })) {
        for (const r of page.records) seen.add(r.external_id);
        checkpoint = saved = page.checkpoint;
        break;
      }
      // Meanwhile a campaign is deleted.
      mc.state.deleteCampaign(deleted);
      // The next run resumes from the committed checkpoint, and one more incremental run follows.
      for (let run = 0; run < 2; run++) {
        for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: false, log })) {
          for (const r of page.records) seen.add(r.external_id);
          checkpoint = page.checkpoint;
        }
      }
    } finally {
      await src.close();
    }
    const remaining = Array.from({ length: 1_500 }, (_, i) => mc!.state.idAt(i)).filter((id) => id !== deleted);
    return { missed: remaining.filter((id) => !seen.has(id)), saved };
  }

  it('a full walk stopped after its first page and resumed after a deletion loses no campaign', async () => {
    const { missed, saved } = await missedAfterResume(null);
    expect(saved).toMatchObject({ phase: 'list', since: null, offset: 1_000 });
    expect(missed).toEqual([]);
  }, 60_000);

  it('an incremental walk stopped after its first page and resumed after a deletion loses no campaign', async () => {
    // The generated campaigns start in 2023: a run after one that saw nothing newer than 2022 lists them all, by offset.
    const { missed, saved } = await missedAfterResume({ phase: 'idle', newestCreated: '2022-12-31T00:00:00+00:00', lastStartedAt: '2022-12-31T00:00:00Z' });
    expect(saved).toMatchObject({ phase: 'list', offset: 1_000, total: 1_500 });
    expect((saved as { since: unknown }).since).not.toBeNull();
    expect(missed).toEqual([]);
  }, 60_000);
});

/**
 * An incremental Mailchimp run lists campaigns created since min(30 days ago,
 * newest create_time seen - 1 s). When the last run saw no campaign at all (an
 * account connected before its first campaign), the newest was unknown and the
 * run looked back only 30 days, though the idle checkpoint knows when the last
 * run began: a campaign created between that run and 30 days ago was never
 * listed. The last run's start now bounds the listing too.
 */
describe('an incremental run after an empty account', () => {
  const DAY = 86_400_000;
  let mc: FakeMailchimp | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await mc?.close();
    mc = undefined;
  });

  it('a campaign created 35 days ago, after a run that saw an empty account, is listed by the next incremental run', async () => {
    const t0 = Date.now() - 40 * DAY;
    let clock = t0;
    mc = await startFakeMailchimp({ campaigns: 0, now: () => clock });
    const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
    const log = pino({ level: 'silent' });
    const seen = new Set<string>();
    let checkpoint: MailchimpCheckpoint | null = null;
    const run = async (at: number) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(at);
      try {
        for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: checkpoint === null, log })) {
          for (const r of page.records) seen.add(r.external_id);
          checkpoint = page.checkpoint;
        }
      } finally {
        vi.useRealTimers();
      }
    };
    try {
      await run(t0); // first run: the account has no campaign yet
      expect(checkpoint).toMatchObject({ phase: 'idle', newestCreated: null });
      clock = t0 + 5 * DAY; // 35 days ago: a draft is created
      const draft = mc.state.createCampaign({ settings: { title: 'draft' } });
      await run(t0 + 40 * DAY); // the next run, today
      expect(seen.has(draft.id)).toBe(true);
    } finally {
      await src.close();
    }
  }, 60_000);
});

/**
 * An incremental run re-fetched the campaigns created in the last 30 days and
 * those sent since the last run began (less 5 minutes). A campaign created
 * before the window that was still `sending` when one run looked (Mailchimp
 * sends big lists, and timewarp sends, over hours) and `sent` by the next was
 * in neither set on that next run, its send_time being before the new
 * since_send_time: its status and emails_sent stayed stale for good. The sent
 * listing now covers the whole window (for campaigns created before it).
 */
describe('a campaign sending during one run and sent by the next', () => {
  const DAY = 86_400_000;
  const HOUR = 3_600_000;
  let mc: FakeMailchimp | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await mc?.close();
    mc = undefined;
  });

  const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}+00:00`;

  it('a campaign that was sending during one incremental run and sent by the next ends up stored as sent', async () => {
    const t0 = Date.now();
    mc = await startFakeMailchimp({ campaigns: 200, startTime: t0 - 90 * DAY, stepMs: (90 * DAY) / 200 });
    const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
    const log = pino({ level: 'silent' });
    // What the store would hold: the last write of each campaign.
    const stored = new Map<string, RecordWrite>();
    let checkpoint: MailchimpCheckpoint | null = null;
    const run = async (at: number) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(at);
      try {
        for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: checkpoint === null, log })) {
          for (const r of page.records) stored.set(r.external_id, r);
          checkpoint = page.checkpoint;
        }
      } finally {
        vi.useRealTimers();
      }
    };
    try {
      await run(t0); // the first, full run
      // A draft created about 80 days ago, outside the 30-day re-fetch window.
      let index = 20;
      while (mc.state.current(index).status !== 'save') index++;
      const id = mc.state.idAt(index);
      expect(stored.get(id)?.fields.status).toBe('save');

      // An hour later it starts sending; it takes a few hours.
      mc.state.updateCampaign(id, { status: 'sending', send_time: iso(t0 + HOUR) });
      await run(t0 + HOUR + 10 * 60_000); // an incremental run while it sends
      mc.state.sendCampaign(id, { emailsSent: 5_000, sendTime: t0 + HOUR });
      await run(t0 + 4 * HOUR); // the next incremental run, once it is sent

      const last = stored.get(id);
      expect({ status: last?.fields.status, emails_sent: (last?.fields.details as { emails_sent?: number } | null)?.emails_sent }).toEqual({
        status: 'sent',
        emails_sent: 5_000,
      });
    } finally {
      await src.close();
    }
  }, 60_000);
});

/**
 * Upstream records of an unexpected shape (null entries, a contact without
 * `properties`, a campaign without `id`) must not crash a run with a TypeError
 * (nor store a record keyed "undefined"); the odd record should be skipped (as
 * declared sources do) and its neighbours kept.
 */
describe('records of an odd shape', () => {
  const ups: Upstream[] = [];
  afterEach(async () => {
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  const FAST = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2_000, maxRetries: 0 };
  /** An account without audiences: GET /lists answers none, the rest goes to `handler`. */
  const noAudiences =
    (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      if (req.url?.startsWith(AUDIENCES)) sendJson(res, 200, { lists: [], total_items: 0 });
      else handler(req, res);
    };

  function ctx(): SyncContext<never> {
    return { signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) };
  }

  async function collect(pages: AsyncIterable<SyncPage>): Promise<{ ids: unknown[]; error: unknown }> {
    const ids: unknown[] = [];
    try {
      for await (const p of pages) for (const r of p.records) ids.push(r.external_id);
      return { ids, error: null };
    } catch (error) {
      return { ids, error };
    }
  }

  describe('Mailchimp campaigns of an odd shape', () => {
    it('a null entry in "campaigns" does not crash the walk with a TypeError', async () => {
      const u = await startUpstream(
        noAudiences((_req, res) => sendJson(res, 200, { campaigns: [{ id: 'c1', create_time: '2024-01-01T00:00:00+00:00' }, null], total_items: 2 })),
      );
      ups.push(u);
      const src = new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST });
      const { ids, error } = await collect(src.pages(ctx()));
      await src.close();
      expect(error === null ? null : String(error)).toBeNull();
      expect(ids).toContain('c1');
    }, 15_000);

    it('confirmGone on a 200 with an empty body does not crash with a TypeError', async () => {
      const u = await startUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end();
      });
      ups.push(u);
      const src = new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST });
      let error: unknown = null;
      try {
        await src.confirmGone(['c1'], ctx());
      } catch (e) {
        error = e;
      }
      await src.close();
      expect(error instanceof TypeError ? String(error) : null).toBeNull();
    }, 15_000);

    it('a campaign without "id" yields no record keyed undefined', async () => {
      const u = await startUpstream(
        noAudiences((_req, res) => sendJson(res, 200, { campaigns: [{ id: 'c1' }, { web_id: 5, status: 'sent' }], total_items: 2 })),
      );
      ups.push(u);
      const src = new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST });
      const { ids, error } = await collect(src.pages(ctx()));
      await src.close();
      expect(error).toBeNull();
      expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
    }, 15_000);
  });

  describe('end to end: one campaign without an id', () => {
    const engine = ENGINES[0]!;
    const h = new Harness(engine);
    afterEach(() => h.reset());
    afterAll(() => h.drop());

    it('the run still stores the well-formed campaigns', async () => {
      const u = await startUpstream(
        noAudiences((_req, res) =>
          sendJson(res, 200, {
            campaigns: [
              { id: 'c1', status: 'sent' },
              { web_id: 5, status: 'sent' },
            ],
            total_items: 2,
          }),
        ),
      );
      ups.push(u);
      const app = await h.boot(new Map([['marketing', new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST })]]));
      const task = await runSync(app, 'marketing');
      expect(task.error).toBeNull();
      expect(task.status).toBe('succeeded');
    }, 30_000);
  });
});
