import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { expectProblem, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const APP = 'https://app.example.com';
const preflight = (origin: string, url = '/data') => ({
  method: 'OPTIONS' as const,
  url,
  headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
});

describe('CORS_ORIGINS', () => {
  it('reads unset as off, * as any origin, or a list of exact origins', () => {
    expect(loadConfig({}).corsOrigins).toBeNull();
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
    expect(loadConfig({ CORS_ORIGINS: `${APP}, http://localhost:3000` }).corsOrigins).toEqual([APP, 'http://localhost:3000']);
  });

  it.each(['app.example.com', 'https://app.example.com/', 'https://app.example.com/path', '*, https://a.example', 'null'])(
    'refuses %s at start, naming the variable',
    (value) => {
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/CORS_ORIGINS/);
    },
  );

  describe('off (the default)', () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await ENGINES[0]!.create();
      t = await startApp(db);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('gives no CORS headers and answers a preflight as an unknown method', async () => {
      const res = await t.app.inject(preflight(APP));
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expectProblem(res, 405);
      const get = await t.app.inject({ method: 'GET', url: '/data', headers: { origin: APP } });
      expect(get.statusCode).toBe(200);
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('with named origins and API_KEY', () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await ENGINES[0]!.create();
      t = await startApp(db, { CORS_ORIGINS: APP, API_KEY: 'secret-key-0123456789' });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('answers a preflight from an allowed origin without asking for the key', async () => {
      const res = await t.app.inject(preflight(APP));
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      expect(String(res.headers['access-control-allow-methods'])).toContain('GET');
      expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    });

    it('lets a script from that origin read answers and their headers, the key still required', async () => {
      const ok = await t.app.inject({ method: 'GET', url: '/data', headers: { origin: APP, authorization: 'Bearer secret-key-0123456789' } });
      expect(ok.statusCode).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe(APP);
      expect(String(ok.headers['access-control-expose-headers'])).toContain('idempotent-replayed');
      const refused = await t.app.inject({ method: 'GET', url: '/data', headers: { origin: APP } });
      expectProblem(refused, 401);
      // A script may read why it was refused.
      expect(refused.headers['access-control-allow-origin']).toBe(APP);
    });

    it('gives another origin no CORS headers', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/data',
        headers: { origin: 'https://evil.example', authorization: 'Bearer secret-key-0123456789' },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const pre = await t.app.inject(preflight('https://evil.example'));
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('leaves the OpenAPI document without an OPTIONS route', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
      for (const [path, ops] of Object.entries(doc.paths)) expect(Object.keys(ops), path).not.toContain('options');
      expect(Object.keys(doc.paths)).not.toContain('*');
    });
  });
});
