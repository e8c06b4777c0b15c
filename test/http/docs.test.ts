import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { postWebhook, SEED_CAMPAIGN, SEED_CUSTOMER, startApp, type TestApp } from '../helpers/app.js';
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

/** Fastify's `/customers/:external_id` as OpenAPI writes it: `/customers/{external_id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** A Prometheus sample's value, summed over every label set that contains `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => set[k] === v)) {
      sum += Number(m[4]);
      seen = true;
    }
  }
  return seen ? sum : Number.NaN;
}

for (const engine of ENGINES) {
  describe(`docs and operations on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let doc: {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { summary?: string; responses?: Record<string, unknown>; requestBody?: unknown }>>;
    };

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
      const res = await t.app.inject('/openapi.json');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      doc = res.json();
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('/openapi.json is an OpenAPI 3 document', () => {
      expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
      expect(doc.info.title).toBe('Tributary');
      expect(doc.info.version).toEqual(expect.any(String));
      expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    });

    it('documents every route the app registers, with a summary and its success answer', () => {
      const routes = registeredRoutes(t.app).filter(
        // The UIs' own files (Swagger UI, the console and / that leads to it) and the document itself are not API routes.
        (r) => r.url !== '/docs' && !r.url.startsWith('/docs/') && r.url !== '/openapi.json' && r.url !== '/' && r.url !== '/ui' && !r.url.startsWith('/ui/'),
      );
      expect(routes.length).toBeGreaterThanOrEqual(10);
      const missing: string[] = [];
      for (const r of routes) {
        const op = doc.paths[openApiPath(r.url)]?.[r.method.toLowerCase()];
        if (!op) {
          missing.push(`${r.method} ${r.url}`);
          continue;
        }
        expect(op.summary, `${r.method} ${r.url} summary`).toEqual(expect.any(String));
        const codes = Object.keys(op.responses ?? {});
        expect(
          codes.some((c) => /^2\d\d$/.test(c)),
          `${r.method} ${r.url} documents its success answer: ${codes.join(', ')}`,
        ).toBe(true);
      }
      expect(missing, 'registered but not in /openapi.json').toEqual([]);
    });

    it('documents nothing the app does not serve', () => {
      const served = new Set(registeredRoutes(t.app).map((r) => `${r.method.toLowerCase()} ${openApiPath(r.url)}`));
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const method of Object.keys(ops)) {
          if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) expect(served, `${method} ${path}`).toContain(`${method} ${path}`);
        }
      }
    });

    it('covers the routes of the contract that exist today', () => {
      for (const [path, method] of [
        ['/webhook', 'post'],
        ['/receive_webhook', 'post'],
        ['/data', 'get'],
        ['/customers', 'get'],
        ['/customers/{external_id}', 'get'],
        ['/campaigns', 'get'],
        ['/campaigns/{external_id}', 'get'],
        ['/healthz', 'get'],
        ['/readyz', 'get'],
        ['/metrics', 'get'],
      ] as const) {
        expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
      }
    });

    it('includes the seed payloads as request examples of the webhook routes', () => {
      for (const path of ['/webhook', '/receive_webhook']) {
        const body = JSON.stringify(doc.paths[path]?.post?.requestBody);
        expect(body, path).toContain(JSON.stringify(SEED_CUSTOMER));
        expect(body, path).toContain(JSON.stringify(SEED_CAMPAIGN));
      }
    });

    it('documents problem JSON for refusals (422 on the webhook, 401 on the data routes)', () => {
      expect(Object.keys(doc.paths['/webhook']?.post?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400', '401', '413', '415', '422']));
      expect(Object.keys(doc.paths['/data']?.get?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '422']));
    });

    it('/docs serves the Swagger UI HTML, pointing at the document', async () => {
      const res = await t.app.inject('/docs');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('swagger-ui');
      const init = await t.app.inject('/docs/static/swagger-initializer.js');
      expect(init.statusCode).toBe(200);
      const json = await t.app.inject('/docs/json');
      expect(json.statusCode).toBe(200);
      expect(json.json().paths).toEqual(doc.paths);
    });

    it('documents /metrics as text, not JSON', () => {
      const ok = doc.paths['/metrics']?.get?.responses?.['200'] as { content?: Record<string, unknown> };
      expect(Object.keys(ok.content ?? {})).toEqual(['text/plain']);
    });

    it('/healthz answers ok', async () => {
      const res = await t.app.inject('/healthz');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('/readyz names the database engine', async () => {
      const res = await t.app.inject('/readyz');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ready', database: engine.name });
    });

    it('/metrics counts requests by route pattern, method and status', async () => {
      await t.app.inject('/customers/metrics_probe_unknown');
      const res = await t.app.inject('/metrics');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      const n = sample(res.body, 'tributary_http_requests_total', { method: 'GET', route: '/customers/:external_id', status: '404' });
      expect(n).toBeGreaterThanOrEqual(1);
      // The pattern, not the raw URL: ids must not become label values.
      expect(res.body).not.toContain('metrics_probe_unknown');
      expect(res.body).toContain('tributary_http_request_duration_seconds_bucket');
      expect(res.body).toMatch(/^process_cpu_user_seconds_total /m);
    });

    it('/metrics shows the group-commit batch and the records written after a webhook', async () => {
      const before = await t.app.inject('/metrics');
      const batches = sample(before.body, 'tributary_writer_batch_records_count');
      const res = await postWebhook(t.app, { customer: [SEED_CUSTOMER, { external_id: 'metrics_2' }], campaign: SEED_CAMPAIGN });
      expect(res.statusCode).toBe(200);
      const after = (await t.app.inject('/metrics')).body;
      expect(sample(after, 'tributary_writer_batch_records_count')).toBeGreaterThan(Number.isNaN(batches) ? 0 : batches);
      expect(sample(after, 'tributary_writer_batch_records_sum')).toBeGreaterThanOrEqual(3);
      expect(sample(after, 'tributary_writer_batch_deliveries_count')).toBeGreaterThanOrEqual(1);
      expect(sample(after, 'tributary_records_written_total', { type: 'customer', result: 'created' })).toBeGreaterThanOrEqual(2);
      expect(sample(after, 'tributary_records_written_total', { type: 'campaign', result: 'created' })).toBeGreaterThanOrEqual(1);
      expect(sample(after, 'tributary_http_requests_total', { method: 'POST', route: '/webhook', status: '200' })).toBeGreaterThanOrEqual(1);
    });

    it('/metrics counts a replayed delivery as a duplicate', async () => {
      const body = { customer: { external_id: 'metrics_dup' } };
      await postWebhook(t.app, body, { 'webhook-id': 'metrics-dup' });
      const before = sample((await t.app.inject('/metrics')).body, 'tributary_webhook_duplicates_total');
      await postWebhook(t.app, body, { 'webhook-id': 'metrics-dup' });
      expect(sample((await t.app.inject('/metrics')).body, 'tributary_webhook_duplicates_total')).toBe(before + 1);
    });
  });
}

describe('readiness when the store is gone', () => {
  let db: ScratchDatabase;
  let t: TestApp;
  beforeAll(async () => {
    db = await (ENGINES[0] as (typeof ENGINES)[number]).create();
    t = await startApp(db);
  });
  afterAll(async () => {
    await t?.app.close();
    await db?.drop();
  });

  it('/readyz answers 503 problem JSON while /healthz still answers', async () => {
    await t.store.close();
    const res = await t.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 503, type: expect.any(String), detail: expect.any(String) });
    expect((await t.app.inject('/healthz')).statusCode).toBe(200);
    const metrics = (await t.app.inject('/metrics')).body;
    expect(sample(metrics, 'tributary_store_errors_total', { operation: 'ping' })).toBeGreaterThanOrEqual(1);
  });
});
