/**
 * A walk interrupted (cancel, failure, shutdown) and resumed after the
 * sources file changed must not resume a position that means something else
 * now; only its kind was checked:
 * - link_header / next_url: a next link saved on the old base_url origin was
 *   refused by the client on every later run, until someone thought of
 *   ?full=true;
 * - page: a page number counted in pages of the old limit, resumed with a
 *   larger one, jumped past records never fetched, and the run still ended as
 *   a success (its incremental value moving past them).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { customers, startFakeApi, type FakeApi } from '../declared/fake-api.js';
import { declaredSource, walk } from '../declared/helpers.js';
import { json, startLoopback, type Loopback } from '../helpers/loopback.js';

let oldHost: Loopback;
let newHost: Loopback;
let api: FakeApi;
beforeAll(async () => {
  [oldHost, newHost, api] = await Promise.all([startLoopback(), startLoopback(), startFakeApi(customers(30))]);
  for (const h of [oldHost, newHost]) {
    h.handler = (u, res) => {
      const page = u.searchParams.get('page');
      json(res, [{ id: `r${page ?? 1}` }], page === null ? { link: '</v1/items?page=2>; rel="next"' } : {});
    };
  }
});
afterAll(async () => Promise.all([oldHost?.close(), newHost?.close(), api?.close()]));

it('a walk saved against the old base_url origin does not make every later run fail', async () => {
  const spec = (base: string) => ({ type: 'customer', base_url: base, path: '/v1/items', mapping: { external_id: 'id' }, pagination: { kind: 'link_header' } });
  const before = declaredSource('acme', spec(oldHost.url));
  const first = await walk(before, null, 1);
  await before.close();
  const saved: unknown = JSON.parse(JSON.stringify(first.checkpoint));
  expect(saved).toMatchObject({ phase: 'walk', position: { kind: 'link_header', next: `${oldHost.url}/v1/items?page=2` } });

  // The operator moves base_url to the new host; the next run loads that checkpoint.
  const after = declaredSource('acme', spec(newHost.url));
  const outcome = await walk(after, saved).then(
    (w) => `walked ${w.records.map((r) => r.external_id).join(',')}`,
    (e: unknown) => `failed: ${String(e)}`,
  );
  await after.close();
  expect(outcome).toBe('walked r1,r2');
});

it('page numbers saved with one limit are not resumed with another: no record is skipped', async () => {
  const spec = (limit: number) => ({
    type: 'customer',
    base_url: `${api.url}/v1`,
    path: '/items',
    records: 'data.items',
    mapping: { external_id: 'id' },
    pagination: { kind: 'page', limit, total_pages: 'meta.total_pages' },
  });
  const before = declaredSource('acme', spec(5));
  const first = await walk(before, null, 2); // c001..c010; saved: page 3 (of 5 a page)
  await before.close();
  const saved: unknown = JSON.parse(JSON.stringify(first.checkpoint));
  expect(saved).toMatchObject({ phase: 'walk', position: { kind: 'page', page: 3 } });

  const after = declaredSource('acme', spec(10)); // limit raised in the file
  const rest = await walk(after, saved);
  await after.close();
  expect(rest.checkpoint).toMatchObject({ phase: 'idle' });
  const all = customers(30).map((c) => c.id);
  const got = new Set([...first.records, ...rest.records].map((r) => r.external_id));
  expect(all.filter((id) => !got.has(id))).toEqual([]);
});
