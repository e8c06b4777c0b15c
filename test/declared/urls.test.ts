import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { declaredSource, walk } from '../declared/helpers.js';

/** A one-record API that records every raw request URL; page 1 answers with a Link to page 2. */
let server: http.Server;
let base = '';
const seen: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    const u = new URL(req.url ?? '/', 'http://x');
    const page = u.searchParams.get('page');
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (page === null) headers.link = '</v1/items?q=a%20b&page=2&api_key=K>; rel="next"';
    res.writeHead(200, headers);
    res.end(JSON.stringify([{ id: page === null ? '1' : `p${page}` }]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen.length = 0;
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
    expect(seen).toHaveLength(2);
    // Upstream said q=a%20b: the link fetched must not be re-serialised (into q=a+b).
    expect(seen[1]).toContain('q=a%20b');
  });
});
