import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamHttpError } from '../../../src/sources/upstream-errors.js';
import { customers, startFakeApi, type FakeApi } from './fake-api.js';
import { declaredSource, walk } from './helpers.js';

describe('declared source auth', () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi(customers(12));
  });
  afterAll(async () => api?.close());
  beforeEach(() => {
    api.requests.length = 0;
    api.requireHeader = null;
    api.requireQuery = null;
  });

  const spec = (auth: Record<string, unknown>, pagination: Record<string, unknown> = { kind: 'offset', limit: 5, total: 'meta.total' }) => ({
    type: 'customer',
    base_url: `${api.url}/v1`,
    path: '/items',
    records: 'data.items',
    mapping: { external_id: 'id' },
    auth,
    pagination,
  });

  it('bearer: Authorization: Bearer <token_env> on every request', async () => {
    api.requireHeader = { name: 'authorization', value: 'Bearer tok-123' };
    const source = declaredSource('acme', spec({ kind: 'bearer', token_env: 'ACME_TOKEN' }), { ACME_TOKEN: 'tok-123' });
    expect(source.missingConfiguration()).toBeNull();
    expect((await walk(source)).records).toHaveLength(12);
    expect(api.requests).toHaveLength(3);
    await source.close();
  });

  it('basic: a literal user name and the password from password_env, or both from the environment', async () => {
    api.requireHeader = { name: 'authorization', value: `Basic ${Buffer.from('tributary:pw-9').toString('base64')}` };
    const literal = declaredSource('acme', spec({ kind: 'basic', username: 'tributary', password_env: 'ACME_PASSWORD' }), { ACME_PASSWORD: 'pw-9' });
    expect((await walk(literal)).records).toHaveLength(12);
    api.requireHeader = { name: 'authorization', value: `Basic ${Buffer.from('svc:pw-10').toString('base64')}` };
    const fromEnv = declaredSource('acme', spec({ kind: 'basic', username_env: 'ACME_USER', password_env: 'ACME_PASSWORD' }), {
      ACME_USER: 'svc',
      ACME_PASSWORD: 'pw-10',
    });
    expect((await walk(fromEnv)).records).toHaveLength(12);
    await Promise.all([literal.close(), fromEnv.close()]);
  });

  it('API key in a header, with a prefix', async () => {
    api.requireHeader = { name: 'x-api-key', value: 'Token k-1' };
    const source = declaredSource('acme', spec({ kind: 'api_key', in: 'header', name: 'X-Api-Key', prefix: 'Token ', key_env: 'ACME_KEY' }), {
      ACME_KEY: 'k-1',
    });
    expect((await walk(source)).records).toHaveLength(12);
    await source.close();
  });

  it('API key in the query: on every request, next links included, and never in a checkpoint', async () => {
    api.requireQuery = { name: 'api_key', value: 'k&2 /x' };
    const source = declaredSource(
      'acme',
      spec(
        { kind: 'api_key', in: 'query', name: 'api_key', key_env: 'ACME_KEY' },
        { kind: 'next_url', next_path: 'meta.next', limit_param: 'limit', limit: 5 },
      ),
      { ACME_KEY: 'k&2 /x' },
    );
    const w = await walk(source);
    expect(w.records).toHaveLength(12);
    expect(api.requests).toHaveLength(3);
    for (const r of api.requests) expect(r.url.searchParams.get('api_key')).toBe('k&2 /x');
    for (const p of w.pages) expect(JSON.stringify(p.checkpoint)).not.toContain('api_key');
    await source.close();
  });

  it('a source whose credential variable is unset says which one to set', () => {
    const bearer = declaredSource('acme', spec({ kind: 'bearer', token_env: 'ACME_TOKEN' }), {});
    expect(bearer.missingConfiguration()).toBe('ACME_TOKEN');
    const basic = declaredSource('acme', spec({ kind: 'basic', username_env: 'ACME_USER', password_env: 'ACME_PASSWORD' }), { ACME_USER: 'u' });
    expect(basic.missingConfiguration()).toBe('ACME_PASSWORD');
    const none = declaredSource('acme', spec({ kind: 'none' }));
    expect(none.missingConfiguration()).toBeNull();
  });

  it('a wrong credential fails at once with the upstream status, and the key is not in the message', async () => {
    api.requireQuery = { name: 'api_key', value: 'right' };
    const source = declaredSource('acme', spec({ kind: 'api_key', in: 'query', name: 'api_key', key_env: 'ACME_KEY' }), { ACME_KEY: 'wrong-secret' });
    const err = await walk(source).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamHttpError);
    expect((err as UpstreamHttpError).status).toBe(401);
    expect((err as Error).message).toContain('acme: GET /items answered 401');
    expect((err as Error).message).not.toContain('wrong-secret');
    expect(api.requests).toHaveLength(1);
    await source.close();
  });
});
