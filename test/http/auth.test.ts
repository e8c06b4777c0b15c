import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

interface RouteEntry {
  method: string;
  url: string;
}

/** Every (method, url) the app registers, read from Fastify's own route tree; HEAD twins left out. */
function registeredRoutes(app: App): RouteEntry[] {
  const out: RouteEntry[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ├└─]*)(\S.*?) \(([A-Z, ]+)\)\s*$/.exec(line);
    if (!m) continue;
    const depth = Math.floor((m[1] as string).length / 4);
    stack.length = depth;
    const url = (stack[depth - 1] ?? '') + (m[2] as string);
    stack[depth] = url;
    for (const method of (m[3] as string).split(',').map((s) => s.trim())) {
      if (method !== 'HEAD') out.push({ method, url });
    }
  }
  return out;
}

const PUBLIC = (r: RouteEntry) =>
  (r.method === 'POST' && (r.url === '/webhook' || r.url === '/receive_webhook' || r.url === '/webhooks/hubspot')) ||
  // Provider webhooks: HubSpot signs its requests, Mailchimp's URL carries its secret.
  r.url === '/webhooks/mailchimp/:secret' ||
  (r.method === 'GET' && ['/healthz', '/readyz', '/openapi.json', '/docs'].includes(r.url)) ||
  (r.method === 'GET' && r.url.startsWith('/docs/')) ||
  // The console's page and files, and / that sends a browser there: they hold no data.
  (r.method === 'GET' && (r.url === '/' || r.url === '/ui' || r.url.startsWith('/ui/')));

/** A concrete request for a route pattern: parameters and wildcards filled in, a JSON body where one is taken. */
function requestFor(r: RouteEntry, authorization?: string) {
  const url = r.url.replace(/:[^/]+/g, 'auth_probe').replace(/\*/g, 'auth_probe');
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  const withBody = r.method !== 'GET' && r.method !== 'DELETE';
  if (withBody) headers['content-type'] = 'application/json';
  return { method: r.method as 'GET', url, headers, ...(withBody ? { payload: '{}' } : {}) };
}

function expectUnauthorized(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, what: string) {
  expect(res.statusCode, what).toBe(401);
  expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
  expect(res.headers['www-authenticate'], what).toMatch(/^Bearer/);
  expect(res.json(), what).toMatchObject({ type: '/problems/unauthorized', status: 401, title: expect.any(String), detail: expect.any(String) });
}

for (const engine of ENGINES) {
  describe(`API keys on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let routes: RouteEntry[];

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { API_KEY: 'key-one-0123456789,key-two-0123456789', AUTH_FAILURE_LIMIT: 'off' });
      routes = registeredRoutes(t.app);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('the route tree is read completely (the check below covers something)', () => {
      const keys = routes.map((r) => `${r.method} ${r.url}`);
      for (const expected of [
        'GET /data',
        'GET /customers',
        'GET /customers/:external_id',
        'GET /campaigns',
        'GET /campaigns/:external_id',
        'GET /metrics',
        'POST /webhook',
        'POST /receive_webhook',
        'GET /healthz',
        'GET /readyz',
        'GET /docs',
        'GET /openapi.json',
      ]) {
        expect(keys).toContain(expected);
      }
      expect(routes.filter((r) => !PUBLIC(r)).length).toBeGreaterThanOrEqual(6);
    });

    it('every protected route answers 401 problem JSON without a key, with a wrong key, or a malformed header', async () => {
      const bad = [
        undefined,
        'Bearer key-three-0123456789',
        'Bearer k1x',
        'Bearer k',
        'Bearer ',
        'Bearer',
        'key-one-0123456789',
        'Basic azE6',
        'Token key-one-0123456789',
        'Bearer key-one-0123456789,key-two-0123456789',
      ];
      for (const r of routes.filter((x) => !PUBLIC(x))) {
        for (const authorization of bad) {
          const res = await t.app.inject(requestFor(r, authorization));
          expectUnauthorized(res, `${r.method} ${r.url} with ${authorization ?? 'no Authorization'}`);
        }
      }
    });

    it('every protected route works with either key as a Bearer token', async () => {
      for (const r of routes.filter((x) => !PUBLIC(x))) {
        for (const authorization of ['Bearer key-one-0123456789', 'Bearer key-two-0123456789', 'bearer key-two-0123456789', 'Bearer   key-one-0123456789  ']) {
          const res = await t.app.inject(requestFor(r, authorization));
          expect(res.statusCode, `${r.method} ${r.url} with ${authorization}`).not.toBe(401);
          expect(res.statusCode, `${r.method} ${r.url} with ${authorization}`).toBeLessThan(500);
        }
      }
      const data = await t.app.inject({ url: '/data?limit=1', headers: { authorization: 'Bearer key-one-0123456789' } });
      expect(data.statusCode).toBe(200);
      const metrics = await t.app.inject({ url: '/metrics', headers: { authorization: 'Bearer key-two-0123456789' } });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.body).toContain('tributary_http_requests_total');
    });

    it('the public routes need no key', async () => {
      const publicRoutes = routes.filter(PUBLIC);
      expect(publicRoutes.length).toBeGreaterThanOrEqual(6);
      for (const r of publicRoutes.filter((x) => x.method === 'GET' && !x.url.includes('*') && !x.url.includes(':'))) {
        const res = await t.app.inject({ url: r.url });
        expect(res.statusCode, r.url).not.toBe(401);
        expect(res.statusCode, r.url).toBeLessThan(400);
      }
      for (const url of ['/webhook', '/receive_webhook']) {
        const res = await postWebhook(t.app, { customer: { external_id: `auth_open${url.replace('/', '_')}` } }, {}, url);
        expect(res.statusCode, url).toBe(200);
      }
    });

    it('the Swagger UI under /docs needs no key, static files included', async () => {
      const ui = await t.app.inject({ url: '/docs' });
      expect(ui.statusCode).toBe(200);
      expect(ui.headers['content-type']).toMatch(/text\/html/);
      for (const url of ['/docs/', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui.css', '/docs/json']) {
        expect((await t.app.inject({ url })).statusCode, url).toBe(200);
      }
    });

    it('HEAD follows its GET route: protected where GET is, open where GET is', async () => {
      const head = await t.app.inject({ method: 'HEAD', url: '/data' });
      expect(head.statusCode).toBe(401);
      expect(head.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await t.app.inject({ method: 'HEAD', url: '/data', headers: { authorization: 'Bearer key-one-0123456789' } })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'HEAD', url: '/healthz' })).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'HEAD', url: '/docs' })).statusCode).toBe(200);
    });

    it('a wrong key on a public route does not lock it', async () => {
      expect((await t.app.inject({ url: '/healthz', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(200);
      const res = await postWebhook(t.app, { customer: { external_id: 'auth_wrong_key' } }, { authorization: 'Bearer nope' });
      expect(res.statusCode).toBe(200);
    });

    it('the OpenAPI document asks for the bearer key, except on the public routes', async () => {
      const doc = (await t.app.inject('/openapi.json')).json();
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(doc.security).toEqual([{ bearer: [] }]);
      for (const [path, method] of [
        ['/webhook', 'post'],
        ['/receive_webhook', 'post'],
        ['/healthz', 'get'],
        ['/readyz', 'get'],
      ] as const) {
        expect(doc.paths[path][method].security, `${method} ${path}`).toEqual([]);
      }
      expect(doc.paths['/data'].get.security).toBeUndefined();
    });

    it('an unknown path is 404 and a wrong method 405, key or not (no route to protect)', async () => {
      expect((await t.app.inject({ url: '/no-such-route' })).statusCode).toBe(404);
      expect((await t.app.inject({ method: 'DELETE', url: '/data' })).statusCode).toBe(405);
    });
  });
}

describe('API key given with spaces between several keys', () => {
  let db: ScratchDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await (ENGINES[0] as (typeof ENGINES)[number]).create();
    t = await startApp(db, { API_KEY: ' alpha-key-0123456789  beta-key-0123456789 ' });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('each key works, the whole string does not', async () => {
    for (const key of ['alpha-key-0123456789', 'beta-key-0123456789']) {
      expect((await t.app.inject({ url: '/data', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
    }
    expectUnauthorized(
      await t.app.inject({ url: '/data', headers: { authorization: 'Bearer alpha-key-0123456789  beta-key-0123456789' } }),
      'both keys at once',
    );
  });
});

for (const engine of ENGINES) {
  describe(`no API key on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('every route is open, with or without an Authorization header', async () => {
      const routes = registeredRoutes(t.app);
      expect(routes.length).toBeGreaterThanOrEqual(12);
      for (const r of routes) {
        for (const authorization of [undefined, 'Bearer anything']) {
          const res = await t.app.inject(requestFor(r, authorization));
          expect(res.statusCode, `${r.method} ${r.url}`).not.toBe(401);
          expect(res.statusCode, `${r.method} ${r.url}`).toBeLessThan(500);
        }
      }
      expect((await t.app.inject('/data')).statusCode).toBe(200);
      expect((await t.app.inject('/metrics')).statusCode).toBe(200);
    });

    it('the OpenAPI document asks for no key', async () => {
      const doc = (await t.app.inject('/openapi.json')).json();
      expect(doc.security ?? []).toEqual([]);
    });
  });
}
