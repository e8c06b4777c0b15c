/**
 * A next link or cursor that leads back to a page the walk already fetched
 * (A -> B -> A: a last page whose next link wraps to the first) must end the
 * walk with an error: only a link or cursor equal to the one just followed was
 * caught, so such a walk re-fetched and re-wrote the same pages for good.
 */
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { declaredSource, walk } from '../declared/helpers.js';
import { json, startLoopback, type Loopback } from '../helpers/loopback.js';

let lb: Loopback;
beforeAll(async () => {
  lb = await startLoopback();
});
afterAll(async () => lb?.close());
beforeEach(() => {
  lb.seen.length = 0;
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
  lb.handler = (u, res) => {
    const p = u.searchParams.get('page') ?? '1';
    json(res, [{ id: `r${p}` }], { link: `</v1/items?page=${p === '1' ? 2 : 1}>; rel="next"` });
  };
  const walked = await pagesWalked(
    { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, pagination: { kind: 'link_header' } },
    40,
  );
  expect(walked, `walked ${walked} pages over 2 distinct URLs: ${lb.seen.slice(0, 6).join(' ')} …`).toBe('rejected');
});

it('cursor: a cursor that alternates between two values does not walk forever', async () => {
  lb.handler = (u, res) => {
    const c = u.searchParams.get('cursor');
    json(res, { items: [{ id: `r${c ?? 'start'}` }], next: c === 'A' ? 'B' : 'A' });
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
  expect(walked, `walked ${walked} pages: ${lb.seen.slice(0, 6).join(' ')} …`).toBe('rejected');
});

it('cursor: an empty page that gives back the cursor just sent is the end of the feed, not a loop', async () => {
  // As change feeds such as Zendesk's incremental exports end: no records, the same cursor to poll with later.
  lb.handler = (u, res) => {
    const c = u.searchParams.get('cursor');
    json(res, c === 'END' ? { items: [], next: 'END' } : { items: [{ id: 'r1' }, { id: 'r2' }], next: 'END' });
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
  lb.handler = (u, res) => {
    const p = u.searchParams.get('page');
    json(res, p === '2' ? [] : [{ id: 'r1' }], { link: '</v1/items?page=2>; rel="next"' });
  };
  const walked = await pagesWalked(
    { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, pagination: { kind: 'link_header' } },
    10,
  );
  expect(walked).toBe(2);
});

it('cursor: has_more true without a cursor fails the run instead of ending it as complete', async () => {
  lb.handler = (u, res) => {
    const c = u.searchParams.get('cursor');
    json(res, c === null ? { items: [{ id: 'r1' }], more: true, next: 'B' } : { items: [{ id: 'r2' }], more: true, next: null });
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
  lb.handler = (_u, res) => json(res, { items: [], next: `c${++n}` });
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
  expect(lb.seen.length).toBeLessThanOrEqual(52);
});
