import type { InjectOptions } from 'fastify';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorPaths, expectProblem, postWebhook, SEED_CAMPAIGN, SEED_CUSTOMER, startApp, storedSnapshot, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/**
 * Hostile requests: each one must be refused with its exact 4xx, as problem
 * JSON without internals, and must leave everything stored as it was.
 */
interface HostileCase {
  name: string;
  /** Built lazily: some bodies are megabytes. */
  request: () => InjectOptions;
  status: number;
  /** For 422: the exact `errors` paths, or a pattern every path must match. */
  paths?: string[] | RegExp;
  /** For 405: the Allow header. */
  allow?: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const post = (payload: string | Buffer, headers: Record<string, string> = JSON_TYPE, url = '/webhook'): InjectOptions => ({
  method: 'POST',
  url,
  headers,
  payload,
});
const postJson = (body: unknown, headers: Record<string, string> = {}): InjectOptions => post(JSON.stringify(body), { ...JSON_TYPE, ...headers });
const get = (url: string): InjectOptions => ({ method: 'GET', url });
const customer = (fields: Record<string, unknown>) => postJson({ customer: { external_id: 'hostile_c', ...fields } });
const campaign = (fields: Record<string, unknown>) => postJson({ campaign: { external_id: 'hostile_k', ...fields } });
const records = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ external_id: `${prefix}_${i}` }));

const DEEP = 10_000;
const deepArray = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
const deepObject = `${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`;
const SQL = "' OR '1'='1'; DROP TABLE records;--";
const q = encodeURIComponent;
// A cursor this service issued for row order: {"r":0}.
const ROW_CURSOR = Buffer.from(JSON.stringify({ r: 0 })).toString('base64url');

const CASES: HostileCase[] = [
  // Not JSON at all: 400.
  { name: 'truncated JSON', request: () => post('{"customer": {"external_id": "x"'), status: 400 },
  { name: 'JSON with trailing garbage', request: () => post('{"customer": {"external_id": "x"}} garbage'), status: 400 },
  { name: 'two JSON documents back to back', request: () => post('{"customer": {"external_id": "x"}}{"customer": {"external_id": "y"}}'), status: 400 },
  { name: 'empty body', request: () => post(''), status: 400 },
  { name: 'whitespace-only body', request: () => post('  \n\t '), status: 400 },
  { name: 'single-quoted pseudo-JSON', request: () => post("{'customer': {'external_id': 'x'}}"), status: 400 },
  { name: 'NaN literal', request: () => post('{"campaign": {"external_id": "x", "budget": NaN}}'), status: 400 },
  { name: 'UTF-16 encoded body', request: () => post(Buffer.from('{"customer": {"external_id": "x"}}', 'utf16le')), status: 400 },
  { name: '__proto__ key inside a record', request: () => post('{"customer": {"external_id": "p", "__proto__": {"polluted": true}}}'), status: 400 },
  { name: '__proto__ key at top level', request: () => post('{"__proto__": {"polluted": true}, "customer": {"external_id": "p"}}'), status: 400 },
  {
    name: 'constructor.prototype keys inside a record',
    request: () => post('{"customer": {"external_id": "p", "constructor": {"prototype": {"polluted": true}}}}'),
    status: 400,
  },
  {
    name: '__proto__ key 200 levels down',
    request: () => post(`{"customer": {"external_id": "p", "x": ${'{"a":'.repeat(200)}{"__proto__": {"polluted": true}}${'}'.repeat(200)}}}`),
    status: 400,
  },

  // JSON, but not an object of records: 422 at /body.
  { name: 'bare string at top level', request: () => post('"customer"'), status: 422, paths: ['/body'] },
  { name: 'bare number at top level', request: () => post('42'), status: 422, paths: ['/body'] },
  { name: 'null at top level', request: () => post('null'), status: 422, paths: ['/body'] },
  { name: 'array at top level', request: () => post('[{"external_id": "x"}]'), status: 422, paths: ['/body'] },
  { name: 'empty object', request: () => post('{}'), status: 422, paths: ['/body'] },
  { name: 'object without customer or campaign', request: () => postJson({ customers: { external_id: 'x' } }), status: 422, paths: ['/body'] },
  { name: 'empty customer array', request: () => postJson({ customer: [] }), status: 422, paths: ['/body'] },
  { name: 'customer is a string (one error, not one per union branch)', request: () => postJson({ customer: 'x' }), status: 422, paths: ['/body/customer'] },
  { name: 'customer is null', request: () => postJson({ customer: null }), status: 422, paths: ['/body/customer'] },
  { name: 'customer array holding a number', request: () => postJson({ customer: [{ external_id: 'ok' }, 7] }), status: 422, paths: ['/body/customer/1'] },

  // Wrong content type: 415.
  { name: 'text/plain', request: () => post('{"customer": {"external_id": "x"}}', { 'content-type': 'text/plain' }), status: 415 },
  { name: 'form-encoded', request: () => post('customer[external_id]=x', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415 },
  { name: 'missing content type', request: () => post('{"customer": {"external_id": "x"}}', {}), status: 415 },
  {
    name: 'multipart/form-data',
    request: () =>
      post('--b\r\nContent-Disposition: form-data; name="customer"\r\n\r\n{"external_id": "x"}\r\n--b--\r\n', {
        'content-type': 'multipart/form-data; boundary=b',
      }),
    status: 415,
  },
  { name: 'application/xml', request: () => post('<customer><external_id>x</external_id></customer>', { 'content-type': 'application/xml' }), status: 415 },
  {
    name: 'application/jsonx (prefix lookalike)',
    request: () => post('{"customer": {"external_id": "x"}}', { 'content-type': 'application/jsonx' }),
    status: 415,
  },
  {
    name: 'gzip content-encoding (bodies are not decompressed)',
    request: () => post(gzipSync('{"customer": {"external_id": "x"}}'), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    status: 415,
  },

  // Size.
  {
    name: '2 MiB body',
    request: () => postJson({ customer: { external_id: 'big', padding: 'x'.repeat(2 * 1024 * 1024) } }),
    status: 413,
  },
  { name: '1001 customers in one array', request: () => postJson({ customer: records(1001, 'over') }), status: 422, paths: ['/body/customer'] },
  {
    name: '1001 records split over both types',
    request: () => postJson({ customer: records(600, 'over'), campaign: records(401, 'over') }),
    status: 422,
    paths: ['/body'],
  },

  // Deep nesting: refused, never a crash.
  {
    name: `${DEEP}-level nested arrays inside a record`,
    request: () => post(`{"customer": {"external_id": "d", "x": ${deepArray}}}`),
    status: 422,
    paths: ['/body/customer'],
  },
  {
    name: `${DEEP}-level nested objects inside a record`,
    request: () => post(`{"customer": {"external_id": "d", "x": ${deepObject}}}`),
    status: 422,
    paths: ['/body/customer'],
  },
  {
    name: `${DEEP}-level nesting inside campaign details`,
    request: () => post(`{"campaign": {"external_id": "d", "details": {"discount": ${deepArray}}}}`),
    status: 422,
    paths: ['/body/campaign'],
  },
  {
    name: `${DEEP}-level nesting in the second record of an array`,
    request: () => post(`{"customer": [{"external_id": "ok"}, {"external_id": "d", "x": ${deepObject}}]}`),
    status: 422,
    paths: ['/body/customer/1'],
  },
  { name: `${DEEP}-level nested arrays at top level`, request: () => post(deepArray), status: 422, paths: ['/body'] },
  { name: `${DEEP}-level nested objects at top level`, request: () => post(deepObject), status: 422, paths: ['/body'] },
  { name: `${DEEP}-level nested arrays as the customer list`, request: () => post(`{"customer": ${deepArray}}`), status: 422, paths: ['/body/customer/0'] },

  // Wrong types and values in records: 422 naming the field.
  { name: 'external_id as a number', request: () => postJson({ customer: { external_id: 12345 } }), status: 422, paths: ['/body/customer/external_id'] },
  { name: 'external_id as an object', request: () => postJson({ customer: { external_id: { $gt: '' } } }), status: 422, paths: ['/body/customer/external_id'] },
  { name: 'external_id as an empty string', request: () => postJson({ customer: { external_id: '' } }), status: 422, paths: ['/body/customer/external_id'] },
  {
    name: 'external_id of 256 characters',
    request: () => postJson({ customer: { external_id: 'x'.repeat(256) } }),
    status: 422,
    paths: ['/body/customer/external_id'],
  },
  {
    name: 'external_id holding U+0000',
    request: () => postJson({ campaign: { external_id: 'a\u0000b' } }),
    status: 422,
    paths: ['/body/campaign/external_id'],
  },
  { name: 'missing external_id', request: () => postJson({ customer: { name: 'No Key' } }), status: 422, paths: ['/body/customer/external_id'] },
  {
    name: 'missing external_id in the second of three',
    request: () => postJson({ customer: [{ external_id: 'a' }, { name: 'b' }, { external_id: 'c' }] }),
    status: 422,
    paths: ['/body/customer/1/external_id'],
  },
  { name: 'email as a number', request: () => customer({ email: 5 }), status: 422, paths: ['/body/customer/email'] },
  { name: 'email without @', request: () => customer({ email: 'not-an-email' }), status: 422, paths: ['/body/customer/email'] },
  { name: 'email with two @', request: () => customer({ email: 'john@@example.com' }), status: 422, paths: ['/body/customer/email'] },
  { name: 'email with a space', request: () => customer({ email: 'john doe@example.com' }), status: 422, paths: ['/body/customer/email'] },
  { name: 'email with a trailing newline', request: () => customer({ email: 'john@example.com\n' }), status: 422, paths: ['/body/customer/email'] },
  { name: 'email with SQL in it', request: () => customer({ email: `${SQL}@example.com` }), status: 422, paths: ['/body/customer/email'] },
  {
    name: 'bad emails in two records name both',
    request: () => postJson({ customer: [{ external_id: 'a', email: 'a@' }, { external_id: 'b' }, { external_id: 'c', email: '@c' }] }),
    status: 422,
    paths: ['/body/customer/0/email', '/body/customer/2/email'],
  },
  { name: 'budget as a string', request: () => campaign({ budget: '5000' }), status: 422, paths: ['/body/campaign/budget'] },
  {
    name: 'budget overflowing to Infinity (1e999)',
    request: () => post('{"campaign": {"external_id": "k", "budget": 1e999}}'),
    status: 422,
    paths: ['/body/campaign/budget'],
  },
  { name: 'details as an array', request: () => campaign({ details: ['20%'] }), status: 422, paths: ['/body/campaign/details'] },
  { name: 'details as a string', request: () => campaign({ details: 'none' }), status: 422, paths: ['/body/campaign/details'] },
  { name: 'id as a float', request: () => customer({ id: 1.5 }), status: 422, paths: ['/body/customer/id'] },
  { name: 'id as a string', request: () => customer({ id: '1' }), status: 422, paths: ['/body/customer/id'] },
  { name: 'id beyond 2^53 (1e20)', request: () => post('{"customer": {"external_id": "c", "id": 1e20}}'), status: 422, paths: ['/body/customer/id'] },
  { name: 'updated_at not a date', request: () => customer({ updated_at: 'yesterday' }), status: 422, paths: ['/body/customer/updated_at'] },
  { name: 'name as an object', request: () => customer({ name: { first: 'A' } }), status: 422, paths: ['/body/customer/name'] },
  { name: 'U+0000 in a name', request: () => customer({ name: 'Bobby\u0000Tables' }), status: 422, paths: ['/body/customer/name'] },
  { name: 'U+0000 in an attribute key', request: () => customer({ 'a/b\u0000': 1 }), status: 422, paths: ['/body/customer/a~1b\u0000'] },
  {
    name: 'lone surrogate in a nested attribute',
    request: () => post('{"customer": {"external_id": "c", "x": {"y": ["ok", "\\ud800"]}}}'),
    status: 422,
    paths: ['/body/customer/x/y/1'],
  },
  {
    name: 'Infinity in an attribute',
    request: () => post('{"customer": {"external_id": "c", "score": -1e999}}'),
    status: 422,
    paths: ['/body/customer/score'],
  },
  {
    name: 'a bad field among 1000 records',
    request: () => postJson({ customer: [...records(999, 'fine'), { external_id: 'bad', email: 'nope' }] }),
    status: 422,
    paths: ['/body/customer/999/email'],
  },

  // Headers.
  {
    name: 'webhook-id of 256 characters',
    request: () => postJson({ customer: SEED_CUSTOMER }, { 'webhook-id': 'w'.repeat(256) }),
    status: 422,
    paths: ['/header/webhook-id'],
  },
  {
    name: 'webhook-id of 8 KiB',
    request: () => postJson({ customer: SEED_CUSTOMER }, { 'webhook-id': 'w'.repeat(8192) }),
    status: 422,
    paths: ['/header/webhook-id'],
  },
  {
    name: 'idempotency-key of 300 characters',
    request: () => postJson({ customer: SEED_CUSTOMER }, { 'idempotency-key': 'i'.repeat(300) }),
    status: 422,
    paths: /^\/header\//,
  },

  // Query strings: 422 naming the parameter.
  { name: 'limit=0', request: () => get('/data?limit=0'), status: 422, paths: ['/query/limit'] },
  { name: 'limit=1001', request: () => get('/data?limit=1001'), status: 422, paths: ['/query/limit'] },
  { name: 'limit=-1', request: () => get('/data?limit=-1'), status: 422, paths: ['/query/limit'] },
  { name: 'limit=1.5', request: () => get('/customers?limit=1.5'), status: 422, paths: ['/query/limit'] },
  { name: 'limit given twice', request: () => get('/data?limit=10&limit=20'), status: 422, paths: ['/query/limit'] },
  { name: 'offset=-5', request: () => get('/data?offset=-5'), status: 422, paths: ['/query/offset'] },
  { name: 'offset=abc', request: () => get('/campaigns?offset=abc'), status: 422, paths: ['/query/offset'] },
  { name: 'offset=1e30', request: () => get('/data?offset=1e30'), status: 422, paths: ['/query/offset'] },
  { name: 'bad limit and offset together name both', request: () => get('/data?limit=0&offset=x'), status: 422, paths: ['/query/limit', '/query/offset'] },
  { name: 'type=unknown', request: () => get('/data?type=unknown'), status: 422, paths: ['/query/type'] },
  { name: 'include_deleted=maybe', request: () => get('/data?include_deleted=maybe'), status: 422, paths: ['/query/include_deleted'] },
  {
    name: 'include_deleted=maybe on one record',
    request: () => get('/customers/cust_12345?include_deleted=maybe'),
    status: 422,
    paths: ['/query/include_deleted'],
  },
  { name: 'updated_since=yesterday', request: () => get('/data?updated_since=yesterday'), status: 422, paths: ['/query/updated_since'] },
  {
    name: 'updated_since=2026-02-30 (no such day)',
    request: () => get('/data?updated_since=2026-02-30T00:00:00Z'),
    status: 422,
    paths: ['/query/updated_since'],
  },
  { name: 'garbage cursor', request: () => get('/data?cursor=garbage!!'), status: 422, paths: ['/query/cursor'] },
  {
    name: 'base64 cursor of the wrong content',
    request: () => get(`/data?cursor=${Buffer.from('{"r":-1}').toString('base64url')}`),
    status: 422,
    paths: ['/query/cursor'],
  },
  { name: 'cursor of 201 characters', request: () => get(`/data?cursor=${'A'.repeat(201)}`), status: 422, paths: ['/query/cursor'] },
  { name: 'cursor and offset together', request: () => get(`/data?cursor=${ROW_CURSOR}&offset=5`), status: 422, paths: ['/query/offset'] },
  {
    name: 'row cursor with updated_since',
    request: () => get(`/data?cursor=${ROW_CURSOR}&updated_since=2020-01-01T00:00:00Z`),
    status: 422,
    paths: ['/query/cursor'],
  },
  { name: 'source holding U+0000', request: () => get('/data?source=%00'), status: 422, paths: ['/query/source'] },
  { name: 'source of 101 characters', request: () => get(`/data?source=${'s'.repeat(101)}`), status: 422, paths: ['/query/source'] },

  // SQL in query parameters that have a shape: refused.
  { name: 'SQL in cursor', request: () => get(`/data?cursor=${q(SQL)}`), status: 422, paths: ['/query/cursor'] },
  { name: 'SQL in type', request: () => get(`/data?type=${q(`customer${SQL}`)}`), status: 422, paths: ['/query/type'] },
  { name: 'SQL in updated_since', request: () => get(`/data?updated_since=${q(`2026-01-01T00:00:00Z${SQL}`)}`), status: 422, paths: ['/query/updated_since'] },
  { name: 'SQL in limit', request: () => get(`/data?limit=${q('1; DROP TABLE records')}`), status: 422, paths: ['/query/limit'] },
  { name: 'SQL in offset', request: () => get(`/customers?offset=${q('0 OR 1=1')}`), status: 422, paths: ['/query/offset'] },

  // Routes and methods.
  { name: 'unknown route', request: () => get('/nope'), status: 404 },
  { name: 'unknown route under a known prefix', request: () => get('/data/extra'), status: 404 },
  { name: 'POST to an unknown route with a broken body (404, not 400)', request: () => post('{broken', JSON_TYPE, '/nope'), status: 404 },
  { name: 'GET /webhook', request: () => get('/webhook'), status: 405, allow: 'POST' },
  ...(['PUT', 'DELETE', 'PATCH'] as const).flatMap((method): HostileCase[] => [
    {
      name: `${method} /webhook`,
      request: () => ({ method, url: '/webhook', headers: JSON_TYPE, payload: '{"customer": {"external_id": "m"}}' }),
      status: 405,
      allow: 'POST',
    },
    { name: `${method} /receive_webhook`, request: () => ({ method, url: '/receive_webhook' }), status: 405, allow: 'POST' },
    { name: `${method} /data`, request: () => ({ method, url: '/data', headers: JSON_TYPE, payload: '{}' }), status: 405, allow: 'GET' },
  ]),
  {
    name: 'DELETE /customers/{id} (405 on a path with a parameter)',
    request: () => ({ method: 'DELETE', url: '/customers/cust_12345' }),
    status: 405,
    allow: 'GET',
  },
  {
    name: 'PUT /webhook with a broken body (405, not 400)',
    request: () => ({ method: 'PUT', url: '/webhook', headers: JSON_TYPE, payload: '{broken' }),
    status: 405,
    allow: 'POST',
  },
  {
    name: 'PATCH /webhook with a 2 MiB body (405, not 413)',
    request: () => ({ method: 'PATCH', url: '/webhook', headers: JSON_TYPE, payload: `"${'x'.repeat(2 * 1024 * 1024)}"` }),
    status: 405,
    allow: 'POST',
  },

  // Path parameters.
  { name: 'encoded path traversal as a customer id', request: () => get('/customers/..%2F..%2Fetc%2Fpasswd'), status: 404 },
  // inject() resolves a bare `%2e%2e` segment to `/` as a URL parser would; with a slash after it in the
  // same segment the id reaches the route as `../secret`.
  { name: 'encoded dot-dot as a campaign id', request: () => get('/campaigns/%2e%2e%2fsecret'), status: 404 },
  { name: 'backslash traversal as a customer id', request: () => get('/customers/..%5C..%5Cwindows%5Cwin.ini'), status: 404 },
  { name: 'SQL as a customer id', request: () => get(`/customers/${q(SQL)}`), status: 404 },
  { name: 'U+0000 as a customer id', request: () => get('/customers/%00'), status: 422, paths: ['/path/external_id'] },
  { name: 'customer id of 256 characters', request: () => get(`/customers/${'x'.repeat(256)}`), status: 422, paths: ['/path/external_id'] },
  { name: 'customer id of 5000 characters', request: () => get(`/customers/${'x'.repeat(5000)}`), status: 414 },
  { name: 'customer id that is not valid percent-encoding', request: () => get('/customers/%E0%A4%A'), status: 400 },
];

for (const engine of ENGINES) {
  describe(`hostile requests on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
      const seeded = await postWebhook(t.app, {
        customer: [SEED_CUSTOMER, { external_id: 'cust_2', name: 'Jane Roe', email: 'jane@example.com', tier: 'gold' }],
        campaign: SEED_CAMPAIGN,
      });
      expect(seeded.statusCode).toBe(200);
      expect((await postWebhook(t.app, { customer: { external_id: 'cust_3' } }, { 'webhook-id': 'seed-delivery' })).statusCode).toBe(200);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it(`covers at least 30 hostile requests (${CASES.length})`, () => {
      expect(CASES.length).toBeGreaterThanOrEqual(30);
      expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    });

    for (const c of CASES) {
      it(`${c.name}: ${c.status}, nothing stored`, async () => {
        const before = await storedSnapshot(t.store);
        const res = await t.app.inject(c.request());
        const problem = expectProblem(res, c.status);
        if (c.paths instanceof RegExp) {
          expect(problem.errors?.length).toBeGreaterThan(0);
          for (const p of errorPaths(problem)) expect(p).toMatch(c.paths);
        } else if (c.paths) {
          expect(errorPaths(problem)).toEqual([...c.paths].sort());
        }
        if (c.allow) expect(res.headers.allow).toBe(c.allow);
        expect(await storedSnapshot(t.store)).toBe(before);
      });
    }

    it('no hostile body polluted Object.prototype', () => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('afterwards the store still answers with exactly the seeded records', async () => {
      const page = await t.app.inject('/data?limit=1000');
      expect(page.statusCode).toBe(200);
      const ids = (page.json().items as Array<{ external_id: string }>).map((i) => i.external_id).sort();
      expect(ids).toEqual(['camp_67890', 'cust_12345', 'cust_2', 'cust_3']);
      expect(page.json().total).toBe(4);
      expect((await t.app.inject('/customers/cust_12345')).json()).toMatchObject({ name: 'John Doe', email: SEED_CUSTOMER.email });
      expect((await t.app.inject('/readyz')).statusCode).toBe(200);
    });
  });

  describe(`SQL injection on ${engine.name}: stored verbatim when valid, refused when not`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
      expect((await postWebhook(t.app, { customer: SEED_CUSTOMER, campaign: SEED_CAMPAIGN })).statusCode).toBe(200);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    const sqlCustomer = {
      external_id: `x${SQL}`,
      id: 7,
      name: "Robert'); DROP TABLE records;--",
      email: "o'reilly@example.com",
      "'; DELETE FROM record_counts; --": '1); TRUNCATE webhook_inbox; --',
      nested: { q: 'SELECT * FROM pg_catalog.pg_tables', u: '" UNION SELECT 1,2,3 --' },
    };
    const sqlCampaign = {
      external_id: "camp'; UPDATE records SET name='pwned';--",
      name: '%_\\%',
      status: "active' OR 'x'='x",
      budget: 1,
      details: { discount: '0); DROP TABLE webhook_inbox;--', start_date: "2026-01-01'::date" },
    };

    it('SQL in every body field is stored and read back verbatim', async () => {
      const res = await postWebhook(t.app, { customer: sqlCustomer, campaign: sqlCampaign }, { 'webhook-id': `id${SQL}` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ stored: 2, delivery_id: `id${SQL}` });

      const c = await t.app.inject(`/customers/${q(sqlCustomer.external_id)}`);
      expect(c.statusCode).toBe(200);
      const { external_id, id, name, email, ...attributes } = sqlCustomer;
      expect(c.json()).toMatchObject({ external_id, id, name, email, attributes });

      const k = await t.app.inject(`/campaigns/${q(sqlCampaign.external_id)}`);
      expect(k.statusCode).toBe(200);
      expect(k.json()).toMatchObject(sqlCampaign);
      // The UPDATE in the id did nothing to the other rows.
      expect((await t.app.inject('/customers/cust_12345')).json().name).toBe('John Doe');
    });

    it('a LIKE-pattern source matches nothing, and a SQL source neither', async () => {
      for (const source of ['%', '_%', `webhook${SQL}`, "webhook' OR '1'='1"]) {
        const res = await t.app.inject(`/data?source=${q(source)}`);
        expect(res.statusCode, source).toBe(200);
        expect(res.json(), source).toMatchObject({ items: [], total: 0 });
      }
      expect((await t.app.inject('/data?source=webhook')).json().total).toBe(4);
    });

    for (const [param, value, status] of [
      ['source', SQL, 200],
      ['cursor', SQL, 422],
      ['type', `campaign${SQL}`, 422],
      ['updated_since', `2020-01-01T00:00:00Z${SQL}`, 422],
      ['limit', `10${SQL}`, 422],
      ['offset', `0${SQL}`, 422],
      ['include_deleted', `true${SQL}`, 422],
    ] as const) {
      it(`SQL in ?${param}= is answered ${status} and changes nothing`, async () => {
        const before = await storedSnapshot(t.store);
        const res = await t.app.inject(`/data?${param}=${q(value)}`);
        if (status === 200) {
          expect(res.statusCode).toBe(200);
          expect(res.json()).toMatchObject({ items: [], total: 0 });
        } else {
          expect(errorPaths(expectProblem(res, status))).toEqual([`/query/${param}`]);
        }
        expect(await storedSnapshot(t.store)).toBe(before);
      });
    }

    it('every table still exists and answers', async () => {
      const records = await t.store.db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(records.n)).toBe(4);
      const counts = await t.store.db
        .selectFrom('record_counts')
        .select((eb) => eb.fn.sum<number>('n').as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(counts.n)).toBe(4);
      const inbox = await t.store.db
        .selectFrom('webhook_inbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(Number(inbox.n)).toBe(2);
      const page = await t.app.inject('/data?limit=10');
      expect(page.statusCode).toBe(200);
      expect(page.json().total).toBe(4);
    });
  });
}
