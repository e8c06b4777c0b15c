/**
 * A next link with a fragment (`</v1/items?page=2#results>`): the parameters
 * it lacks were appended after the fragment, so they were never sent: the API
 * key (auth in the query), the incremental parameter and the fixed `query:`
 * all went missing from every later request.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declaredSource, walk } from '../declared/helpers.js';
import { json, startLoopback, type Loopback } from '../helpers/loopback.js';

let lb: Loopback;
beforeAll(async () => {
  lb = await startLoopback();
  lb.handler = (u, res) => {
    const page = u.searchParams.get('page');
    json(res, [{ id: `r${page ?? 1}` }], page === null ? { link: '</v1/items?page=2#results>; rel="next"' } : {});
  };
});
afterAll(async () => lb?.close());

it('every request carries the API key and the fixed query, next links with a fragment included', async () => {
  const source = declaredSource(
    'acme',
    {
      type: 'customer',
      base_url: lb.url,
      path: '/v1/items',
      query: { archived: false },
      mapping: { external_id: 'id' },
      pagination: { kind: 'link_header' },
      auth: { kind: 'api_key', in: 'query', name: 'api_key', key_env: 'ACME_KEY' },
    },
    { ACME_KEY: 'k-1' },
  );
  await walk(source);
  await source.close();
  expect(lb.seen).toHaveLength(2);
  for (const raw of lb.seen) {
    const q = new URL(raw, 'http://x').searchParams;
    expect(q.get('api_key'), raw).toBe('k-1');
    expect(q.get('archived'), raw).toBe('false');
  }
});
