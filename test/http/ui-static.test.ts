import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problemHandling } from '../../src/http/problems.js';
import { UI_CSP, uiRoutes } from '../../src/http/routes/ui.js';
import { createMetrics } from '../../src/metrics.js';

/** The console's static routes on a build folder made here, beside a file that must stay out of reach. */
describe('the console at /ui/', () => {
  let dir: string;
  let app: FastifyInstance;
  let bare: FastifyInstance;

  const build = async (root: string) => {
    const a = Fastify();
    problemHandling(a, createMetrics());
    await a.register(uiRoutes, { root });
    await a.ready();
    return a;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tributary-ui-'));
    mkdirSync(join(dir, 'ui', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'ui', 'index.html'), '<!doctype html><title>console page</title>');
    writeFileSync(join(dir, 'ui', 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'ui', '.env'), 'SECRET=hidden');
    writeFileSync(join(dir, 'secret.txt'), 'outside the build');
    app = await build(join(dir, 'ui'));
    bare = await build(join(dir, 'not-built'));
  });
  afterAll(async () => {
    await app?.close();
    await bare?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends / and /ui to /ui/, whatever the client asks for', async () => {
    for (const accept of ['text/html,application/xhtml+xml,*/*;q=0.8', 'application/json', undefined]) {
      const res = await app.inject({ url: '/', headers: accept ? { accept } : {} });
      expect(res.statusCode, accept).toBe(302);
      expect(res.headers.location).toBe('/ui/');
    }
    expect((await app.inject('/ui')).headers.location).toBe('/ui/');
  });

  it('serves the page at /ui/ and at every page path under it, with the CSP, revalidated each time', async () => {
    for (const url of ['/ui/', '/ui/syncs', '/ui/records', '/ui/webhooks/anything']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).toContain('console page');
      expect(res.headers['content-security-policy'], url).toBe(UI_CSP);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
    }
    expect(UI_CSP).toContain("default-src 'self'");
    expect(UI_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });

  it('serves hashed assets for a year, and HEAD too', async () => {
    const res = await app.inject('/ui/assets/index-abc123.js');
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('console.log(1)');
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ method: 'HEAD', url: '/ui/assets/index-abc123.js' })).statusCode).toBe(200);
  });

  it('answers 404 problem JSON for a missing file, a hidden file, and every way out of the folder', async () => {
    for (const url of [
      '/ui/assets/missing.js',
      '/ui/favicon.ico',
      '/ui/.env',
      '/ui/%2e%2e/secret.txt',
      '/ui/..%2fsecret.txt',
      '/ui/assets/..%2f..%2fsecret.txt',
      '/ui/%2e%2e%2fsecret.txt',
      '/ui/..%5csecret.txt',
      '/ui/a%00b',
      '/ui/assets/%2e%2e/%2e%2e/secret.txt',
    ]) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.body, url).not.toContain('outside the build');
      expect(res.body, url).not.toContain('SECRET');
    }
  });

  it('refuses other methods with 405 and Allow', async () => {
    const res = await app.inject({ method: 'POST', url: '/ui/syncs' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toContain('GET');
  });

  it('says how to build the console when it has not been built', async () => {
    const res = await bare.inject('/ui/');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('npm run build');
    expect(res.headers['content-security-policy']).toBe(UI_CSP);
  });
});
