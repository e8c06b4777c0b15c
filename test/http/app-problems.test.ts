import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

describe('problem answers from src/app.ts', () => {
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

  it('a missing Swagger UI asset is a 404, not "405 GET is not allowed" with Allow: GET', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/static/nope.js' });
    // A 405 whose Allow header lists the very method used contradicts itself (RFC 9110 15.5.6).
    if (res.statusCode === 405) expect(String(res.headers.allow).split(', ')).not.toContain('GET');
    expectProblem(res, 404);
  });

  it('a 400 on a GET without any body is not typed "Body is not valid JSON"', async () => {
    // @fastify/send refuses a path holding NUL with a plain 400.
    const res = await t.app.inject({ method: 'GET', url: '/docs/static/a%00b' });
    const body = expectProblem(res, 400);
    expect(body.type).not.toBe('/problems/invalid-json');
  });

  it('answers given from frameworkErrors (bad percent-encoding, over-long parameter) are counted in /metrics', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/customers/%ZZ' }), 400);
    expectProblem(await t.app.inject({ method: 'GET', url: `/customers/${'x'.repeat(5000)}` }), 414);
    const metrics = (await t.app.inject('/metrics')).body;
    const lines = metrics.split('\n').filter((l) => l.startsWith('tributary_http_requests_total{'));
    expect(
      lines.some((l) => l.includes('status="400"')),
      lines.join('\n'),
    ).toBe(true);
    expect(
      lines.some((l) => l.includes('status="414"')),
      lines.join('\n'),
    ).toBe(true);
  });
});
