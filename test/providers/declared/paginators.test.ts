import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sendJson, startUpstream, type Upstream, urlOf } from '../../helpers/upstream.js';
import { nextLink } from '../../../src/providers/declared/paginators.js';
import { customers, type FakeApi, startFakeApi } from './fake-api.js';
import { declaredSource, expectEachOnce, walk } from './helpers.js';

const ALL = customers(25).map((c) => c.id);

/** The common part of every declaration here; `pagination` varies. */
function spec(api: FakeApi, pagination: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type: 'customer', base_url: `${api.url}/v1`, path: '/items', records: 'data.items', mapping: { external_id: 'id' }, pagination, ...extra };
}

/** 25 records, 7 a page: 7 + 7 + 7 + 4. */
const STYLES: Array<[string, Record<string, unknown>]> = [
  ['offset/limit, stopping at the total', { kind: 'offset', limit: 7, total: 'meta.total' }],
  ['offset/limit, stopping at a short page', { kind: 'offset', limit: 7 }],
  ['page number, stopping at total_pages', { kind: 'page', limit: 7, total_pages: 'meta.total_pages' }],
  ['page number, stopping at a short page', { kind: 'page', limit: 7 }],
  ['cursor from a body path', { kind: 'cursor', cursor_path: 'meta.next_cursor', limit_param: 'limit', limit: 7 }],
  ['cursor with a has_more flag', { kind: 'cursor', cursor_path: 'meta.next_cursor', has_more: 'meta.has_more', limit_param: 'page_size', limit: 7 }],
  ['Link header rel="next" (relative links)', { kind: 'link_header', limit_param: 'per_page', limit: 7 }],
  ['next URL from a body path (absolute)', { kind: 'next_url', next_path: 'meta.next', limit_param: 'limit', limit: 7 }],
];

describe('declared paginators', () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi(customers(25));
  });
  afterAll(async () => api?.close());
  beforeEach(() => {
    api.records = customers(25);
    api.requests.length = 0;
    api.maxPageSize = 1000;
    api.firstPage = 1;
    api.nextUrlBase = null;
    api.onRequest = null;
  });

  for (const [what, pagination] of STYLES) {
    it(`${what}: walks every record exactly once, in 4 requests`, async () => {
      const source = declaredSource('acme', spec(api, pagination));
      const w = await walk(source);
      expectEachOnce(w.records, ALL);
      expect(w.pages.map((p) => p.records.length)).toEqual([7, 7, 7, 4]);
      expect(api.requests).toHaveLength(4);
      expect(w.checkpoint).toEqual({ phase: 'idle', since: null });
      await source.close();
    });

    it(`${what}: a walk stopped after two pages resumes from its checkpoint`, async () => {
      const source = declaredSource('acme', spec(api, pagination));
      const first = await walk(source, null, 2);
      expect(first.checkpoint).toMatchObject({ phase: 'walk' });
      // Through JSON, as the store keeps it.
      const saved: unknown = JSON.parse(JSON.stringify(first.checkpoint));
      const rest = await walk(source, saved);
      expectEachOnce([...first.records, ...rest.records], ALL);
      expect(rest.records).toHaveLength(11);
      // Four pages; the request for page three may have gone out before the
      // first walk stopped (the source asks for the next page before mapping
      // this one), and is asked again on resume.
      expect(api.requests.length).toBeGreaterThanOrEqual(4);
      expect(api.requests.length).toBeLessThanOrEqual(5);
      await source.close();
    });
  }

  it('offset without a total asks once more when the last page is full, and stops at the empty one', async () => {
    api.records = customers(21);
    const source = declaredSource('acme', spec(api, { kind: 'offset', limit: 7 }));
    const w = await walk(source);
    expectEachOnce(
      w.records,
      customers(21).map((c) => c.id),
    );
    expect(api.requests.map((r) => r.url.searchParams.get('offset'))).toEqual(['0', '7', '14', '21']);
    await source.close();
  });

  it('offset with a total keeps going past pages shorter than asked (upstream caps the size)', async () => {
    api.maxPageSize = 5;
    const source = declaredSource('acme', spec(api, { kind: 'offset', offset_param: 'offset', limit_param: 'per_page', limit: 10, total: 'meta.total' }));
    const w = await walk(source);
    expectEachOnce(w.records, ALL);
    expect(api.requests.map((r) => r.url.searchParams.get('offset'))).toEqual(['0', '5', '10', '15', '20']);
    expect(w.pages.map((p) => p.totalEstimate)).toEqual([25, 25, 25, 25, 25]);
    await source.close();
  });

  it('offset with a total steps back when the total falls mid-walk, so no record slides past unseen', async () => {
    // The first record is deleted just before the second page is cut: every
    // later record moves one place forward, and the one at offset 7 would
    // land on page one's side of the boundary, never fetched.
    api.onRequest = (r) => {
      if (r.url.searchParams.get('offset') === '7') api.records = api.records.filter((c) => c.id !== ALL[0]);
    };
    const source = declaredSource('acme', spec(api, { kind: 'offset', limit: 7, total: 'meta.total' }));
    const w = await walk(source);
    const seen = new Set(w.records.map((r) => r.external_id));
    for (const id of ALL.slice(1)) expect(seen.has(id), id).toBe(true);
    expect(api.requests.map((r) => r.url.searchParams.get('offset'))).toEqual(['0', '7', '6', '13', '20']);
    await source.close();
  });

  it('page numbers may start at 0', async () => {
    api.firstPage = 0;
    const source = declaredSource('acme', spec(api, { kind: 'page', limit: 10, first_page: 0, total_pages: 'meta.total_pages' }));
    const w = await walk(source);
    expectEachOnce(w.records, ALL);
    expect(api.requests.map((r) => `${r.url.searchParams.get('page')}/${r.url.searchParams.get('per_page')}`)).toEqual(['0/10', '1/10', '2/10']);
    await source.close();
  });

  it('no pagination: one request', async () => {
    const source = declaredSource('acme', spec(api, { kind: 'none' }));
    const w = await walk(source);
    expect(w.records).toHaveLength(10);
    expect(api.requests).toHaveLength(1);
    await source.close();
  });

  it('the records may be the body itself, and a body without the record array fails loudly', async () => {
    const source = declaredSource('acme', { ...spec(api, { kind: 'none' }), records: 'data.missing' });
    await expect(walk(source)).rejects.toThrow(/acme: the response has no array at "data\.missing"/);
    const bare = declaredSource('acme', { ...spec(api, { kind: 'none' }), records: undefined });
    await expect(walk(bare)).rejects.toThrow(/not an array/);
    await Promise.all([source.close(), bare.close()]);
  });

  it('a next link on another origin is refused before it reaches a checkpoint', async () => {
    const other = await startFakeApi(customers(3));
    try {
      // The body's next URL names the other server: credentials must not follow it.
      api.nextUrlBase = other.url;
      const source = declaredSource('acme', spec(api, { kind: 'next_url', next_path: 'meta.next', limit_param: 'limit', limit: 7 }));
      await expect(walk(source)).rejects.toThrow(/outside base_url's origin/);
      expect(api.requests).toHaveLength(1);
      expect(other.requests).toHaveLength(0);
      await source.close();
    } finally {
      await other.close();
    }
  });

  it('a cursor that does not move is an error, not an endless loop', async () => {
    const source = declaredSource('acme', spec(api, { kind: 'cursor', cursor_path: 'meta.total', cursor_param: 'ignored', limit_param: 'limit', limit: 7 }));
    await expect(walk(source)).rejects.toThrow(/refusing to loop/);
    expect(api.requests).toHaveLength(2);
    await source.close();
  });
});

describe('declared incremental walks', () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi(customers(25));
  });
  afterAll(async () => api?.close());
  beforeEach(() => {
    api.requests.length = 0;
  });

  const inc = (extra: Record<string, unknown> = {}) => ({ incremental: { field: 'updated_at', param: 'updated_since', ...extra } });

  it('the checkpoint keeps the newest value seen, and every request of the next walk sends it, next links included', async () => {
    const source = declaredSource('acme', spec(api, { kind: 'link_header', limit_param: 'per_page', limit: 7 }, inc()));
    const first = await walk(source);
    expect(first.checkpoint).toEqual({ phase: 'idle', since: Date.parse('2024-03-01T00:25:00Z') });
    api.requests.length = 0;
    const since = { phase: 'idle', since: Date.parse('2024-03-01T00:10:00Z') };
    const second = await walk(source, since);
    expectEachOnce(
      second.records,
      customers(16, 10).map((c) => c.id),
    );
    expect(api.requests.map((r) => r.url.searchParams.get('updated_since'))).toEqual([
      '2024-03-01T00:10:00.000Z',
      '2024-03-01T00:10:00.000Z',
      '2024-03-01T00:10:00.000Z',
    ]);
    expect(second.checkpoint).toEqual({ phase: 'idle', since: Date.parse('2024-03-01T00:25:00Z') });
    await source.close();
  });

  it('lookback_seconds sends the value that much earlier', async () => {
    const iso = declaredSource('acme', spec(api, { kind: 'none' }, inc({ lookback_seconds: 300 })));
    await walk(iso, { phase: 'idle', since: Date.parse('2024-03-01T00:10:00Z') });
    expect(api.requests[0]?.url.searchParams.get('updated_since')).toBe('2024-03-01T00:05:00.000Z');
    await iso.close();
  });

  it('a walk the next run finds with another paginator kind starts over, keeping the incremental value', async () => {
    const source = declaredSource('acme', spec(api, { kind: 'offset', limit: 7 }, inc()));
    const since = Date.parse('2024-03-01T00:20:00Z');
    const w = await walk(source, { phase: 'walk', since, startedAt: Date.now(), maxSeen: null, position: { kind: 'cursor', cursor: 'xyz' } });
    expectEachOnce(
      w.records,
      customers(6, 20).map((c) => c.id),
    );
    expect(api.requests.map((r) => r.url.searchParams.get('offset'))).toEqual(['0']);
    await source.close();
  });

  it('a record changed behind the walk cannot be skipped: the next value is never later than the walk start', async () => {
    const future = customers(2, 900, '2999-01-01');
    api.records = [...customers(25), ...future];
    try {
      const source = declaredSource('acme', spec(api, { kind: 'offset', limit: 100 }, inc()));
      const before = Date.now();
      const w = await walk(source);
      const next = (w.checkpoint as { since: number }).since;
      expect(next).toBeGreaterThanOrEqual(before);
      expect(next).toBeLessThanOrEqual(Date.now());
      await source.close();
    } finally {
      api.records = customers(25);
    }
  });
});

describe('Link header parsing', () => {
  it('finds rel="next" among several links, unquoted rels and rel lists', () => {
    expect(nextLink('<https://a.example/x?page=2>; rel="next", <https://a.example/x?page=9>; rel="last"')).toBe('https://a.example/x?page=2');
    expect(nextLink('<https://a.example/x?page=9>; rel="last", </x?page=3>; rel=next')).toBe('/x?page=3');
    expect(nextLink('<https://a.example/x?a=1,2>; title="a, b"; rel="next last"')).toBe('https://a.example/x?a=1,2');
    expect(nextLink(['<https://a.example/1>; rel="prev"', '<https://a.example/3>; REL="Next"'])).toBe('https://a.example/3');
    expect(nextLink('<https://a.example/x?page=1>; rel="prev"')).toBeNull();
    expect(nextLink(undefined)).toBeNull();
  });
});

/**
 * A next link or cursor that leads back to a page the walk already fetched
 * (A -> B -> A: a last page whose next link wraps to the first) must end the
 * walk with an error: only a link or cursor equal to the one just followed was
 * caught, so such a walk re-fetched and re-wrote the same pages for good.
 */
describe('a paginator that does not move', () => {
  let lb: Upstream;
  beforeAll(async () => {
    lb = await startUpstream();
  });
  afterAll(async () => lb?.close());
  beforeEach(() => {
    lb.requests.length = 0;
  });

  /** Pages walked before the walk ends or fails, or 'rejected'; at most `cap`. */
  async function pagesWalked(spec: Record<string, unknown>, cap: number): Promise<number | 'rejected'> {
    const source = declaredSource('acme', spec);
    try {
      return await walk(source, null, cap).then(
        (w) => w.pages.length,
        () => 'rejected' as const,
      );
    } finally {
      await source.close();
    }
  }

  it('link_header: a next link back to the first page does not walk forever', async () => {
    // Page 1 -> page 2 -> page 1 -> page 2 ...
    lb.handler = (req, res) => {
      const u = urlOf(req);
      const p = u.searchParams.get('page') ?? '1';
      sendJson(res, 200, [{ id: `r${p}` }], { link: `</v1/items?page=${p === '1' ? 2 : 1}>; rel="next"` });
    };
    const walked = await pagesWalked(
      { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, pagination: { kind: 'link_header' } },
      40,
    );
    expect(walked, `walked ${walked} pages over 2 distinct URLs: ${lb.urls().slice(0, 6).join(' ')} …`).toBe('rejected');
  });

  it('cursor: a cursor that alternates between two values does not walk forever', async () => {
    lb.handler = (req, res) => {
      const u = urlOf(req);
      const c = u.searchParams.get('cursor');
      sendJson(res, 200, { items: [{ id: `r${c ?? 'start'}` }], next: c === 'A' ? 'B' : 'A' });
    };
    const walked = await pagesWalked(
      {
        type: 'customer',
        base_url: lb.url,
        path: '/v1/items',
        records: 'items',
        mapping: { external_id: 'id' },
        pagination: { kind: 'cursor', cursor_path: 'next' },
      },
      40,
    );
    expect(walked, `walked ${walked} pages: ${lb.urls().slice(0, 6).join(' ')} …`).toBe('rejected');
  });

  it('cursor: an empty page that gives back the cursor just sent is the end of the feed, not a loop', async () => {
    // As change feeds such as Zendesk's incremental exports end: no records, the same cursor to poll with later.
    lb.handler = (req, res) => {
      const u = urlOf(req);
      const c = u.searchParams.get('cursor');
      sendJson(res, 200, c === 'END' ? { items: [], next: 'END' } : { items: [{ id: 'r1' }, { id: 'r2' }], next: 'END' });
    };
    const walked = await pagesWalked(
      {
        type: 'customer',
        base_url: lb.url,
        path: '/v1/items',
        records: 'items',
        mapping: { external_id: 'id' },
        pagination: { kind: 'cursor', cursor_path: 'next' },
      },
      10,
    );
    expect(walked).toBe(2);
  });

  it('link_header: an empty last page that links to itself is the end', async () => {
    lb.handler = (req, res) => {
      const u = urlOf(req);
      const p = u.searchParams.get('page');
      sendJson(res, 200, p === '2' ? [] : [{ id: 'r1' }], { link: '</v1/items?page=2>; rel="next"' });
    };
    const walked = await pagesWalked(
      { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, pagination: { kind: 'link_header' } },
      10,
    );
    expect(walked).toBe(2);
  });

  it('cursor: has_more true without a cursor fails the run instead of ending it as complete', async () => {
    lb.handler = (req, res) => {
      const u = urlOf(req);
      const c = u.searchParams.get('cursor');
      sendJson(res, 200, c === null ? { items: [{ id: 'r1' }], more: true, next: 'B' } : { items: [{ id: 'r2' }], more: true, next: null });
    };
    const walked = await pagesWalked(
      {
        type: 'customer',
        base_url: lb.url,
        path: '/v1/items',
        records: 'items',
        mapping: { external_id: 'id' },
        pagination: { kind: 'cursor', cursor_path: 'next', has_more: 'more' },
      },
      10,
    );
    expect(walked).toBe('rejected');
  });

  it('cursor: ever new cursors to ever empty pages end in an error, not an endless walk', async () => {
    let n = 0;
    lb.handler = (_req, res) => sendJson(res, 200, { items: [], next: `c${++n}` });
    const walked = await pagesWalked(
      {
        type: 'customer',
        base_url: lb.url,
        path: '/v1/items',
        records: 'items',
        mapping: { external_id: 'id' },
        pagination: { kind: 'cursor', cursor_path: 'next' },
      },
      200,
    );
    expect(walked).toBe('rejected');
    expect(lb.urls().length).toBeLessThanOrEqual(52);
  });
});

/**
 * A next link with a fragment (`</v1/items?page=2#results>`): the parameters
 * it lacks were appended after the fragment, so they were never sent: the API
 * key (auth in the query), the incremental parameter and the fixed `query:`
 * all went missing from every later request.
 */
describe('a next link with a fragment', () => {
  let lb: Upstream;
  beforeAll(async () => {
    lb = await startUpstream();
    lb.handler = (req, res) => {
      const u = urlOf(req);
      const page = u.searchParams.get('page');
      sendJson(res, 200, [{ id: `r${page ?? 1}` }], page === null ? { link: '</v1/items?page=2#results>; rel="next"' } : {});
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
    expect(lb.urls()).toHaveLength(2);
    for (const raw of lb.urls()) {
      const q = new URL(raw, 'http://x').searchParams;
      expect(q.get('api_key'), raw).toBe('k-1');
      expect(q.get('archived'), raw).toBe('false');
    }
  });
});
