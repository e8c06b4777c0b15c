/**
 * The crm source (HubSpot CRM v3 contacts) end to end: the real connector
 * against the fake HubSpot, driven through /sync and /tasks, read back
 * through /data, on every engine.
 */
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { classifyHubspotRateLimit, type HubspotCheckpoint, HubspotSource } from '../../../src/providers/hubspot/connector.js';
import { type SyncContext, type SyncPage } from '../../../src/sources/connector.js';
import { expectProblem } from '../../helpers/app.js';
import { ENGINES } from '../../helpers/databases.js';
import { sendJson, startUpstream, type Upstream } from '../../helpers/upstream.js';
import {
  allRecords,
  contactIds,
  dataTotal,
  expectExactly,
  getTask,
  Harness,
  hubspotConnector,
  runSync,
  since,
  sleep,
  startSync,
  waitFor,
} from '../../helpers/sync.js';

const CONTACTS = '/crm/v3/objects/contacts';
const SEARCH = `${CONTACTS}/search`;

type SearchBody = { filterGroups: Array<{ filters: Array<{ propertyName: string; operator: string; value: string }> }>; limit: number; after?: string };

describe('HubSpot 429 classification', () => {
  const now = Date.UTC(2026, 2, 10, 14, 25, 30);
  const daily = { status: 'error', policyName: 'DAILY', errorType: 'RATE_LIMIT' };

  it('retries the rolling limit in the client, and parks the daily one until the next full hour or a later Retry-After', () => {
    expect(classifyHubspotRateLimit(429, { 'retry-after': '1' }, { policyName: 'TEN_SECONDLY_ROLLING' }, now)).toBe('retry');
    expect(classifyHubspotRateLimit(429, {}, 'not json', now)).toBe('retry');
    const nextHour = Date.UTC(2026, 2, 10, 15, 1);
    expect(classifyHubspotRateLimit(429, {}, daily, now)).toMatchObject({ park: true, retryAt: nextHour });
    expect(classifyHubspotRateLimit(429, { 'retry-after': '1' }, daily, now)).toMatchObject({ park: true, retryAt: nextHour });
    expect(classifyHubspotRateLimit(429, { 'retry-after': '10800' }, daily, now)).toMatchObject({ retryAt: now + 10_800_000 });
    expect(classifyHubspotRateLimit(429, { 'retry-after': 'Wed, 11 Mar 2026 05:00:00 GMT' }, daily, now)).toMatchObject({
      retryAt: Date.UTC(2026, 2, 11, 5),
    });
  });
});

for (const engine of ENGINES) {
  describe(`crm sync (HubSpot) on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    const listGets = (from = 0) => since(hs!.state.requests.entries, from).filter((e) => e.method === 'GET' && e.path === CONTACTS);
    const liveListGets = (from = 0) => listGets(from).filter((e) => e.query.archived !== 'true');
    const archivedListGets = (from = 0) => listGets(from).filter((e) => e.query.archived === 'true');
    const searches = (from = 0) => since(hs!.state.requests.entries, from).filter((e) => e.method === 'POST' && e.path === SEARCH);

    it('a full sync through the configured default connector stores every contact once, with exact progress', async () => {
      hs = await startFakeHubspot({ contacts: 1_234 });
      // The default connectors, built from the environment as the server does.
      const app = await h.bootFromEnv({ HUBSPOT_BASE_URL: hs.url, HUBSPOT_ACCESS_TOKEN: hs.token });

      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      // 13 pages of the live list (100 a page) and one of the archived list.
      expect(task.progress).toMatchObject({ pages: 14, records_fetched: 1_234, records_written: 1_234 });
      expect(task.error).toBeNull();
      expect(liveListGets()).toHaveLength(13);
      expect(archivedListGets()).toHaveLength(1);
      // One search: the count behind the first page's percent.
      expect(searches()).toHaveLength(1);
      expect((searches()[0]?.body as SearchBody).limit).toBe(1);
      expect(task.progress.total_estimate).toBe(1_234);
      expect(hs.state.requests.entries.every((e) => e.status === 200)).toBe(true);

      const records = await expectExactly(app, 'crm', contactIds(1_234));
      const one = records.find((r) => r.external_id === '1500');
      const expected = hs.state.getContact('1500')!;
      expect(one).toMatchObject({
        type: 'customer',
        source: 'crm',
        id: 1500,
        name: `${expected.properties.firstname} ${expected.properties.lastname}`,
        email: expected.properties.email,
        deleted_at: null,
        source_updated_at: expected.properties.lastmodifieddate,
      });
      expect(one?.attributes).toMatchObject({ company: expected.properties.company, phone: expected.properties.phone });
      expect((await app.inject('/data?type=customer&limit=1')).json().total).toBe(1_234);
    });

    it('an incremental run searches for the changes only, applies them, and a no-op re-run writes nothing', async () => {
      hs = await startFakeHubspot({ contacts: 1_000 });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      const firstStarted = Date.now();
      const full = await runSync(app, 'crm');
      expect(full.status, full.error ?? '').toBe('succeeded');
      expect(full.progress.records_fetched).toBe(1_000);

      const updated = contactIds(40, 1101).map((id, i) => hs!.state.updateContact(id, { firstname: 'Renamed', lastname: `Person${i}` }));
      const created = Array.from({ length: 25 }, (_, i) =>
        hs!.state.createContact({ firstname: 'New', lastname: `Contact${i}`, email: `new${i}@example.com` }),
      );

      const mark = hs.state.requests.length;
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      // Only the changes: one search page (65 < 200); the live list is not walked, nor the archived one (walked a moment ago).
      expect(searches(mark)).toHaveLength(1);
      expect(liveListGets(mark)).toHaveLength(0);
      expect(archivedListGets(mark)).toHaveLength(0);
      expect(hs.state.requests.length - mark).toBe(1);
      expect(inc.progress).toMatchObject({ pages: 1, records_fetched: 65, records_written: 65 });
      const body = searches(mark)[0]?.body as SearchBody;
      expect(body.filterGroups).toHaveLength(1);
      expect(body.filterGroups[0]?.filters).toEqual([{ propertyName: 'lastmodifieddate', operator: 'GTE', value: expect.any(String) }]);
      // It searches from (a little before) the first run's start: nothing changed since then is missed.
      expect(Number(body.filterGroups[0]?.filters[0]?.value)).toBeLessThanOrEqual(firstStarted);

      const records = await expectExactly(app, 'crm', [...contactIds(1_000), ...created.map((c) => c.id)]);
      const byId = new Map(records.map((r) => [r.external_id as string, r]));
      for (const [i, c] of updated.entries()) {
        expect(byId.get(c.id)).toMatchObject({ name: `Renamed Person${i}`, source_updated_at: c.properties.lastmodifieddate });
      }
      for (const [i, c] of created.entries()) {
        expect(byId.get(c.id)).toMatchObject({ name: `New Contact${i}`, email: `new${i}@example.com` });
      }

      // Nothing changed upstream: the overlap comes back, and nothing is written.
      const mark2 = hs.state.requests.length;
      const noop = await runSync(app, 'crm');
      expect(noop.status, noop.error ?? '').toBe('succeeded');
      expect(noop.progress.records_written).toBe(0);
      expect(liveListGets(mark2)).toHaveLength(0);
      expect(searches(mark2)).toHaveLength(1);
      expect(await dataTotal(app, 'crm')).toBe(1_025);
    });

    it('contacts changed while an incremental run pages through the search are not skipped', async () => {
      // A change set spread over time (an hour of edits), and edits still happening during the walk.
      let clock = Date.now();
      hs = await startFakeHubspot({ contacts: 1_000, now: () => clock });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      const base = Date.now() + 3_600_000;
      const changed = contactIds(450, 1051);
      changed.forEach((id, i) => {
        clock = base + i * 1_000;
        hs!.state.updateContact(id, { firstname: 'Edited', lastname: `No${i}` });
      });

      // When the second search request reaches the fake (before it is answered), a contact of the
      // first page is edited again, which moves it to the end of the result order.
      const log = hs.state.requests;
      const add = log.add.bind(log);
      let seen = 0;
      log.add = (entry) => {
        if (entry.path === SEARCH && ++seen === 2) {
          clock = base + 5 * 3_600_000;
          hs!.state.updateContact(changed[0] as string, { firstname: 'Edited', lastname: 'Again' });
        }
        return add(entry);
      };
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(seen).toBeGreaterThanOrEqual(3);

      const records = await expectExactly(app, 'crm', contactIds(1_000));
      const byId = new Map(records.map((r) => [r.external_id as string, r]));
      const stale = changed.filter((cid) => {
        const c = hs!.state.getContact(cid)!;
        return byId.get(cid)?.name !== `${c.properties.firstname} ${c.properties.lastname}`;
      });
      expect(stale).toEqual([]);
    });

    it('a run of changes sharing one lastmodifieddate, longer than a page, is paged through whole', async () => {
      let clock = Date.now();
      hs = await startFakeHubspot({ contacts: 1_000, now: () => clock });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      // A bulk edit: 500 contacts stamped the same millisecond, then 10 more edits one by one.
      clock = Date.now() + 60_000;
      const bulk = contactIds(500, 1101);
      for (const id of bulk) hs.state.updateContact(id, { lifecyclestage: 'customer', firstname: 'Bulk' });
      const later = contactIds(10, 1701);
      later.forEach((id, i) => {
        clock += 1_000;
        hs!.state.updateContact(id, { firstname: 'Later', lastname: String(i) });
      });

      const mark = hs.state.requests.length;
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(since(hs.state.requests.entries, mark).filter((e) => e.status !== 200)).toEqual([]);
      const pages = searches(mark)
        .map((e) => e.body as SearchBody)
        .map((b) => [Number(b.after ?? 0), ...(b.filterGroups[0]?.filters ?? []).map((f) => `${f.propertyName} ${f.operator} ${f.value}`)]);
      const bulkStamp = Number(Date.parse(hs.state.getContact('1101')!.properties.lastmodifieddate as string));
      // The first page is all one stamp: the tie is walked by id, never by offset (an offset
      // skips a contact when one already read is edited meanwhile), then on past the stamp.
      expect(pages.slice(1)).toEqual([
        [0, `lastmodifieddate EQ ${bulkStamp}`, 'hs_object_id GT 0'],
        [0, `lastmodifieddate EQ ${bulkStamp}`, `hs_object_id GT ${bulk[199]}`],
        [0, `lastmodifieddate EQ ${bulkStamp}`, `hs_object_id GT ${bulk[399]}`],
        [0, `lastmodifieddate GTE ${bulkStamp + 1}`],
      ]);
      expect(pages[0]?.[0]).toBe(0);
      expect(inc.progress.records_written).toBe(510);
      const records = await expectExactly(app, 'crm', contactIds(1_000));
      const byId = new Map(records.map((r) => [r.external_id as string, r]));
      for (const id of bulk) expect((byId.get(id)?.attributes as Record<string, unknown>).lifecyclestage).toBe('customer');
      later.forEach((id, i) => expect(byId.get(id)?.name).toBe(`Later ${i}`));
    });

    // A contact of a bulk edit edited again mid-walk used to make another slip past a page
    // boundary (the tie was paged by offset), lost for good: the next run's lookback starts past it.
    for (const editAtSearch of [2, 3]) {
      it(`a bulk-edited contact is not lost when another contact of the tie is edited before search request #${editAtSearch}`, async () => {
        let clock = Date.now();
        hs = await startFakeHubspot({ contacts: 1_000, now: () => clock });
        const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
        expect((await runSync(app, 'crm')).status).toBe('succeeded');

        // A bulk edit: 500 contacts stamped in the same millisecond.
        clock = Date.now() + 60_000;
        const bulk = contactIds(500, 1101);
        for (const id of bulk) hs.state.updateContact(id, { firstname: 'Bulk' });

        // An hour later, while the incremental run pages through the tie, a contact of the
        // tie that was already fetched is edited again.
        const log = hs.state.requests;
        const add = log.add.bind(log);
        let n = 0;
        log.add = (entry) => {
          if (entry.path === SEARCH && ++n === editAtSearch) {
            clock += 3_600_000;
            hs!.state.updateContact('1101', { firstname: 'Bulk', lastname: 'Again' });
          }
          return add(entry);
        };
        const inc = await runSync(app, 'crm');
        expect(inc.status, inc.error ?? '').toBe('succeeded');
        log.add = add;
        // And the next run does not make up for it either.
        expect((await runSync(app, 'crm')).status).toBe('succeeded');

        const byId = new Map((await allRecords(app, 'crm')).map((r) => [r.external_id as string, r]));
        const missed = bulk.filter((id) => (byId.get(id)?.attributes as Record<string, unknown>).firstname !== 'Bulk');
        expect(missed).toEqual([]);
      });
    }

    it('an archived contact becomes a tombstone: hidden from /data, shown with include_deleted', async () => {
      hs = await startFakeHubspot({ contacts: 300 });
      // Every run walks the archived list (HUBSPOT_ARCHIVED_INTERVAL=0).
      const crm = hubspotConnector(hs, {}, { archivedIntervalMs: 0 });
      const app = await h.boot(new Map([['crm', crm]]));
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      const before = (await app.inject('/customers/1042')).json() as Record<string, unknown>;
      expect(before.deleted_at).toBeNull();

      hs.state.archiveContact('1042');
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');
      expect(inc.progress.records_written).toBe(1);

      expect(await dataTotal(app, 'crm')).toBe(299);
      expect(await dataTotal(app, 'crm', true)).toBe(300);
      const visible = await expectExactly(
        app,
        'crm',
        contactIds(300).filter((id) => id !== '1042'),
      );
      expect(visible.some((r) => r.external_id === '1042')).toBe(false);
      expect((await app.inject('/customers/1042')).statusCode).toBe(404);
      const tomb = await app.inject('/customers/1042?include_deleted=true');
      expect(tomb.statusCode).toBe(200);
      // The tombstone keeps the last known fields.
      expect(tomb.json()).toMatchObject({ external_id: '1042', name: before.name, email: before.email, deleted_at: expect.any(String) });
      const listed = (await app.inject('/data?source=crm&include_deleted=true&limit=1000')).json().items as Array<Record<string, unknown>>;
      expect(listed.filter((r) => r.deleted_at !== null).map((r) => r.external_id)).toEqual(['1042']);

      // Seen again on the next run: still one tombstone, nothing written.
      const again = await runSync(app, 'crm');
      expect(again.progress.records_written).toBe(0);
      expect(await dataTotal(app, 'crm', true)).toBe(300);
    });

    it('more than 10,000 changes are all fetched, each search re-anchored below the 10,000 cap, and the fake refuses nothing', async () => {
      // 500 contacts at the first sync; then 10,100 more, all stamped after the checkpoint.
      // The second account is the first one grown (same seed and timeline, so the first 500
      // are the same contacts), served on the same port: generated contacts are answered by
      // index, where 10,100 contacts made with createContact would be sorted on every search.
      const BASE = 500;
      const NEW = 10_100;
      const step = 10 * 60_000;
      const firstNew = Date.now() + 60_000;
      const startTime = firstNew - BASE * step; // the last of the first 500 is 9 minutes older than this test
      hs = await startFakeHubspot({ contacts: BASE, startTime, stepMs: step });
      const port = new URL(hs.url).port;
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      const full = await runSync(app, 'crm');
      expect(full.status, full.error ?? '').toBe('succeeded');
      expect(full.progress.records_fetched).toBe(BASE);

      await hs.close();
      hs = await startFakeHubspot({ contacts: BASE + NEW, startTime, stepMs: step, port: Number(port) });
      const inc = await runSync(app, 'crm');
      expect(inc.status, inc.error ?? '').toBe('succeeded');

      const entries = hs.state.requests.entries;
      expect(entries.filter((e) => e.status !== 200)).toEqual([]);
      expect(liveListGets()).toHaveLength(0);
      const bodies = searches().map((e) => e.body as SearchBody);
      // Every search stayed far inside the 10,000-result window: each page is a new query from the
      // newest stamp of the page before (keyset), overlapping it by the one contact at that stamp.
      for (const b of bodies) expect(b.after).toBeUndefined();
      const anchors = bodies.map((b) => Number(b.filterGroups[0]?.filters[0]?.value));
      expect(anchors).toEqual([...anchors].sort((x, y) => x - y));
      expect(new Set(anchors).size).toBe(anchors.length);
      // 200 new on the first page, 199 new on each of the next ones.
      const pages = 1 + Math.ceil((NEW - 200) / 199);
      expect(bodies).toHaveLength(pages);
      expect(inc.progress).toMatchObject({ records_fetched: NEW + pages - 1, records_written: NEW });

      const records = await expectExactly(app, 'crm', contactIds(BASE + NEW));
      const lastId = String(1001 + BASE + NEW - 1);
      const last = hs.state.getContact(lastId)!;
      expect(records.find((r) => r.external_id === lastId)).toMatchObject({
        name: `${last.properties.firstname} ${last.properties.lastname}`,
        email: last.properties.email,
      });
    });

    it('a 429 with policyName DAILY parks the task until later instead of retrying', async () => {
      hs = await startFakeHubspot({ contacts: 500 });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      // The daily quota stays exhausted; the fake's 429 says Retry-After: 1, as a proxy might.
      hs.faults.rateLimit({ policyName: 'DAILY', times: Infinity, pathPrefix: CONTACTS });

      const startedAt = Date.now();
      const id = await startSync(app, 'crm');
      const parked = await waitFor(async () => {
        const t = await getTask(app, id);
        return t.status === 'queued' && t.error !== null ? t : undefined;
      }, 'the task to be parked');
      expect(parked.attempts).toBe(1);
      expect(parked.error).toMatch(/daily/i);
      expect(parked.error).toMatch(/parked until/);
      // Not the fake's Retry-After of 1 s: a daily quota does not come back in a second. The task
      // probes again after the next full hour (the reset is at midnight in the account's zone).
      const nextFullHour = (Math.floor(startedAt / 3_600_000) + 1) * 3_600_000;
      expect(Date.parse(parked.run_after)).toBeGreaterThanOrEqual(nextFullHour);
      expect(Date.parse(parked.run_after)).toBeLessThanOrEqual(startedAt + 62 * 60_000 + 5_000);
      expect(parked.progress.pages).toBe(0);

      // Several poll intervals later the fake has still seen only the one request.
      await sleep(1_500);
      expect(hs.state.requests.length).toBe(1);
      const still = await getTask(app, id);
      expect(still).toMatchObject({ status: 'queued', attempts: 1 });
      // A second trigger while it waits answers 409 naming it.
      const again = await app.inject({ method: 'POST', url: '/sync/crm' });
      expect(again.statusCode).toBe(409);
      expect(again.json().task_id).toBe(id);
    });

    it('cancel during a slow sync stops within 2 s, sends nothing more, and the next run resumes from the checkpoint', async () => {
      hs = await startFakeHubspot({ contacts: 1_000, latencyMs: 150 });
      const app = await h.boot(new Map([['crm', hubspotConnector(hs)]]));
      const id = await startSync(app, 'crm');
      await waitFor(async () => ((await getTask(app, id)).progress.pages >= 2 ? true : undefined), 'two committed pages');

      const asked = Date.now();
      const cancel = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: id } });
      const answered = Date.now();
      expect(cancel.statusCode, cancel.body).toBe(200);
      expect(cancel.json().status).toBe('cancelled');
      expect(answered - asked).toBeLessThan(2_000);
      const pagesDone = cancel.json().progress.pages as number;
      expect(pagesDone).toBeGreaterThanOrEqual(2);
      expect(pagesDone).toBeLessThan(10);

      const requestsAtCancel = hs.state.requests.length;
      await sleep(500);
      expect(hs.state.requests.length).toBe(requestsAtCancel);
      expect(hs.state.requests.entries.filter((e) => e.time > answered)).toEqual([]);
      // What was committed stays.
      expect(await dataTotal(app, 'crm')).toBe(pagesDone * 100);

      hs.faults.setLatency(0);
      const mark = hs.state.requests.length;
      const resumed = await runSync(app, 'crm');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      const live = liveListGets(mark);
      // The first request continues after the last committed page, so fewer requests than a full sync (10 + 1, and the count).
      expect(live[0]?.query.after).toBe(String(1001 + pagesDone * 100));
      expect(live).toHaveLength(10 - pagesDone);
      expect(hs.state.requests.length - mark).toBe(10 - pagesDone + 1 + 1);
      expect(resumed.progress.records_fetched).toBe(1_000 - pagesDone * 100);
      await expectExactly(app, 'crm', contactIds(1_000));
    });

    it('without credentials, /sync answers 422 naming the variable to set, and queues nothing', async () => {
      hs = await startFakeHubspot({ contacts: 10 });
      const app = await h.bootFromEnv({ HUBSPOT_BASE_URL: hs.url });
      for (const method of ['POST', 'GET'] as const) {
        const crm = await app.inject({ method, url: '/sync/crm' });
        const p1 = expectProblem(crm, 422);
        expect(p1.detail).toContain('HUBSPOT_ACCESS_TOKEN');
        expect(p1.variable).toBe('HUBSPOT_ACCESS_TOKEN');
        const marketing = await app.inject({ method, url: '/sync/marketing' });
        const p2 = expectProblem(marketing, 422);
        expect(p2.detail).toContain('MAILCHIMP_API_KEY');
        expect(p2.variable).toBe('MAILCHIMP_API_KEY');
      }
      expect((await app.inject('/tasks?status=all')).json().items).toEqual([]);
      expect(hs.state.requests.length).toBe(0);
    });
  });
}

/**
 * Upstream faults during crm (HubSpot) syncs: rate limits with
 * Retry-After, bursts of 5xx, timeouts and malformed pages. A transient fault
 * is survived with exact counts; one that does not pass fails the task
 * cleanly, keeps what was committed, and the next run completes from the
 * checkpoint. Request counts are exact: each fault costs one request more.
 */
describe('crm sync through upstream faults', () => {
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
        // No count search at the start: these tests place their faults by the list walk's request order.
        const client = timeoutMs === undefined ? {} : { timeoutMs };
        return h.boot(new Map([['crm', hubspotConnector(hs, client, { estimateTotal: false })]]));
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
});

/**
 * HubSpot list paging has no guard against a `paging.next.after` that does not
 * move (a proxy cache, an upstream bug): the run loops on the same page forever,
 * re-writing the same contacts. Declared cursor sources refuse this
 * ("refusing to loop"); the HubSpot list walk does not.
 */
describe('list paging whose next cursor does not move', () => {
  const ups: Upstream[] = [];
  afterEach(async () => {
    await Promise.all(ups.splice(0).map((u) => u.close()));
  });

  it('a list page whose next cursor is the one just sent ends the walk with an error, not an endless loop', async () => {
    const u = await startUpstream((_req, res) =>
      sendJson(res, 200, { results: [{ id: '1', properties: { email: 'a@example.com' } }], paging: { next: { after: 'same' } } }),
    );
    ups.push(u);
    const src = new HubspotSource({ name: 'crm', accessToken: 't', baseUrl: u.url, properties: [], client: { timeoutMs: 2_000, rateLimit: undefined } });
    let pages = 0;
    let error: unknown = null;
    try {
      for await (const _ of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) })) {
        if (++pages >= 50) break; // the guard of this test
      }
    } catch (e) {
      error = e;
    } finally {
      await src.close();
    }
    expect({ pages, requests: u.requests.length, threw: error !== null }).toMatchObject({ threw: true });
  }, 20_000);
});

/**
 * HubSpot search keyset paging when more than 10,000 contacts share one
 * lastmodifieddate (a bulk import / workflow): every changed contact must be
 * fetched. The walk pages through the tie by offset and, at the 10,000 cap,
 * jumps to since+1 ms, dropping the rest of the tie for good (the next run
 * starts from the newest stamp seen, i.e. after the tie).
 */
describe('a tie longer than the 10,000 search cap', () => {
  let hs: FakeHubspot | undefined;
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
  });

  it('10,500 contacts sharing one lastmodifieddate are all fetched by an incremental run', async () => {
    const T = Date.UTC(2024, 0, 1);
    hs = await startFakeHubspot({ contacts: 10_500, tieGroup: 10_500, startTime: T });
    const src = new HubspotSource({
      name: 'crm',
      accessToken: hs.token,
      baseUrl: hs.url,
      client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000, rateLimit: undefined },
    });
    const seen = new Set<string>();
    let last: unknown;
    try {
      for await (const page of src.pages({
        signal: new AbortController().signal,
        checkpoint: { phase: 'idle', since: T },
        full: false,
        log: pino({ level: 'silent' }),
      })) {
        for (const r of page.records) seen.add(r.external_id);
        last = page.checkpoint;
      }
    } finally {
      await src.close();
    }
    expect(hs.state.requests.entries.filter((e) => e.status !== 200)).toEqual([]);
    expect(last).toMatchObject({ phase: 'idle' });
    expect(seen.size).toBe(10_500);
  }, 120_000);
});

/**
 * A tie (many contacts sharing one lastmodifieddate) across a resume: the
 * checkpoint saved inside the tie used to hold an offset into
 * "lastmodifieddate GTE S", so contacts of the tie edited before the resume
 * made it skip as many unread ones, for good (the next run's lookback starts
 * five minutes before the newest stamp seen). It now holds the last id.
 */
describe('resuming inside a tie, and unreadable checkpoints', () => {
  let hs: FakeHubspot | undefined;
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
  });

  it('a run resumed from a checkpoint inside a tie fetches every contact of the tie', async () => {
    let clock = Date.UTC(2024, 0, 1, 12);
    hs = await startFakeHubspot({ contacts: 1_000, now: () => clock });
    const S = clock;
    const tie = Array.from({ length: 500 }, (_, i) => String(1101 + i));
    for (const id of tie) hs.state.updateContact(id, { firstname: 'Bulk' });

    const src = new HubspotSource({
      name: 'crm',
      accessToken: hs.token,
      baseUrl: hs.url,
      client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000, rateLimit: undefined },
    });
    const log = pino({ level: 'silent' });
    const seen = new Set<string>();
    const walk = async (checkpoint: HubspotCheckpoint, pagesWanted = Infinity) => {
      let cp: HubspotCheckpoint = checkpoint;
      let n = 0;
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: false, log })) {
        for (const r of page.records) seen.add(r.external_id);
        cp = page.checkpoint;
        if (++n >= pagesWanted) break;
      }
      return cp;
    };
    try {
      // First run: one committed page, then it stops (cancel / park / crash).
      const saved = await walk({ phase: 'idle', since: S - 60_000 }, 1);
      expect(saved).toMatchObject({ phase: 'search', since: S, after: 0 });
      // An hour later, 50 of the contacts already fetched are edited again.
      clock = S + 3_600_000;
      for (const id of tie.slice(0, 50)) hs.state.updateContact(id, { lastname: 'Again' });
      // The run resumes from its checkpoint, then a later run from the idle checkpoint.
      const end = await walk(saved);
      expect(end).toMatchObject({ phase: 'idle' });
      await walk(end);
    } finally {
      await src.close();
    }
    expect(tie.filter((id) => !seen.has(id))).toEqual([]);
  });
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

  describe('HubSpot contacts of an odd shape', () => {
    it('a contact with "properties": null (or missing) does not crash the page with a TypeError', async () => {
      const u = await startUpstream((req, res) => {
        const archived = req.url?.includes('archived=true');
        sendJson(res, 200, {
          results: archived
            ? []
            : [{ id: '1', properties: { email: 'a@example.com', lastmodifieddate: '2024-01-01T00:00:00Z' } }, { id: '2', properties: null }, { id: '3' }],
        });
      });
      ups.push(u);
      const src = new HubspotSource({ name: 'crm', accessToken: 't', baseUrl: u.url, properties: [], client: FAST });
      const { ids, error } = await collect(src.pages(ctx()));
      await src.close();
      expect(error === null ? null : String(error)).toBeNull();
      expect(ids).toContain('1');
    }, 15_000);
  });
});
