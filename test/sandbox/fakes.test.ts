import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHubspot, startFakeMailchimp, type FakeHubspot, type FakeMailchimp } from '../../src/providers/fakes.js';
import { FaultInjector } from '../../src/sandbox/faults.js';

// Every fake a test starts is closed after it, even when the test fails.
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((f) => f.close()));
});

async function hubspot(options: Parameters<typeof startFakeHubspot>[0] = {}): Promise<FakeHubspot> {
  const fake = await startFakeHubspot(options);
  open.push(fake);
  return fake;
}

async function mailchimp(options: Parameters<typeof startFakeMailchimp>[0] = {}): Promise<FakeMailchimp> {
  const fake = await startFakeMailchimp(options);
  open.push(fake);
  return fake;
}

type Json = Record<string, unknown>;
interface ContactJson {
  id: string;
  properties: Record<string, string | null>;
  archived: boolean;
  archivedAt?: string;
}
interface ListJson {
  results: ContactJson[];
  paging?: { next: { after: string; link: string } };
}
interface SearchJson {
  total: number;
  results: ContactJson[];
  paging?: { next: { after: string } };
}
interface CampaignJson {
  id: string;
  status: string;
  send_time: string;
  create_time: string;
  emails_sent: number;
  report_summary?: Json;
  settings: Json;
  recipients: Json;
}
interface CampaignsJson {
  campaigns: CampaignJson[];
  total_items: number;
  _links: Array<{ rel: string }>;
}

function hsGet(hs: FakeHubspot, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${hs.url}${path}`, { ...init, headers: { authorization: `Bearer ${hs.token}` } });
}

function hsSearch(hs: FakeHubspot, body: unknown): Promise<Response> {
  return fetch(`${hs.url}/crm/v3/objects/contacts/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hs.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function basic(key: string): string {
  return `Basic ${Buffer.from(`anystring:${key}`).toString('base64')}`;
}

function mcGet(mc: FakeMailchimp, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${mc.url}${path}`, { ...init, headers: { authorization: basic(mc.apiKey) } });
}

async function json<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** Follow paging.next from the first page; every contact seen, in order. */
async function walkList(hs: FakeHubspot, query: string): Promise<ContactJson[]> {
  const seen: ContactJson[] = [];
  let after: string | undefined;
  for (let guard = 0; guard < 10_000; guard += 1) {
    const res = await hsGet(hs, `/crm/v3/objects/contacts?${query}${after ? `&after=${after}` : ''}`);
    expect(res.status).toBe(200);
    const page = await json<ListJson>(res);
    seen.push(...page.results);
    after = page.paging?.next.after;
    if (!after) return seen;
  }
  throw new Error('paging never ended');
}

const since = (ms: number) => ({ filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(ms) }] }] });
const ascending = { sorts: [{ propertyName: 'lastmodifieddate', direction: 'ASCENDING' }] };

describe('fake HubSpot', () => {
  it('pages the contact list in id order, every contact exactly once, with the asked-for properties', async () => {
    const hs = await hubspot({ contacts: 237 });
    hs.state.archiveContact('1010');
    const created = hs.state.createContact({ email: 'new@example.com', firstname: 'New' });

    const seen = await walkList(hs, 'limit=100&properties=email,company');
    const ids = seen.map((c) => c.id);
    expect(ids).toHaveLength(237); // 237 - 1 archived + 1 created
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).not.toContain('1010');
    expect(ids.at(-1)).toBe(created.id);
    expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b));
    expect(Object.keys(seen[0]?.properties ?? {}).sort()).toEqual(['company', 'createdate', 'email', 'hs_object_id', 'lastmodifieddate']);
    expect(seen[0]).toMatchObject({ archived: false, id: '1001' });
  });

  it('serves HubSpot default properties, the default limit of 10, and a next link that works', async () => {
    const hs = await hubspot({ contacts: 15 });
    const first = await json<ListJson>(await hsGet(hs, '/crm/v3/objects/contacts'));
    expect(first.results).toHaveLength(10);
    expect(Object.keys(first.results[0]?.properties ?? {}).sort()).toEqual([
      'createdate',
      'email',
      'firstname',
      'hs_object_id',
      'lastmodifieddate',
      'lastname',
    ]);
    const link = first.paging?.next.link ?? '';
    expect(link.startsWith(hs.url)).toBe(true);
    const second = await json<ListJson>(await fetch(link, { headers: { authorization: `Bearer ${hs.token}` } }));
    expect(second.results.map((c) => c.id)).toEqual(['1011', '1012', '1013', '1014', '1015']);
    expect(second.paging).toBeUndefined();
  });

  it('refuses a list limit over 100 in HubSpot error shape', async () => {
    const hs = await hubspot();
    const res = await hsGet(hs, '/crm/v3/objects/contacts?limit=101');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
  });

  it('lists only archived contacts with archived=true, and hides them from single reads unless asked', async () => {
    const hs = await hubspot({ contacts: 30 });
    hs.state.archiveContact('1020');
    hs.state.archiveContact('1003');
    const archived = await walkList(hs, 'archived=true&limit=1');
    expect(archived.map((c) => c.id)).toEqual(['1003', '1020']);
    expect(archived.every((c) => c.archived && typeof c.archivedAt === 'string')).toBe(true);

    expect((await hsGet(hs, '/crm/v3/objects/contacts/1020')).status).toBe(404);
    const one = await hsGet(hs, '/crm/v3/objects/contacts/1020?archived=true');
    expect(await json<ContactJson>(one)).toMatchObject({ id: '1020', archived: true });
    const live = await json<ContactJson>(await hsGet(hs, '/crm/v3/objects/contacts/1021?properties=phone'));
    expect(live.properties.phone).toMatch(/^\+1-555-\d{4}$/);
  });

  it('searches in lastmodifieddate order with ties by id, GT vs GTE, and moves an updated contact to the end', async () => {
    const start = Date.UTC(2024, 0, 1);
    const hs = await hubspot({ contacts: 12, startTime: start, stepMs: 1000, tieGroup: 3, now: () => Date.UTC(2025, 0, 1) });
    // Contacts 1001-1003 share `start`, 1004-1006 share start+1s, ...
    const gte = await json<SearchJson>(await hsSearch(hs, { ...since(start + 1000), ...ascending, limit: 4 }));
    expect(gte.total).toBe(9);
    expect(gte.results.map((c) => c.id)).toEqual(['1004', '1005', '1006', '1007']);
    expect(gte.paging?.next.after).toBe('4');

    const gt = await json<SearchJson>(
      await hsSearch(hs, {
        filterGroups: [{ filters: [{ propertyName: 'lastmodifieddate', operator: 'GT', value: String(start + 1000) }] }],
        ...ascending,
        limit: 100,
      }),
    );
    expect(gt.results.map((c) => c.id)).toEqual(['1007', '1008', '1009', '1010', '1011', '1012']);

    hs.state.updateContact('1005', { firstname: 'Changed' });
    hs.state.archiveContact('1008');
    const after = await json<SearchJson>(await hsSearch(hs, { ...since(start + 1000), ...ascending, limit: 100, properties: ['firstname'] }));
    expect(after.results.map((c) => c.id)).toEqual(['1004', '1006', '1007', '1009', '1010', '1011', '1012', '1005']);
    expect(after.total).toBe(8);
    expect(after.results.at(-1)?.properties).toMatchObject({ firstname: 'Changed', lastmodifieddate: '2025-01-01T00:00:00.000Z' });
    expect(after.paging).toBeUndefined();
  });

  it('answers the indexed search path and the scanning path alike', async () => {
    const start = Date.UTC(2024, 0, 1);
    // Generated stamps run from start to start+74s in ties of four; changes are stamped start+40s, so they
    // land mid-range, tied with generated contacts.
    const hs = await hubspot({ contacts: 300, startTime: start, stepMs: 1000, tieGroup: 4, now: () => start + 40_000 });
    for (const id of ['1001', '1050', '1051', '1200']) hs.state.updateContact(id, { lastname: 'Moved' });
    for (const id of ['1002', '1100', '1299']) hs.state.archiveContact(id);
    hs.state.createContact({ firstname: 'Fresh' });

    const operators = ['GT', 'GTE', 'LT', 'LTE', 'EQ'] as const;
    for (const operator of operators) {
      for (const offsetSeconds of [-5, 37, 40, 74, 400]) {
        const filter = { propertyName: 'lastmodifieddate', operator, value: String(start + offsetSeconds * 1000) };
        for (const paging of [
          { limit: 200, after: '3' },
          { limit: 10, after: '150' },
        ]) {
          const indexed = await json<SearchJson>(await hsSearch(hs, { filterGroups: [{ filters: [filter] }], ...ascending, ...paging }));
          // The same filter twice as an OR forces the scan.
          const scanned = await json<SearchJson>(await hsSearch(hs, { filterGroups: [{ filters: [filter] }, { filters: [filter] }], ...ascending, ...paging }));
          expect(indexed, `${operator} ${offsetSeconds}s ${paging.after}`).toEqual(scanned);
        }
      }
    }
  });

  it('enforces the 10,000-result search cap with a 400 VALIDATION_ERROR', async () => {
    const hs = await hubspot({ contacts: 12_000 });
    const page = await json<SearchJson>(await hsSearch(hs, { ...since(0), ...ascending, limit: 200, after: '9800' }));
    expect(page.total).toBe(12_000);
    expect(page.results).toHaveLength(200);
    expect(page.results[0]?.id).toBe('10801');
    // HubSpot still offers the next cursor; following it hits the wall.
    expect(page.paging?.next.after).toBe('10000');

    for (const [after, limit] of [
      ['10000', 10],
      ['9900', 200],
    ] as const) {
      const res = await hsSearch(hs, { ...since(0), ...ascending, limit, after });
      expect(res.status).toBe(400);
      const body = await json<Json>(res);
      expect(body).toMatchObject({ status: 'error', category: 'VALIDATION_ERROR' });
      expect(typeof body.correlationId).toBe('string');
      expect(String(body.message)).toContain('10000');
    }
    expect((await hsSearch(hs, { ...since(0), limit: 201 })).status).toBe(400);
  });

  it('refuses requests without the right Bearer token, and unknown paths, in HubSpot error shape', async () => {
    const hs = await hubspot();
    const refused: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${hs.token}` }];
    for (const headers of refused) {
      const res = await fetch(`${hs.url}/crm/v3/objects/contacts`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ status: 'error', category: 'INVALID_AUTHENTICATION' });
    }
    const unknown = await hsGet(hs, '/crm/v3/objects/deals');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ status: 'error', category: 'OBJECT_NOT_FOUND' });
    expect((await hsGet(hs, '/crm/v3/objects/contacts/999999')).status).toBe(404);
  });

  it('logs every request with method, path, query, body and time, and clears the log', async () => {
    const hs = await hubspot();
    await hsGet(hs, '/crm/v3/objects/contacts?limit=3&properties=email&properties=phone');
    await hsSearch(hs, { limit: 2 });
    const [list, search] = hs.state.requests.entries;
    expect(list).toMatchObject({ method: 'GET', path: '/crm/v3/objects/contacts', query: { limit: '3', properties: 'email,phone' }, status: 200 });
    expect(search).toMatchObject({ method: 'POST', path: '/crm/v3/objects/contacts/search', body: { limit: 2 }, status: 200 });
    expect(typeof list?.time).toBe('number');
    expect(hs.state.requests.matching('/crm/v3/objects/contacts/search', 'POST')).toHaveLength(1);
    hs.state.requests.clear();
    expect(hs.state.requests.length).toBe(0);
  });
});

describe('fake Mailchimp', () => {
  it('pages campaigns with count/offset, every campaign exactly once, with total_items', async () => {
    const mc = await mailchimp({ campaigns: 53 });
    const victim = mc.state.createCampaign({ settings: { title: 'Created' } });
    mc.state.deleteCampaign(mc.state.idAt(7));

    const seen: CampaignJson[] = [];
    for (let offset = 0; ; offset += 10) {
      const page = await json<CampaignsJson>(await mcGet(mc, `/campaigns?count=10&offset=${offset}&sort_field=create_time&sort_dir=ASC`));
      expect(page.total_items).toBe(53);
      // Links on the collection as on every campaign, as Mailchimp sends them.
      expect(page._links.map((l) => l.rel)).toContain('self');
      seen.push(...page.campaigns);
      if (page.campaigns.length < 10) break;
    }
    expect(seen).toHaveLength(53);
    expect(new Set(seen.map((c) => c.id)).size).toBe(53);
    expect(seen.map((c) => c.id)).not.toContain(mc.state.idAt(7));
    expect(seen.at(-1)?.id).toBe(victim.id);
    const times = seen.map((c) => c.create_time);
    expect(times).toEqual([...times].sort());

    const desc = await json<CampaignsJson>(await mcGet(mc, '/campaigns?count=1000&sort_field=create_time&sort_dir=DESC'));
    expect(desc.campaigns.map((c) => c.id)).toEqual(seen.map((c) => c.id).reverse());
    expect((await json<CampaignsJson>(await mcGet(mc, '/campaigns'))).campaigns).toHaveLength(10);
  });

  it('serves the documented campaign shape: unsent campaigns have an empty send_time and no report', async () => {
    const mc = await mailchimp({ campaigns: 40 });
    const { campaigns } = await json<CampaignsJson>(await mcGet(mc, '/campaigns?count=1000'));
    const sent = campaigns.filter((c) => c.status === 'sent');
    const unsent = campaigns.filter((c) => c.status === 'save');
    expect(sent.length).toBeGreaterThan(0);
    expect(unsent.length).toBeGreaterThan(0);
    for (const c of campaigns) {
      expect(c.id).toMatch(/^[0-9a-f]{10}$/);
      expect(c.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
      expect(c.settings).toMatchObject({ subject_line: expect.any(String), title: expect.any(String), from_name: expect.any(String) });
      expect(c.recipients).toMatchObject({ list_id: expect.any(String) });
    }
    for (const c of sent) {
      expect(c.send_time).not.toBe('');
      expect(c.report_summary).toMatchObject({
        opens: expect.any(Number),
        unique_opens: expect.any(Number),
        open_rate: expect.any(Number),
        clicks: expect.any(Number),
        subscriber_clicks: expect.any(Number),
        click_rate: expect.any(Number),
      });
    }
    for (const c of unsent) {
      expect(c).toMatchObject({ send_time: '', emails_sent: 0 });
      expect(c.report_summary).toBeUndefined();
    }
  });

  it('filters on since_create_time (strictly after), sends a campaign, and projects fields', async () => {
    const start = Date.UTC(2024, 5, 1);
    const mc = await mailchimp({ campaigns: 20, startTime: start, stepMs: 60_000, now: () => Date.UTC(2025, 0, 1) });
    const sinceIso = new Date(start + 9 * 60_000).toISOString();
    const later = await json<CampaignsJson>(await mcGet(mc, `/campaigns?count=100&since_create_time=${encodeURIComponent(sinceIso)}`));
    expect(later.total_items).toBe(10); // campaigns 10..19; campaign 9 was created exactly at `since`

    const draft = mc.state.createCampaign();
    expect(draft).toMatchObject({ status: 'save', send_time: '' });
    const sent = mc.state.sendCampaign(draft.id, { emailsSent: 1000 });
    expect(sent).toMatchObject({ status: 'sent', send_time: '2025-01-01T00:00:00+00:00', emails_sent: 1000 });
    expect(sent.report_summary?.unique_opens).toBeGreaterThan(0);
    const one = await json<CampaignJson>(await mcGet(mc, `/campaigns/${draft.id}`));
    expect(one.status).toBe('sent');

    const projected = await json<Json>(await mcGet(mc, '/campaigns?count=2&fields=campaigns.id,campaigns.settings.title,total_items'));
    expect(Object.keys(projected).sort()).toEqual(['campaigns', 'total_items']);
    expect((projected.campaigns as Json[])[0]).toEqual({ id: expect.any(String), settings: { title: expect.any(String) } });
    const excluded = await json<Json>(await mcGet(mc, '/campaigns?count=1&exclude_fields=campaigns.settings,_links'));
    expect(excluded._links).toBeUndefined();
    expect((excluded.campaigns as Json[])[0]?.settings).toBeUndefined();

    mc.state.deleteCampaign(draft.id);
    expect((await mcGet(mc, `/campaigns/${draft.id}`)).status).toBe(404);
  });

  it('answers ping, refuses bad keys and unknown paths as problem JSON, and caps count at 1000', async () => {
    const mc = await mailchimp();
    expect(mc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/3\.0$/);
    expect(await json<Json>(await mcGet(mc, '/ping'))).toEqual({ health_status: "Everything's Chimpy!" });

    const refused: Array<Record<string, string>> = [{}, { authorization: basic('wrong-us6') }, { authorization: `Bearer ${mc.apiKey}` }];
    for (const headers of refused) {
      const res = await fetch(`${mc.url}/campaigns`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({
        type: expect.any(String),
        title: expect.any(String),
        status: 401,
        detail: expect.any(String),
        instance: expect.any(String),
      });
    }
    const missing = await mcGet(mc, '/automations');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ title: 'Resource Not Found', status: 404 });
    expect((await mcGet(mc, '/campaigns?count=1001')).status).toBe(400);
    expect((await mcGet(mc, '/campaigns', { method: 'DELETE' })).status).toBe(405);
  });
});

describe('fault injection', () => {
  it('queues faults by path prefix, skip and times, and cancels or clears them', () => {
    const faults = new FaultInjector();
    const burst = faults.status(503, { times: 2, skip: 1, pathPrefix: '/a' });
    expect(faults.take('/b')).toBeUndefined();
    expect(faults.take('/a/x')).toBeUndefined(); // skipped
    expect(faults.take('/a/x')).toMatchObject({ kind: 'status', status: 503 });
    expect(faults.take('/a/y')).toMatchObject({ kind: 'status', status: 503 });
    expect(faults.take('/a/z')).toBeUndefined();
    expect(burst).toMatchObject({ hits: 2, remaining: 0 });

    const hang = faults.hang({ times: Infinity });
    faults.take('/q');
    hang.cancel();
    expect(faults.take('/q')).toBeUndefined();

    faults.reset();
    faults.setLatency(50);
    faults.clear();
    expect(faults.pending).toBe(0);
    expect(faults.latencyFor('/x')).toBe(0);
    expect(() => faults.status(500, { times: 0 })).toThrow(RangeError);
  });

  it('answers a burst of 5xx then recovers, and marks the faulted requests in the log', async () => {
    const hs = await hubspot();
    hs.faults.status(500);
    hs.faults.status(502);
    hs.faults.status(503);
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await hsGet(hs, '/crm/v3/objects/contacts')).status);
    expect(statuses).toEqual([500, 502, 503, 200]);
    expect(hs.state.requests.entries.map((e) => e.fault)).toEqual(['status', 'status', 'status', undefined]);
  });

  it("sends 429 with Retry-After in each provider's rate-limit shape", async () => {
    const hs = await hubspot();
    hs.faults.rateLimit({ retryAfterSeconds: 2 });
    hs.faults.rateLimit({ policyName: 'DAILY', retryAfterSeconds: null });
    const secondly = await hsGet(hs, '/crm/v3/objects/contacts');
    expect(secondly.status).toBe(429);
    expect(secondly.headers.get('retry-after')).toBe('2');
    expect(await secondly.json()).toMatchObject({ status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' });
    const daily = await hsGet(hs, '/crm/v3/objects/contacts');
    expect(daily.headers.get('retry-after')).toBeNull();
    expect(await daily.json()).toMatchObject({ policyName: 'DAILY', message: 'You have reached your daily limit.' });

    const mc = await mailchimp();
    mc.faults.rateLimit();
    const limited = await mcGet(mc, '/campaigns');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ title: 'Too Many Requests', status: 429 });
  });

  it('scopes a fault to a path prefix, and does not spend it on refused requests', async () => {
    const hs = await hubspot();
    hs.faults.status(503, { pathPrefix: '/crm/v3/objects/contacts/search', skip: 1 });
    expect((await fetch(`${hs.url}/crm/v3/objects/contacts/search`, { method: 'POST' })).status).toBe(401);
    expect((await hsGet(hs, '/crm/v3/objects/contacts')).status).toBe(200);
    expect((await hsSearch(hs, {})).status).toBe(200); // skipped
    expect((await hsSearch(hs, {})).status).toBe(503);
    expect((await hsSearch(hs, {})).status).toBe(200);
  });

  it('delays answers by the configured latency', async () => {
    const mc = await mailchimp({ latencyMs: 60 });
    const started = performance.now();
    expect((await mcGet(mc, '/ping')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    mc.faults.setLatency(0);
    expect(mc.faults.latencyFor(`/3.0/ping`)).toBe(0);
  });

  it('trickles a slow body after sending the headers at once', async () => {
    const hs = await hubspot({ contacts: 20 });
    hs.faults.slow({ chunks: 4, chunkDelayMs: 20 });
    const { status, chunks } = await rawGet(`${hs.url}/crm/v3/objects/contacts?limit=20`, { authorization: `Bearer ${hs.token}` });
    expect(status).toBe(200);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect((JSON.parse(Buffer.concat(chunks).toString()) as ListJson).results).toHaveLength(20);
  });

  it('hangs until the client gives up, and close() still ends hanging connections', async () => {
    const hs = await hubspot();
    hs.faults.hang();
    await expect(hsGet(hs, '/crm/v3/objects/contacts', { signal: AbortSignal.timeout(100) })).rejects.toThrow();

    hs.faults.hang({ afterHeaders: true });
    const headersOnly = await hsGet(hs, '/crm/v3/objects/contacts');
    expect(headersOnly.status).toBe(200);
    const body = headersOnly.text();

    hs.faults.hang();
    const pending = hsGet(hs, '/crm/v3/objects/contacts');
    await hs.close();
    await expect(pending).rejects.toThrow();
    await expect(body).rejects.toThrow();
  });

  it('close() also ends answers held by latency or trickling', async () => {
    const mc = await mailchimp({ latencyMs: 60_000 });
    const delayed = mcGet(mc, '/ping');
    await waitFor(() => mc.state.requests.length === 1);
    await mc.close();
    await expect(delayed).rejects.toThrow();
  });

  it('serves malformed pages: cut-off JSON, a page without its records, an empty body', async () => {
    const hs = await hubspot();
    hs.faults.malformed('invalid-json');
    hs.faults.malformed('missing-collection');
    hs.faults.malformed('empty-body');
    const cut = await hsGet(hs, '/crm/v3/objects/contacts');
    expect(cut.status).toBe(200);
    await expect(cut.json()).rejects.toThrow();
    const missing = await json<Json>(await hsGet(hs, '/crm/v3/objects/contacts'));
    expect(missing).not.toHaveProperty('results');
    expect(missing).toHaveProperty('paging');
    expect(await (await hsGet(hs, '/crm/v3/objects/contacts')).text()).toBe('');

    const mc = await mailchimp();
    mc.faults.malformed('missing-collection');
    const page = await json<Json>(await mcGet(mc, '/campaigns'));
    expect(page).not.toHaveProperty('campaigns');
    expect(page).toHaveProperty('total_items');
  });

  it('resets the connection', async () => {
    const mc = await mailchimp();
    mc.faults.reset();
    await expect(mcGet(mc, '/ping')).rejects.toThrow();
    expect((await mcGet(mc, '/ping')).status).toBe(200);
  });

  it("sends a custom raw body, e.g. a gateway's HTML page", async () => {
    const mc = await mailchimp();
    mc.faults.status(502, { body: '<html><body>Bad Gateway</body></html>' });
    const res = await mcGet(mc, '/campaigns');
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('Bad Gateway');
  });
});

describe('generated mode', () => {
  it('serves the last pages of a million contacts and campaigns without building them all', async () => {
    const N = 1_000_000;
    global.gc?.();
    const before = process.memoryUsage().heapUsed;

    const start = Date.UTC(2023, 0, 1);
    const hs = await hubspot({ contacts: N, startTime: start, stepMs: 1000 });
    const lastId = 1001 + N - 1;
    const tail = await json<ListJson>(await hsGet(hs, `/crm/v3/objects/contacts?limit=100&after=${lastId - 4}`));
    expect(tail.results.map((c) => c.id)).toEqual([4, 3, 2, 1, 0].map((k) => String(lastId - k)));
    expect(tail.paging).toBeUndefined();

    const recent = await json<SearchJson>(await hsSearch(hs, { ...since(start + (N - 3) * 1000), ...ascending, limit: 10 }));
    expect(recent.total).toBe(3);
    expect(recent.results.map((c) => c.id)).toEqual([lastId - 2, lastId - 1, lastId].map(String));
    hs.state.updateContact('1001', { firstname: 'Touched' });
    const withChange = await json<SearchJson>(await hsSearch(hs, { ...since(start + (N - 3) * 1000), ...ascending, limit: 10 }));
    expect(withChange.results.at(-1)?.id).toBe('1001');
    expect(hs.state.size).toBe(N);

    const mc = await mailchimp({ campaigns: N });
    const last = await json<CampaignsJson>(await mcGet(mc, `/campaigns?count=1000&offset=${N - 5}&sort_field=create_time&sort_dir=ASC`));
    expect(last.total_items).toBe(N);
    expect(last.campaigns).toHaveLength(5);
    expect(last.campaigns.at(-1)?.id).toBe(mc.state.idAt(N - 1));
    const newest = await json<CampaignsJson>(await mcGet(mc, '/campaigns?count=1&sort_field=create_time&sort_dir=DESC'));
    expect(newest.campaigns[0]?.id).toBe(mc.state.idAt(N - 1));
    expect((await mcGet(mc, `/campaigns/${mc.state.idAt(N - 1)}`)).status).toBe(200);

    // A million materialized contacts would take hundreds of MB; the generated sets take next to nothing.
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(100 * 1024 * 1024);
  });

  it('refuses a query it would have to scan a million records for, rather than hang', async () => {
    const hs = await hubspot({ contacts: 1_000_000 });
    const res = await hsSearch(hs, { filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'x@example.com' }] }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ category: 'VALIDATION_ERROR' });
  });
});

/** A GET through node:http, keeping the body's chunks as they arrived. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; chunks: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, chunks }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}
