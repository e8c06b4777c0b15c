/**
 * The marketing source (Mailchimp Marketing API 3.0 campaigns) end to end:
 * the real connector against the fake Mailchimp, driven through /sync and
 * /tasks, read back through /data, on every engine.
 */
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import { ENGINES } from '../helpers/databases.js';
import { Harness, dataTotal, expectExactly, mailchimpConnector, runSync, since } from './sync-helpers.js';

const CAMPAIGNS = '/3.0/campaigns';
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
      expect(since(mc.state.requests.entries, mark).filter((e) => e.path !== CAMPAIGNS)).toEqual([]);

      mark = mc.state.requests.length;
      const full = await runSync(app, 'marketing', '?full=true');
      expect(full.status, full.error ?? '').toBe('succeeded');
      // Exactly the two missing ones were asked about, one by one.
      const checks = since(mc.state.requests.entries, mark).filter((e) => e.path !== CAMPAIGNS);
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
      expect(since(mc.state.requests.entries, mark).filter((e) => e.path !== CAMPAIGNS)).toEqual([]);
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
