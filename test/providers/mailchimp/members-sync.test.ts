/**
 * Mailchimp audience members synced as `marketing` customers, end to end: the
 * real connector against the fake Mailchimp, driven through /sync and /tasks,
 * read back through /data and /customers, on every engine.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type FakeMailchimp, startFakeMailchimp, type Audience } from '../../../src/providers/fakes.js';
import { MailchimpSource, type MailchimpSourceOptions } from '../../../src/providers/mailchimp/connector.js';
import { ENGINES } from '../../helpers/databases.js';
import { allRecords, dataTotal, FAST_CLIENT, getTask, Harness, runSync, since, startSync, waitFor, waitForTask } from '../../helpers/sync.js';
import type { RequestLogEntry } from '../../../src/providers/fakes.js';

const MEMBERS = (listId: string) => `/3.0/lists/${listId}/members`;

function connector(mc: FakeMailchimp, options: Partial<MailchimpSourceOptions> = {}): MailchimpSource {
  return new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, ...options, client: { ...FAST_CLIENT, ...options.client } });
}

/** Every member key the fake has now, archived ones included. */
const keysOf = (audiences: readonly Audience[]) => audiences.flatMap((a) => a.all().map((m) => `${a.id}:${m.id}`));

/** The member listings of one audience in the log. */
const listings = (entries: readonly RequestLogEntry[], listId: string) => entries.filter((e) => e.method === 'GET' && e.path === MEMBERS(listId));

async function customers(app: Parameters<typeof allRecords>[0], includeDeleted = false) {
  return (await allRecords(app, 'marketing', includeDeleted)).filter((r) => r.type === 'customer');
}

for (const engine of ENGINES) {
  describe(`Mailchimp audience members on ${engine.name}`, () => {
    const h = new Harness(engine);
    let mc: FakeMailchimp | undefined;

    afterEach(async () => {
      await h.reset();
      await mc?.close();
      mc = undefined;
    });
    afterAll(() => h.drop());

    it('a first load stores every member of both audiences once: exact counts, one row per audience for a shared address', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 1_250, sharedMembers: 3 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc)]]));

      const task = await runSync(app, 'marketing');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(task.progress).toMatchObject({ records_fetched: 2_500, records_written: 2_500, percent: 100 });

      const expected = keysOf([a, b]);
      expect(expected).toHaveLength(2_500);
      const rows = await customers(app);
      const ids = rows.map((r) => r.external_id as string);
      expect(ids).toHaveLength(2_500);
      expect(new Set(ids).size).toBe(2_500);
      expect([...ids].sort()).toEqual([...expected].sort());
      expect(await dataTotal(app, 'marketing')).toBe(2_500);

      // The same address in both audiences: two rows, one per audience.
      const shared = a.all()[0]!;
      const both = rows.filter((r) => r.email === shared.email_address);
      expect(both.map((r) => r.external_id).sort()).toEqual([`${a.id}:${shared.id}`, `${b.id}:${shared.id}`].sort());

      // Archived members are not in the default listing: asked for by status, stored with it.
      const archived = a.all().filter((m) => m.status === 'archived');
      expect(archived.length).toBeGreaterThan(0);
      const archivedRow = rows.find((r) => r.external_id === `${a.id}:${archived[0]!.id}`);
      expect(archivedRow?.attributes).toMatchObject({ status: 'archived' });
      expect(listings(mc.state.requests.entries, a.id).some((e) => e.query.status === 'archived')).toBe(true);

      const member = a.all().find((m) => m.tags.length > 0)!;
      const row = rows.find((r) => r.external_id === `${a.id}:${member.id}`)!;
      expect(row).toMatchObject({
        type: 'customer',
        source: 'marketing',
        email: member.email_address,
        name: `${member.merge_fields.FNAME} ${member.merge_fields.LNAME}`,
      });
      expect(row.attributes).toMatchObject({
        status: member.status,
        merge_fields: member.merge_fields,
        tags: member.tags,
        timestamp_opt: member.timestamp_opt,
        last_changed: member.last_changed,
        stats: member.stats,
        location: member.location,
        list_id: a.id,
        unique_email_id: member.unique_email_id,
        contact_id: member.contact_id,
      });
      expect(row.attributes).not.toHaveProperty('_links');

      // Pages of 1,000, without the links, oldest change first.
      for (const e of listings(mc.state.requests.entries, a.id)) {
        expect(e.query).toMatchObject({ count: '1000', sort_field: 'last_changed', sort_dir: 'ASC' });
        expect(e.query.exclude_fields).toContain('members._links');
      }
      // GET /customers shows them too.
      const view = await app.inject('/customers?source=marketing&limit=5');
      expect(view.statusCode, view.body).toBe(200);
      const items = (view.json() as { items: Array<{ type: string; source: string }> }).items;
      expect(items).toHaveLength(5);
      expect(items.every((i) => i.type === 'customer' && i.source === 'marketing')).toBe(true);
    });

    it('an incremental run asks each audience only for the members changed since its last walk', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 300 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc)]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');

      const aMembers = a.all();
      const bMembers = b.all();
      a.update(aMembers[10]!.id, { merge_fields: { FNAME: 'Renamed' } });
      a.update(aMembers[20]!.id, { status: 'unsubscribed' });
      const added = a.add('new.person@example.com', { merge_fields: { FNAME: 'New', LNAME: 'Person' } });
      b.archive(bMembers[5]!.id);

      const mark = mc.state.requests.length;
      const task = await runSync(app, 'marketing');
      expect(task.status, task.error ?? '').toBe('succeeded');
      const entries = since(mc.state.requests.entries, mark);
      for (const id of [a.id, b.id]) {
        const asked = listings(entries, id);
        expect(asked.length).toBeGreaterThan(0);
        for (const e of asked) expect(e.query.since_last_changed).toBeDefined();
      }
      // Only the four changed members came back.
      expect(task.progress.records_fetched).toBe(4);
      expect(task.progress.records_written).toBe(4);

      const rows = await customers(app);
      expect(rows).toHaveLength(601);
      expect(rows.find((r) => r.external_id === `${a.id}:${aMembers[10]!.id}`)?.name).toMatch(/^Renamed /);
      expect(rows.find((r) => r.external_id === `${a.id}:${aMembers[20]!.id}`)?.attributes).toMatchObject({ status: 'unsubscribed' });
      expect(rows.find((r) => r.external_id === `${a.id}:${added.id}`)).toMatchObject({ name: 'New Person', email: 'new.person@example.com' });
      expect(rows.find((r) => r.external_id === `${b.id}:${bMembers[5]!.id}`)?.attributes).toMatchObject({ status: 'archived' });
    });

    it('a member deleted upstream becomes a tombstone on a full run, not on an incremental one', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 200 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc)]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const gone = [`${a.id}:${a.all()[3]!.id}`, `${a.id}:${a.all()[150]!.id}`, `${b.id}:${b.all()[7]!.id}`];
      for (const key of gone) {
        const [listId, hash] = key.split(':') as [string, string];
        mc.audiences.get(listId)!.delete(hash);
      }

      const incremental = await runSync(app, 'marketing');
      expect(incremental.status, incremental.error ?? '').toBe('succeeded');
      expect(await dataTotal(app, 'marketing')).toBe(400);

      const mark = mc.state.requests.length;
      const full = await runSync(app, 'marketing', '?full=true');
      expect(full.status, full.error ?? '').toBe('succeeded');
      expect(await dataTotal(app, 'marketing')).toBe(397);
      const tombstones = (await customers(app, true)).filter((r) => r.deleted_at !== null);
      expect(tombstones.map((r) => r.external_id).sort()).toEqual([...gone].sort());
      // Each was confirmed by a 404 before it became a tombstone.
      const checks = since(mc.state.requests.entries, mark).filter((e) => /\/members\/[0-9a-f]{32}$/.test(e.path));
      expect(checks.map((e) => e.status)).toEqual([404, 404, 404]);
    });

    it('MAILCHIMP_FULL_INTERVAL: a scheduled run past the interval walks every member and sweeps', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 1, members: 50 });
      const [a] = mc.audiences.audiences as [Audience];
      const app = await h.boot(new Map([['marketing', connector(mc, { fullIntervalMs: 0 })]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const victim = a.all()[9]!;
      a.delete(victim.id);
      const mark = mc.state.requests.length;
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      expect(listings(since(mc.state.requests.entries, mark), a.id).every((e) => e.query.since_last_changed === undefined)).toBe(true);
      expect(await dataTotal(app, 'marketing')).toBe(49);
    });

    it('a run cancelled inside the second audience resumes from that audience, not the first', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 4_000, latencyMs: 150 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc)]]));
      const id = await startSync(app, 'marketing');
      // Inside the second audience: its second page asked for.
      await waitFor(
        () => Promise.resolve(listings(mc!.state.requests.entries, b.id).some((e) => e.query.offset === '1000' && e.status === 200) ? true : undefined),
        'the second page of the second audience',
        30_000,
      );
      const cancel = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: id } });
      expect(cancel.statusCode, cancel.body).toBe(200);
      const cancelled = await waitForTask(app, id);
      expect(cancelled.status).toBe('cancelled');
      const stored = await dataTotal(app, 'marketing');
      expect(stored).toBeGreaterThanOrEqual(a.size);
      expect(stored).toBeLessThan(a.size + b.size);

      mc.faults.setLatency(0);
      const mark = mc.state.requests.length;
      const resumed = await runSync(app, 'marketing');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      const entries = since(mc.state.requests.entries, mark);
      expect(listings(entries, a.id)).toEqual([]);
      expect(listings(entries, b.id).length).toBeGreaterThan(0);
      const ids = (await customers(app)).map((r) => r.external_id as string);
      expect(ids).toHaveLength(8_000);
      expect(new Set(ids).size).toBe(8_000);
      expect((await getTask(app, resumed.task_id)).progress.percent).toBe(100);
    }, 90_000);

    it('an incremental run cancelled inside an audience resumes at its offset there', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 3_000 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc)]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const changed = b.all().slice(0, 2_500);
      for (const m of changed) b.update(m.id, { merge_fields: { LNAME: 'Changed' } });

      mc.faults.setLatency(400);
      const id = await startSync(app, 'marketing');
      // The first page of changes in the second audience committed (its checkpoint holds offset 1,000), the rest still to come.
      await waitFor(
        async () => ((await getTask(app, id)).progress.records_written >= 1_000 ? true : undefined),
        'the first page of changes in the second audience to commit',
        30_000,
      );
      await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: id } });
      expect((await waitForTask(app, id)).status).toBe('cancelled');

      mc.faults.setLatency(0);
      const again = mc.state.requests.length;
      const resumed = await runSync(app, 'marketing');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      const entries = since(mc.state.requests.entries, again);
      expect(listings(entries, a.id)).toEqual([]);
      const first = listings(entries, b.id)[0]!;
      expect(first.query.since_last_changed).toBeDefined();
      expect(Number(first.query.offset)).toBeGreaterThanOrEqual(1_000);
      const rows = await customers(app);
      expect(rows).toHaveLength(6_000);
      const renamed = rows.filter((r) => typeof r.name === 'string' && r.name.endsWith(' Changed'));
      expect(renamed).toHaveLength(2_500);
    }, 90_000);

    it('never more than 10 requests in flight, even at MAILCHIMP_CONCURRENCY=10 (the fake counts, and refuses the 11th)', async () => {
      // Slow answers, so that the waits (not the fake's own work, in this process) make the overlap.
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 3_000, latencyMs: 200 });
      const app = await h.bootFromEnv({ MAILCHIMP_BASE_URL: mc.url, MAILCHIMP_API_KEY: mc.apiKey, MAILCHIMP_CONCURRENCY: '10' });
      const task = await runSync(app, 'marketing');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(mc.inFlight.peak).toBeGreaterThanOrEqual(2);
      expect(mc.inFlight.peak).toBeLessThanOrEqual(10);
      expect(mc.inFlight.refused).toBe(0);

      // The fake does refuse: twelve at once against a slow answer.
      mc.faults.setLatency(500);
      mc.inFlight.reset();
      const auth = `Basic ${Buffer.from(`x:${mc.apiKey}`).toString('base64')}`;
      const statuses = await Promise.all(
        Array.from({ length: 12 }, () => fetch(`${mc!.url}/ping`, { headers: { authorization: auth } }).then((r) => r.status)),
      );
      expect(statuses.filter((s) => s === 429)).toHaveLength(2);
      expect(mc.inFlight.refused).toBe(2);
    }, 60_000);

    it('campaign statuses canceled, canceling and archived are stored as they come', async () => {
      mc = await startFakeMailchimp({ campaigns: 6 });
      const statuses = ['canceled', 'canceling', 'archived'] as const;
      statuses.forEach((status, i) => mc!.state.updateCampaign(mc!.state.idAt(i), { status }));
      const app = await h.boot(new Map([['marketing', connector(mc)]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const rows = await allRecords(app, 'marketing');
      for (const [i, status] of statuses.entries()) {
        expect(rows.find((r) => r.external_id === mc!.state.idAt(i))).toMatchObject({ type: 'campaign', status });
      }
    });
  });
}

describe('the fake Mailchimp follows the API', () => {
  it('puts _links on every object unless excluded, and leaves archived members out of the default listing', async () => {
    const mc = await startFakeMailchimp({ campaigns: 3, audiences: 2, members: 200 });
    try {
      const auth = { authorization: `Basic ${Buffer.from(`x:${mc.apiKey}`).toString('base64')}` };
      const get = async (path: string) => (await fetch(`${mc.url}${path}`, { headers: auth })).json() as Promise<Record<string, unknown>>;
      const [a] = mc.audiences.audiences as [Audience];
      const members = (await get(`/lists/${a.id}/members?count=1000`)) as { members: Array<{ _links: unknown[]; status: string }>; total_items: number };
      expect(members.members.every((m) => m._links.length > 0 && m.status !== 'archived')).toBe(true);
      const archived = (await get(`/lists/${a.id}/members?count=1000&status=archived`)) as typeof members;
      expect(archived.total_items).toBeGreaterThan(0);
      expect(members.total_items + archived.total_items).toBe(a.size);
      const bare = (await get(`/lists/${a.id}/members?count=5&exclude_fields=members._links`)) as { members: Array<Record<string, unknown>> };
      expect(bare.members.every((m) => !('_links' in m))).toBe(true);
      const campaigns = (await get('/campaigns')) as { campaigns: Array<{ _links: unknown[] }>; _links: unknown[] };
      expect(campaigns.campaigns.every((c) => c._links.length > 0)).toBe(true);
      const lists = (await get('/lists')) as { lists: Array<{ id: string; _links: unknown[] }> };
      expect(lists.lists.map((l) => l.id)).toEqual(mc.audiences.audiences.map((x) => x.id));
      expect(lists.lists.every((l) => l._links.length > 0)).toBe(true);
      const one = await get(`/lists/${a.id}/members/${a.all()[0]!.id}`);
      expect(one._links).toBeDefined();
    } finally {
      await mc.close();
    }
  });
});
