import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sendJson, sendJsonText, startUpstream, type Upstream, urlOf } from '../../helpers/upstream.js';
import { customers, type FakeApi, type FakeRecord, startFakeApi } from './fake-api.js';
import { dataTotal, declaredSource, getTask, runSync, scratchDir, startSync, waitFor, walk, writeSourcesFile } from './helpers.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';

/** `n` campaigns p01…; every third one archived upstream. */
function campaigns(n: number): FakeRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const k = i + 1;
    return {
      id: `p${String(k).padStart(2, '0')}`,
      title: `Promo ${k}`,
      state: k % 2 ? 'active' : 'paused',
      spend: { amount: String(100 * k), currency: 'EUR' },
      offer: { discount: `${k}%` },
      schedule: { starts_on: '2026-12-01', ends_on: '2026-12-31' },
      modified: 1_700_000_000 + k,
      archived: k % 3 === 0,
    };
  });
}

const offsetOf = (r: { url: URL }) => Number(r.url.searchParams.get('offset'));

for (const engine of ENGINES) {
  describe(`declared sources sync through /sync on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let acme: FakeApi;
    let promos: FakeApi;
    let slow: FakeApi;
    let t: TestApp;
    const files = scratchDir();

    beforeAll(async () => {
      [db, acme, promos, slow] = await Promise.all([
        engine.create(),
        startFakeApi(customers(25)),
        startFakeApi(campaigns(12)),
        startFakeApi(customers(60, 101)),
      ]);
      acme.requireHeader = { name: 'authorization', value: 'Bearer acme-token' };
      promos.requireQuery = { name: 'api_key', value: 'promo-key' };
      const customer = {
        external_id: 'id',
        id: 'number',
        name: ['properties.first_name', 'properties.last_name'],
        email: 'properties.email',
        updated_at: 'updated_at',
      };
      const file = writeSourcesFile(files.dir, 'sources.yaml', {
        sources: {
          acme: {
            type: 'customer',
            base_url: `${acme.url}/v1`,
            path: '/items',
            records: 'data.items',
            auth: { kind: 'bearer', token_env: 'ACME_TOKEN' },
            pagination: { kind: 'offset', limit: 10, total: 'meta.total' },
            mapping: customer,
            incremental: { field: 'updated_at', param: 'updated_since', format: 'iso' },
          },
          promos: {
            type: 'campaign',
            base_url: promos.url,
            path: '/v1/items',
            records: 'data.items',
            auth: { kind: 'api_key', in: 'query', name: 'api_key', key_env: 'PROMOS_KEY' },
            pagination: { kind: 'cursor', cursor_path: 'meta.next_cursor', limit_param: 'page_size', limit: 5 },
            mapping: {
              external_id: 'id',
              name: 'title',
              status: 'state',
              budget: 'spend.amount',
              details: { discount: 'offer.discount', start_date: 'schedule.starts_on', end_date: 'schedule.ends_on' },
              updated_at: 'modified',
              deleted: 'archived',
            },
            incremental: { field: 'modified', param: 'modified_after', format: 'epoch_s' },
            rate_limit: { requests: 50, per_seconds: 1 },
          },
          slow: {
            type: 'customer',
            base_url: `${slow.url}/v1`,
            path: '/items',
            records: 'data.items',
            pagination: { kind: 'offset', limit: 5 },
            mapping: customer,
          },
          locked: {
            type: 'customer',
            base_url: `${acme.url}/v1`,
            path: '/items',
            records: 'data.items',
            auth: { kind: 'bearer', token_env: 'LOCKED_TOKEN' },
            mapping: { external_id: 'id' },
          },
        },
      });
      t = await startApp(db, { SOURCES_FILE: file, TASK_POLL: '100ms', TASK_HEARTBEAT: '100ms', ACME_TOKEN: 'acme-token', PROMOS_KEY: 'promo-key' });
    });
    afterAll(async () => {
      await t?.close();
      await Promise.all([acme?.close(), promos?.close(), slow?.close()]);
      await db?.drop();
      files.remove();
    });

    it('a customer source: exact counts, mapped fields, attributes; then incremental runs fetch only what is newer', async () => {
      const { app } = t;
      const first = await runSync(app, 'acme');
      expect(first.status, first.error ?? '').toBe('succeeded');
      expect(first.progress).toMatchObject({ pages: 3, records_fetched: 25, records_written: 25, total_estimate: 25 });
      expect(acme.requests.map(offsetOf)).toEqual([0, 10, 20]);
      expect(acme.requests[0]?.url.searchParams.has('updated_since')).toBe(false);
      expect(await dataTotal(app, 'acme')).toBe(25);

      const c7 = (await app.inject('/customers/c007')).json();
      expect(c7).toMatchObject({
        type: 'customer',
        external_id: 'c007',
        source: 'acme',
        id: 7,
        name: 'First7 Last7',
        email: 'user7@example.com',
        attributes: { properties: { phone: '+1-555-0007' }, tags: ['a', 'b'] },
        source_updated_at: '2024-03-01T00:07:00.000Z',
      });
      expect(c7.attributes).not.toHaveProperty('updated_at');

      // Three new records upstream: the next run sends the newest time it saw and gets them
      // (and, the filter being inclusive, the newest old one again, which writes nothing).
      acme.records.push(...customers(3, 26, '2024-04-01'));
      acme.requests.length = 0;
      const second = await runSync(app, 'acme');
      expect(second.progress).toMatchObject({ records_fetched: 4, records_written: 3 });
      expect(acme.requests.map((r) => r.url.searchParams.get('updated_since'))).toEqual(['2024-03-01T00:25:00.000Z']);
      expect(await dataTotal(app, 'acme')).toBe(28);

      // One change to an old record.
      const c10 = acme.records.find((r) => r.id === 'c010') as FakeRecord & { properties: Record<string, string> };
      c10.properties = { ...c10.properties, email: 'changed@example.com' };
      c10.updated_at = '2024-05-01T00:00:00.000Z';
      acme.requests.length = 0;
      const third = await runSync(app, 'acme');
      expect(third.progress).toMatchObject({ records_fetched: 2, records_written: 1 });
      expect(acme.requests[0]?.url.searchParams.get('updated_since')).toBe('2024-04-01T00:28:00.000Z');
      expect((await app.inject('/customers/c010')).json().email).toBe('changed@example.com');

      // ?full=true ignores the checkpoint: everything again, nothing written.
      acme.requests.length = 0;
      const full = await runSync(app, 'acme', '?full=true');
      expect(full.progress).toMatchObject({ records_fetched: 28, records_written: 0 });
      expect(acme.requests.every((r) => !r.url.searchParams.has('updated_since'))).toBe(true);
    });

    it('a campaign source: status, budget, details, tombstones for archived ones, epoch-second incremental', async () => {
      const { app } = t;
      const first = await runSync(app, 'promos');
      expect(first.status, first.error ?? '').toBe('succeeded');
      expect(first.progress).toMatchObject({ pages: 3, records_fetched: 12, records_written: 12 });
      expect(promos.requests.map((r) => r.url.searchParams.get('api_key'))).toEqual(['promo-key', 'promo-key', 'promo-key']);
      // p03, p06, p09, p12 are archived upstream: kept as tombstones, hidden by default.
      expect(await dataTotal(app, 'promos')).toBe(8);
      expect((await app.inject('/campaigns/p03')).statusCode).toBe(404);
      expect((await app.inject('/campaigns/p03?include_deleted=true')).json().deleted_at).not.toBeNull();

      const p04 = (await app.inject('/campaigns/p04')).json();
      expect(p04).toMatchObject({
        type: 'campaign',
        external_id: 'p04',
        source: 'promos',
        name: 'Promo 4',
        status: 'paused',
        budget: 400,
        details: { discount: '4%', start_date: '2026-12-01', end_date: '2026-12-31' },
        attributes: { spend: { currency: 'EUR' }, archived: false },
        source_updated_at: new Date(1_700_000_004_000).toISOString(),
      });

      promos.requests.length = 0;
      const second = await runSync(app, 'promos');
      expect(second.progress).toMatchObject({ records_fetched: 1, records_written: 0 });
      expect(promos.requests[0]?.url.searchParams.get('modified_after')).toBe('1700000012');
    });

    it('an unknown source is 404; a source whose credential is unset is 422 naming the variable', async () => {
      const { app } = t;
      expect((await app.inject({ method: 'POST', url: '/sync/nope' })).statusCode).toBe(404);
      const res = await app.inject({ method: 'POST', url: '/sync/locked' });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ detail: 'set LOCKED_TOKEN to sync locked', variable: 'LOCKED_TOKEN' });
    });

    it('a run cancelled mid-walk keeps its pages, and the next run resumes at its checkpoint', async () => {
      const { app } = t;
      slow.latencyMs = 80;
      const id = await startSync(app, 'slow');
      await waitFor(async () => ((await getTask(app, id)).progress.pages >= 3 ? true : undefined), 'three pages of the slow sync');
      const cancel = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: id } });
      expect(cancel.statusCode, cancel.body).toBe(200);
      const cancelled = await getTask(app, id);
      expect(cancelled.status).toBe('cancelled');
      const committed = cancelled.progress.records_fetched;
      expect(committed).toBeGreaterThanOrEqual(15);
      expect(committed).toBeLessThan(60);
      expect(await dataTotal(app, 'slow')).toBe(committed);
      const before = slow.requests.length;

      slow.latencyMs = 0;
      const resumed = await runSync(app, 'slow');
      expect(resumed.status, resumed.error ?? '').toBe('succeeded');
      const after = slow.requests.slice(before);
      expect(after.map(offsetOf)[0]).toBe(committed);
      expect(resumed.progress.records_fetched).toBe(60 - committed);
      expect(resumed.progress.records_written).toBe(60 - committed);
      expect(await dataTotal(app, 'slow')).toBe(60);
    });
  });
}

describe('request URLs as sent', () => {
  /** A one-record API that records every raw request URL; page 1 answers with a Link to page 2. */
  let server: Upstream;
  let base = '';

  beforeAll(async () => {
    server = await startUpstream((req, res) => {
      const page = urlOf(req).searchParams.get('page');
      sendJson(res, 200, [{ id: page === null ? '1' : `p${page}` }], page === null ? { link: '</v1/items?q=a%20b&page=2&api_key=K>; rel="next"' } : {});
    });
    base = server.url;
  });
  afterAll(async () => server?.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  describe('declared source URLs', () => {
    it('a base_url with a query string is refused at start, naming the field (the path would be joined after the query)', () => {
      expect(() => declaredSource('acme', { type: 'customer', base_url: `${base}/v1?tenant=7`, path: '/items', mapping: { external_id: 'id' } })).toThrow(
        /base_url.*query string/,
      );
    });

    it('a next link is fetched as upstream sent it (its encoding kept) when an API key travels in the query', async () => {
      const source = declaredSource(
        'acme',
        {
          type: 'customer',
          base_url: base,
          path: '/v1/items',
          mapping: { external_id: 'id' },
          pagination: { kind: 'link_header' },
          auth: { kind: 'api_key', in: 'query', name: 'api_key', key_env: 'ACME_KEY' },
        },
        { ACME_KEY: 'K' },
      );
      await walk(source);
      await source.close();
      const seen = server.urls();
      expect(seen).toHaveLength(2);
      // Upstream said q=a%20b: the link fetched must not be re-serialised (into q=a+b).
      expect(seen[1]).toContain('q=a%20b');
    });
  });
});

/**
 * A walk interrupted (cancel, failure, shutdown) and resumed after the
 * sources file changed must not resume a position that means something else
 * now; only its kind was checked:
 * - link_header / next_url: a next link saved on the old base_url origin was
 *   refused by the client on every later run, until someone thought of
 *   ?full=true;
 * - page: a page number counted in pages of the old limit, resumed with a
 *   larger one, jumped past records never fetched, and the run still ended as
 *   a success (its incremental value moving past them).
 */
describe('a checkpoint from before the sources file changed', () => {
  let oldHost: Upstream;
  let newHost: Upstream;
  let api: FakeApi;
  beforeAll(async () => {
    [oldHost, newHost, api] = await Promise.all([startUpstream(), startUpstream(), startFakeApi(customers(30))]);
    for (const h of [oldHost, newHost]) {
      h.handler = (req, res) => {
        const u = urlOf(req);
        const page = u.searchParams.get('page');
        sendJson(res, 200, [{ id: `r${page ?? 1}` }], page === null ? { link: '</v1/items?page=2>; rel="next"' } : {});
      };
    }
  });
  afterAll(async () => Promise.all([oldHost?.close(), newHost?.close(), api?.close()]));

  it('a walk saved against the old base_url origin does not make every later run fail', async () => {
    const spec = (base: string) => ({
      type: 'customer',
      base_url: base,
      path: '/v1/items',
      mapping: { external_id: 'id' },
      pagination: { kind: 'link_header' },
    });
    const before = declaredSource('acme', spec(oldHost.url));
    const first = await walk(before, null, 1);
    await before.close();
    const saved: unknown = JSON.parse(JSON.stringify(first.checkpoint));
    expect(saved).toMatchObject({ phase: 'walk', position: { kind: 'link_header', next: `${oldHost.url}/v1/items?page=2` } });

    // The operator moves base_url to the new host; the next run loads that checkpoint.
    const after = declaredSource('acme', spec(newHost.url));
    const outcome = await walk(after, saved).then(
      (w) => `walked ${w.records.map((r) => r.external_id).join(',')}`,
      (e: unknown) => `failed: ${String(e)}`,
    );
    await after.close();
    expect(outcome).toBe('walked r1,r2');
  });

  it('page numbers saved with one limit are not resumed with another: no record is skipped', async () => {
    const spec = (limit: number) => ({
      type: 'customer',
      base_url: `${api.url}/v1`,
      path: '/items',
      records: 'data.items',
      mapping: { external_id: 'id' },
      pagination: { kind: 'page', limit, total_pages: 'meta.total_pages' },
    });
    const before = declaredSource('acme', spec(5));
    const first = await walk(before, null, 2); // c001..c010; saved: page 3 (of 5 a page)
    await before.close();
    const saved: unknown = JSON.parse(JSON.stringify(first.checkpoint));
    expect(saved).toMatchObject({ phase: 'walk', position: { kind: 'page', page: 3 } });

    const after = declaredSource('acme', spec(10)); // limit raised in the file
    const rest = await walk(after, saved);
    await after.close();
    expect(rest.checkpoint).toMatchObject({ phase: 'idle' });
    const all = customers(30).map((c) => c.id);
    const got = new Set([...first.records, ...rest.records].map((r) => r.external_id));
    expect(all.filter((id) => !got.has(id))).toEqual([]);
  });
});

/**
 * Upstream ids sent as JSON numbers past 2^53 (64-bit ids are common) are
 * rounded by JSON.parse: two different records came out with one
 * external_id, and the second silently overwrote the first. Such a record is
 * now skipped with a reason (as `id` already refused unsafe integers), and a
 * safe numeric id still maps.
 */
describe('numeric ids past 2^53', () => {
  let lb: Upstream;
  beforeAll(async () => {
    lb = await startUpstream();
    // Two distinct records, as the upstream sends them (raw JSON text).
    lb.handler = (_req, res) =>
      sendJsonText(res, 200, '[{"id": 9007199254740993, "name": "Ann"}, {"id": 9007199254740992, "name": "Bob"}, {"id": 9007199254740991, "name": "Cy"}]');
  });
  afterAll(async () => lb?.close());

  it('two upstream records with distinct 64-bit numeric ids never share an external_id', async () => {
    const source = declaredSource('acme', { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id', name: 'name' } });
    const w = await walk(source);
    await source.close();
    const ids = w.records.map((r) => r.external_id);
    expect(ids).toEqual(['9007199254740991']);
  });
});

/**
 * An upstream error page that echoes the request (its URL, with the API key
 * sent in the query, or the Authorization header) was quoted as it came into
 * the error, which becomes the task's `error` that GET /tasks shows to anyone
 * with access to the API. The credentials are now masked before quoting.
 */
describe('credentials echoed in an error body', () => {
  const KEY = 'k3y/with+chars=';
  const TOKEN = 'tok-0123456789';
  let lb: Upstream;
  beforeAll(async () => {
    lb = await startUpstream();
    lb.handler = (req, res) => {
      const u = urlOf(req);
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`forbidden: ${u.pathname}${u.search} (authorization was ${String(req.headers.authorization)})`);
    };
  });
  afterAll(async () => lb?.close());

  for (const [name, auth, env, secret] of [
    ['an API key in the query', { kind: 'api_key', in: 'query', name: 'api_key', key_env: 'ACME_KEY' }, { ACME_KEY: KEY }, KEY],
    ['a bearer token', { kind: 'bearer', token_env: 'ACME_TOKEN' }, { ACME_TOKEN: TOKEN }, TOKEN],
  ] as const) {
    it(`an error body echoing ${name} is quoted without it`, async () => {
      const source = declaredSource('acme', { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, auth }, env);
      const message = await walk(source).then(
        () => 'walked',
        (e: unknown) => String(e),
      );
      await source.close();
      expect(message).toContain('403');
      expect(message).toContain('[redacted]');
      expect(message).not.toContain(secret);
      expect(message).not.toContain(encodeURIComponent(secret));
    });
  }
});
