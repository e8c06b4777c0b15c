import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload, type RecordType, type RecordWrite, type WriteResult } from '../../src/domain/records.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { runSync, scratchDir, writeSourcesFile } from '../providers/declared/helpers.js';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { type Engine, ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { sendJson, startUpstream, type Upstream } from '../helpers/upstream.js';

// ---------------------------------------------------------------------------
// Helpers local to the retrieval routes.

interface Item {
  type: RecordType;
  external_id: string;
  source: string;
  name?: string | null;
  updated_at: string;
  deleted_at: string | null;
  [field: string]: unknown;
}

interface Page {
  items: Item[];
  total: number | null;
  offset: number;
  limit: number;
  next_cursor: string | null;
}

interface Walk {
  items: Item[];
  pages: Page[];
  /** The last non-null next_cursor seen (or the one the walk started from). */
  bookmark: string | null;
}

type Params = Record<string, string | number | boolean | undefined>;

const key = (i: { type: string; external_id: string }) => `${i.type}/${i.external_id}`;
const keys = (items: readonly Item[]) => items.map(key);

function url(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function getPage(t: TestApp, path: string, params: Params = {}): Promise<Page> {
  const u = url(path, params);
  const res = await t.app.inject({ method: 'GET', url: u });
  if (res.statusCode !== 200) throw new Error(`GET ${u} answered ${res.statusCode}: ${res.body}`);
  return res.json() as Page;
}

/** Follows next_cursor to the end; `between` runs after each page that has a next one. */
async function walk(
  t: TestApp,
  path: string,
  params: Params,
  opts: { from?: string | null; between?: (page: Page, n: number) => Promise<void> } = {},
): Promise<Walk> {
  const pages: Page[] = [];
  const items: Item[] = [];
  let cursor = opts.from ?? null;
  let bookmark = cursor;
  for (let n = 0; ; n++) {
    if (n > 2000) throw new Error(`walking ${path} does not end`);
    const page = await getPage(t, path, { ...params, cursor: cursor ?? undefined });
    pages.push(page);
    items.push(...page.items);
    if (page.next_cursor === null) return { items, pages, bookmark };
    cursor = bookmark = page.next_cursor;
    await opts.between?.(page, n);
  }
}

/** Every 4xx must be problem JSON naming the field. */
async function expect422(t: TestApp, u: string, path: string): Promise<void> {
  const res = await t.app.inject({ method: 'GET', url: u });
  expect(res.statusCode, `${u}: ${res.body}`).toBe(422);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as { status: number; errors?: Array<{ path: string }> };
  expect(body.status).toBe(422);
  expect(
    body.errors?.map((e) => e.path),
    u,
  ).toContain(path);
}

const write = (t: TestApp, writes: RecordWrite[]) => inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, writes));
const results = (applied: Array<{ result: WriteResult }>) => applied.map((a) => a.result);

/** A record as a test keeps it: what the next write of it sends. */
interface Rec {
  type: RecordType;
  id: string;
  source: string;
  name: string;
  /** The sender's updated_at. */
  ts?: string;
  deleted?: boolean;
}
const keyOf = (r: Rec) => `${r.type}/${r.id}`;
const payload = (r: Rec): RecordWrite => ({
  ...recordFromPayload(r.type, { external_id: r.id, name: r.name, ...(r.ts ? { updated_at: r.ts } : {}) }, r.source),
  deleted: r.deleted ?? false,
});

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const b64 = (s: string) => Buffer.from(s).toString('base64url');
const EPOCH = '1970-01-01T00:00:00Z';
/** The same instant written with another offset: `+05:30`, or `+0530`/`+05` style. */
function withOffset(ms: number, minutes: number, style: 'colon' | 'compact' | 'hours' = 'colon'): string {
  const local = new Date(ms + minutes * 60_000).toISOString().slice(0, -1);
  const sign = minutes < 0 ? '-' : '+';
  const h = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
  const m = String(Math.abs(minutes) % 60).padStart(2, '0');
  return `${local}${sign}${style === 'colon' ? `${h}:${m}` : style === 'compact' ? `${h}${m}` : h}`;
}

async function fresh(engine: Engine): Promise<{ db: ScratchDatabase; t: TestApp }> {
  const db = await engine.create();
  const t = await startApp(db);
  return { db, t };
}

// ---------------------------------------------------------------------------

for (const engine of ENGINES) {
  describe(`GET /data and the typed views on ${engine.name}`, () => {
    describe('a static set of 3,000 records', () => {
      let db: ScratchDatabase;
      let t: TestApp;
      /** Every record's key in the order it was first stored. */
      const order: string[] = [];
      const customers: string[] = [];
      const campaigns: string[] = [];
      /** updated_at of each of the three webhook batches. */
      const batchTimes: number[] = [];

      beforeAll(async () => {
        ({ db, t } = await fresh(engine));
        for (let b = 0; b < 3; b++) {
          const c = Array.from({ length: 600 }, (_, i) => {
            const n = b * 600 + i;
            return { external_id: `c-${n}`, id: n, name: `Customer ${n}`, email: `c${n}@example.com` };
          });
          const k = Array.from({ length: 400 }, (_, i) => {
            const n = b * 400 + i;
            return {
              external_id: `k-${n}`,
              id: n,
              name: `Campaign ${n}`,
              status: n % 2 ? 'active' : 'draft',
              budget: n * 10,
              details: { discount: `${n % 50}%` },
            };
          });
          const res = await postWebhook(t.app, { customer: c, campaign: k });
          expect(res.statusCode, res.body).toBe(200);
          expect(res.json().stored).toBe(1000);
          for (const x of c) customers.push(`customer/${x.external_id}`);
          for (const x of k) campaigns.push(`campaign/${x.external_id}`);
          order.push(...c.map((x) => `customer/${x.external_id}`), ...k.map((x) => `campaign/${x.external_id}`));
          const first = await getPage(t, '/data', { offset: b * 1000, limit: 1 });
          batchTimes.push(Date.parse(first.items[0]!.updated_at));
        }
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('first page: the documented shape, default limit 50, exact total, insertion order', async () => {
        const res = await t.app.inject('/data');
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
        const page = res.json() as Page;
        expect(Object.keys(page).sort()).toEqual(['items', 'limit', 'next_cursor', 'offset', 'total']);
        expect(page).toMatchObject({ total: 3000, offset: 0, limit: 50 });
        expect(typeof page.next_cursor).toBe('string');
        expect(keys(page.items)).toEqual(order.slice(0, 50));
        expect(page.items[0]).toEqual({
          type: 'customer',
          external_id: 'c-0',
          source: 'webhook',
          id: 0,
          name: 'Customer 0',
          email: 'c0@example.com',
          attributes: {},
          created_at: expect.stringMatching(ISO_MS),
          updated_at: expect.stringMatching(ISO_MS),
          source_updated_at: null,
          deleted_at: null,
        });
        const campaign = (await getPage(t, '/data', { offset: 601, limit: 1 })).items[0];
        expect(campaign).toEqual({
          type: 'campaign',
          external_id: 'k-1',
          source: 'webhook',
          id: 1,
          name: 'Campaign 1',
          status: 'active',
          budget: 10,
          details: { discount: '1%' },
          attributes: {},
          created_at: expect.stringMatching(ISO_MS),
          updated_at: expect.stringMatching(ISO_MS),
          source_updated_at: null,
          deleted_at: null,
        });
      });

      it('limit goes up to 1000; anything outside 1..1000 or not a number is a 422 naming /query/limit', async () => {
        const page = await getPage(t, '/data', { limit: 1000 });
        expect(page.limit).toBe(1000);
        expect(keys(page.items)).toEqual(order.slice(0, 1000));
        for (const bad of ['0', '1001', '-5', 'abc', '1.5', '']) await expect422(t, `/data?limit=${bad}`, '/query/limit');
        for (const bad of ['-1', 'x', '2.5']) await expect422(t, `/data?offset=${bad}`, '/query/offset');
        await expect422(t, '/customers?limit=1001', '/query/limit');
        await expect422(t, '/data?type=order', '/query/type');
      });

      it('the order is stable, and offset pages are exact slices of it', async () => {
        const a = await t.app.inject('/data?offset=1234&limit=17');
        const b = await t.app.inject('/data?offset=1234&limit=17');
        expect(a.body).toBe(b.body);
        expect(keys((a.json() as Page).items)).toEqual(order.slice(1234, 1251));
        const tail = await getPage(t, '/data', { offset: 2990, limit: 50 });
        expect(keys(tail.items)).toEqual(order.slice(2990));
        expect(tail.next_cursor).toBeNull();
        for (const offset of [3000, 10_000]) {
          expect(await getPage(t, '/data', { offset })).toEqual({ items: [], total: 3000, offset, limit: 50, next_cursor: null });
        }
      });

      it('walking every page by offset gives each record exactly once, and total is right on every page', async () => {
        const seen: string[] = [];
        for (let offset = 0; ; offset += 250) {
          const page = await getPage(t, '/data', { offset, limit: 250 });
          expect(page).toMatchObject({ total: 3000, offset, limit: 250 });
          seen.push(...keys(page.items));
          if (page.items.length < 250) break;
        }
        expect(seen).toEqual(order);
      });

      for (const limit of [1000, 77]) {
        it(`walking by cursor (limit ${limit}) gives each record exactly once, in order`, async () => {
          const w = await walk(t, '/data', { limit });
          expect(keys(w.items)).toEqual(order);
          expect(w.pages).toHaveLength(Math.ceil(3000 / limit));
          for (const p of w.pages) expect(p).toMatchObject({ total: 3000, offset: 0, limit });
          expect(w.pages.slice(0, -1).every((p) => typeof p.next_cursor === 'string')).toBe(true);
        });
      }

      it("an offset page's next_cursor continues right after it", async () => {
        const first = await getPage(t, '/data', { offset: 1500, limit: 100 });
        const next = await getPage(t, '/data', { limit: 100, cursor: first.next_cursor! });
        expect(keys(next.items)).toEqual(order.slice(1600, 1700));
        expect(next).toMatchObject({ total: 3000, offset: 0 });
        // offset=0 with a cursor is fine.
        expect(keys((await getPage(t, '/data', { limit: 100, offset: 0, cursor: first.next_cursor! })).items)).toEqual(order.slice(1600, 1700));
      });

      it('type= and the typed views list only their type, with the same paging', async () => {
        for (const [path, params, expected, limit] of [
          ['/data', { type: 'customer' }, customers, 500],
          ['/data', { type: 'campaign' }, campaigns, 1000],
          ['/customers', {}, customers, 700],
          ['/campaigns', {}, campaigns, 333],
          // The typed views have no type filter: a stray one changes nothing.
          ['/customers', { type: 'campaign' }, customers, 1000],
        ] as const) {
          const w = await walk(t, path, { ...params, limit });
          expect(keys(w.items), `${path} ${JSON.stringify(params)}`).toEqual(expected);
          for (const p of w.pages) expect(p.total).toBe(expected.length);
        }
        const tail = await getPage(t, '/customers', { offset: 1790, limit: 50 });
        expect(keys(tail.items)).toEqual(customers.slice(1790));
        expect(tail).toMatchObject({ total: 1800, offset: 1790, limit: 50, next_cursor: null });
        const first = await getPage(t, '/campaigns');
        expect(first).toMatchObject({ total: 1200, limit: 50 });
        expect(keys(first.items)).toEqual(campaigns.slice(0, 50));
        const second = await getPage(t, '/campaigns', { cursor: first.next_cursor! });
        expect(keys(second.items)).toEqual(campaigns.slice(50, 100));
      });

      it('cursors that this service did not issue are a 422 naming /query/cursor', async () => {
        const garbage = [
          'garbage!',
          'not-a-cursor',
          'AAAA',
          'eyJyIjoxfQ==', // {"r":1} with padding: not base64url as issued
          'eyJyIjox+Q', // '+' is not base64url
          b64('null'),
          b64('[1]'),
          b64('"x"'),
          b64('{}'),
          b64('{"r":-1}'),
          b64('{"r":1.5}'),
          b64('{"r":"1"}'),
          b64('{"u":1}'),
          b64('{"r":1,"u":"x"}'),
          b64('{"r":1,"u":null}'),
          b64('{"r":1e300}'),
          'x'.repeat(201),
        ];
        for (const cursor of garbage) {
          const q = `cursor=${encodeURIComponent(cursor)}`;
          await expect422(t, `/data?${q}`, '/query/cursor');
          await expect422(t, `/customers?${q}`, '/query/cursor');
          await expect422(t, `/data?updated_since=${EPOCH}&${q}`, '/query/cursor');
        }
        await expect422(t, '/data?cursor=', '/query/cursor');
      });

      it('a row-order cursor with updated_since, and a cursor with offset > 0, are 422', async () => {
        const rowCursor = (await getPage(t, '/data', { limit: 10 })).next_cursor!;
        await expect422(t, url('/data', { updated_since: EPOCH, cursor: rowCursor }), '/query/cursor');
        await expect422(t, url('/campaigns', { updated_since: EPOCH, cursor: rowCursor }), '/query/cursor');
        await expect422(t, url('/data', { offset: 10, cursor: rowCursor }), '/query/offset');
        const feedCursor = (await getPage(t, '/data', { limit: 10, updated_since: EPOCH })).next_cursor!;
        await expect422(t, url('/data', { updated_since: EPOCH, offset: 1, cursor: feedCursor }), '/query/offset');
      });

      it('updated_since takes every RFC 3339 spelling the schema accepts, and refuses the rest', async () => {
        const t1 = batchTimes[1]!;
        const later = order.slice(1000);
        expect(batchTimes[0]).toBeLessThan(t1);
        expect(t1).toBeLessThan(batchTimes[2]!);
        const same = [
          new Date(t1).toISOString(),
          withOffset(t1, 330),
          withOffset(t1, -480),
          withOffset(t1, 60, 'compact'),
          withOffset(t1, 60, 'hours'), // "+01": Date.parse cannot read it
          new Date(t1).toISOString().replace('T', ' '),
          new Date(t1).toISOString().replace('T', 't').replace('Z', 'z'),
          new Date(t1).toISOString().replace('Z', '000Z'), // microseconds, all zero
        ];
        const w = await walk(t, '/data', { updated_since: same[0], limit: 1000 });
        expect(w.pages[0]!.total).toBe(2000);
        expect(keys(w.items)).toEqual(later);
        for (const since of same) {
          const page = await getPage(t, '/data', { updated_since: since, limit: 1, offset: 1999 });
          expect(page.total, since).toBe(2000);
          expect(keys(page.items), since).toEqual(later.slice(1999));
          expect(keys((await getPage(t, '/data', { updated_since: since, limit: 2 })).items), since).toEqual(later.slice(0, 2));
        }
        // A fraction past the millisecond is after every change stored at that millisecond.
        const past = new Date(t1).toISOString().replace('Z', '0001Z');
        expect((await getPage(t, '/data', { updated_since: past, limit: 1 })).total).toBe(1000);
        // Leap seconds are valid RFC 3339 (Date.parse gives NaN for them).
        for (const leap of ['2016-12-31T23:59:60Z', '2017-01-01T00:59:60+01:00', '1998-12-31T23:59:60.5Z']) {
          expect((await getPage(t, '/data', { updated_since: leap, limit: 1 })).total, leap).toBe(3000);
        }
        expect((await getPage(t, '/data', { updated_since: '9999-12-31T23:59:59Z' })).total).toBe(0);
        for (const bad of ['yesterday', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T00:00:00', '2026-01-01', '1767225600000']) {
          await expect422(t, url('/data', { updated_since: bad }), '/query/updated_since');
        }
      });
    });

    describe('walking while records arrive', () => {
      let db: ScratchDatabase;
      let t: TestApp;
      const state = new Map<string, Rec>();
      const put = (...recs: Rec[]) => {
        for (const r of recs) state.set(keyOf(r), r);
        return write(t, recs.map(payload));
      };
      const rename = (k: string, name: string): Rec => ({ ...state.get(k)!, name });

      beforeAll(async () => {
        ({ db, t } = await fresh(engine));
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('row order: every record there at the start is seen exactly once, and the new ones after them', async () => {
        const originals: string[] = [];
        for (let b = 0; b < 2; b++) {
          const recs = Array.from({ length: 500 }, (_, i): Rec => {
            const n = b * 500 + i;
            return { type: n % 2 ? 'campaign' : 'customer', id: `r-${n}`, source: 'webhook', name: 'v0' };
          });
          expect(new Set(results(await put(...recs)))).toEqual(new Set(['created']));
          originals.push(...recs.map(keyOf));
        }
        const created: string[] = [];
        const seen = new Set<string>();
        let round = 0;
        const w = await walk(
          t,
          '/data',
          { limit: 100 },
          {
            between: async (page) => {
              round++;
              // Each item shows the record as it is when its page is read.
              for (const item of page.items) {
                seen.add(key(item));
                expect(item.name, key(item)).toBe(state.get(key(item))!.name);
              }
              const ahead = originals.filter((k) => !seen.has(k));
              const behind = originals.filter((k) => seen.has(k));
              const fresh = Array.from({ length: 15 }, (_, j): Rec => ({
                type: j % 2 ? 'customer' : 'campaign',
                id: `n-${round}-${j}`,
                source: 'webhook',
                name: 'new',
              }));
              const changes = [
                ...behind.slice(-5).map((k) => rename(k, `v${round}`)),
                ...ahead.slice(0, 5).map((k) => rename(k, `v${round}`)),
                ...ahead.slice(-5).map((k) => rename(k, `v${round}`)),
              ];
              const noops = [...behind.slice(0, 3), ...ahead.slice(10, 13)].map((k) => state.get(k)!);
              const applied = await put(...fresh, ...changes, ...noops);
              expect(results(applied)).toEqual([...fresh.map(() => 'created'), ...changes.map(() => 'updated'), ...noops.map(() => 'unchanged')]);
              created.push(...fresh.map(keyOf));
            },
          },
        );
        expect(round).toBeGreaterThan(9);
        expect(keys(w.items)).toEqual([...originals, ...created]);
        for (const item of w.pages.at(-1)!.items) expect(item.name, key(item)).toBe(state.get(key(item))!.name);
        // total follows the table as it grows: 15 more before each page.
        expect(w.pages.map((p) => p.total)).toEqual(w.pages.map((_, i) => 1000 + 15 * i));
      });

      // The feed tests below see only their own records: everything they write is later than `since`.
      let since = '';
      let bookmark: string | null = null;
      const feedKeys: string[] = [];

      it('change feed: walked while records change, each record is seen again only after a real change', async () => {
        for (let b = 0; b < 4; b++) {
          const recs = Array.from({ length: 100 }, (_, i): Rec => {
            const n = b * 100 + i;
            return { type: n % 3 ? 'customer' : 'campaign', id: `f-${n}`, source: 'webhook', name: 'v0', ts: '2026-01-01T00:00:00Z' };
          });
          await put(...recs);
          feedKeys.push(...recs.map(keyOf));
        }
        since = ((await t.app.inject('/campaigns/f-0')).json() as Item).updated_at;

        // How often each record must appear: once, plus once for each real change made
        // while the walker was already past it. `pending`: its current version is still ahead.
        const expected = new Map(feedKeys.map((k) => [k, 1]));
        const pending = new Set(feedKeys);
        const actual = new Map<string, number>();
        const seenInOrder: Item[] = [];
        const take = (page: Page) => {
          for (const item of page.items) {
            const k = key(item);
            actual.set(k, (actual.get(k) ?? 0) + 1);
            pending.delete(k);
            seenInOrder.push(item);
            expect(item.name, k).toBe(state.get(k)!.name);
          }
        };
        let round = 0;
        const w = await walk(
          t,
          '/data',
          { updated_since: since, limit: 40 },
          {
            between: async (page) => {
              take(page);
              // A feed with changes between every two pages never ends: stop changing after ten.
              if (round === 10) return;
              round++;
              const seen = [...actual.keys()].filter((k) => !pending.has(k));
              const ahead = [...pending];
              // Near the end few records are still ahead: change those only while there are enough.
              const aheadUpdates = ahead.length >= 3 ? [ahead[0]!, ahead.at(-1)!] : [];
              const updates = [seen[0]!, seen.at(-1)!, ...aheadUpdates].map((k) => rename(k, `v${round}`));
              const noops = [seen[1]!, seen.at(-2)!, ...(ahead.length >= 3 ? [ahead[1]!] : [])].map((k) => state.get(k)!);
              const newerSameContent = { ...state.get(seen[2]!)!, ts: `2027-01-${String(round).padStart(2, '0')}T00:00:00Z` };
              const stale = { ...state.get(seen[3]!)!, name: 'stale', ts: '2025-01-01T00:00:00Z' };
              const created = [0, 1].map((j): Rec => ({ type: j ? 'campaign' : 'customer', id: `fn-${round}-${j}`, source: 'webhook', name: 'new' }));
              const applied = await write(t, [...updates, ...noops, newerSameContent, stale, ...created].map(payload));
              expect(results(applied)).toEqual([...updates.map(() => 'updated'), ...noops.map(() => 'unchanged'), 'unchanged', 'stale', 'created', 'created']);
              for (const r of [...updates, newerSameContent, ...created]) state.set(keyOf(r), r);
              for (const r of updates) {
                const k = keyOf(r);
                if (!pending.has(k)) expected.set(k, (expected.get(k) ?? 0) + 1);
                pending.add(k);
              }
              for (const r of created) {
                expected.set(keyOf(r), 1);
                pending.add(keyOf(r));
              }
            },
          },
        );
        bookmark = w.bookmark;
        take(w.pages.at(-1)!);
        expect(round).toBe(10);
        expect(pending.size).toBe(0);
        expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected));
        // (updated_at, id) order: updated_at never goes back along the walk.
        const times = seenInOrder.map((i) => Date.parse(i.updated_at));
        expect(times).toEqual([...times].sort((a, b) => a - b));
        // total on the first page only; continuation pages of the feed answer null.
        expect(w.pages[0]!.total).toBe(400);
        expect(w.pages.slice(1).map((p) => p.total)).toEqual(w.pages.slice(1).map(() => null));
        // Every page with items hands out a bookmark, the last one too; the empty page after it does not.
        expect(w.pages.at(-1)).toMatchObject({ items: [], next_cursor: null, total: null });
        expect(w.pages.slice(0, -1).every((p) => p.items.length > 0 && typeof p.next_cursor === 'string')).toBe(true);
      });

      it('change feed: a client polling with its bookmark sees every later change, and no no-op write', async () => {
        expect(bookmark).not.toBeNull();
        // Records with a sender timestamp, so an older one is refused as stale.
        const pool = feedKeys.filter((k) => state.get(k)!.ts !== undefined);
        for (let round = 1; round <= 3; round++) {
          // One change per transaction: each gets its own, later updated_at.
          const changed: string[] = [];
          const step = async (r: Rec, result: WriteResult) => {
            expect(results(await write(t, [payload(r)])), keyOf(r)).toEqual([result]);
            if (result !== 'stale') state.set(keyOf(r), r);
            if (result !== 'stale' && result !== 'unchanged') changed.push(keyOf(r));
            return keyOf(r);
          };
          const [a, b, c, d, e, f, g] = [1, 2, 3, 4, 5, 6, 7].map((i) => pool[(i * 37 + round * 11) % pool.length]!);
          const now = (k: string) => state.get(k)!;
          await step({ ...now(a!), name: `poll-${round}-a` }, 'updated');
          await step(now(b!), 'unchanged');
          await step({ ...now(c!), name: `poll-${round}-c` }, 'updated');
          await step({ ...now(d!), ts: `2028-0${round}-01T00:00:00Z` }, 'unchanged');
          await step({ ...now(e!), name: 'stale', ts: '2024-01-01T00:00:00Z' }, 'stale');
          const gone = await step({ ...now(f!), deleted: true }, 'deleted');
          pool.splice(pool.indexOf(gone), 1);
          await step({ type: 'customer', id: `poll-${round}`, source: 'webhook', name: 'new' }, 'created');
          await step(now(g!), 'unchanged');
          await step({ ...now(a!), name: `poll-${round}-z` }, 'updated'); // a second change to the first one
          await step({ type: 'campaign', id: `poll-${round}`, source: 'crm', name: 'new' }, 'created');

          // Each changed record once, at its last change; the no-op, newer-timestamp and stale writes not at all.
          const expectedAll = changed.filter((k, i) => changed.lastIndexOf(k) === i);
          expect(expectedAll).toHaveLength(5);
          const expectedLive = expectedAll.filter((k) => k !== gone);
          // Without include_deleted the tombstone is not in the feed; with it, it is, in its place.
          const live = await walk(t, '/data', { updated_since: since, limit: 4 }, { from: bookmark });
          expect(keys(live.items)).toEqual(expectedLive);
          for (const p of live.pages) expect(p.total).toBeNull();
          expect(live.items.find((i) => key(i) === a)?.name).toBe(`poll-${round}-z`);

          const all = await walk(t, '/data', { updated_since: since, limit: 4, include_deleted: true }, { from: bookmark });
          expect(keys(all.items)).toEqual(expectedAll);
          expect(all.items.find((i) => key(i) === gone)?.deleted_at).toEqual(expect.stringMatching(ISO_MS));

          // Nothing new: an empty page, and the client keeps its bookmark.
          expect(await getPage(t, '/data', { updated_since: since, cursor: all.bookmark! })).toEqual({
            items: [],
            total: null,
            offset: 0,
            limit: 50,
            next_cursor: null,
          });
          bookmark = all.bookmark;
        }
      });

      it('change feed: a feed that fits on one page still hands out a bookmark', async () => {
        const solo = [0, 1, 2].map((i): Rec => ({ type: 'customer', id: `solo-${i}`, source: 'solo', name: 'v0' }));
        await put(...solo);
        const first = await getPage(t, '/data', { updated_since: EPOCH, source: 'solo', limit: 1000 });
        expect(keys(first.items)).toEqual(solo.map(keyOf));
        expect(first.total).toBe(3);
        expect(typeof first.next_cursor).toBe('string');
        await put(rename('customer/solo-1', 'v1'));
        await put(state.get('customer/solo-2')!); // no-op
        const poll = await getPage(t, '/data', { updated_since: EPOCH, source: 'solo', limit: 1000, cursor: first.next_cursor! });
        expect(keys(poll.items)).toEqual(['customer/solo-1']);
        expect(poll.items[0]!.name).toBe('v1');
        expect(poll.total).toBeNull();
        // The typed view's feed behaves the same.
        const view = await getPage(t, '/customers', { updated_since: EPOCH, source: 'solo', cursor: first.next_cursor! });
        expect(keys(view.items)).toEqual(['customer/solo-1']);
      });
    });

    describe('filters: type, source, updated_since, include_deleted and their combinations', () => {
      let db: ScratchDatabase;
      let t: TestApp;
      /** What each record should look like to a reader. */
      interface Model {
        key: string;
        type: RecordType;
        source: string;
        deleted: boolean;
        /** The batch of its last real change: its place in the change feed. */
        batch: number;
        /** Its place in row order. */
        created: number;
      }
      const model = new Map<string, Model>();
      const batchAt: number[] = [];
      let created = 0;
      const rec = (type: RecordType, id: string, source: string, name = id, deleted = false): Rec => ({ type, id, source, name, deleted });
      const c = (id: string, source: string, name?: string, deleted?: boolean) => rec('customer', id, source, name, deleted);
      const k = (id: string, source: string, name?: string, deleted?: boolean) => rec('campaign', id, source, name, deleted);

      async function batch(writes: Array<[Rec, WriteResult]>): Promise<void> {
        const b = batchAt.length;
        const applied = await write(
          t,
          writes.map(([r]) => payload(r)),
        );
        expect(results(applied), `batch ${b}`).toEqual(writes.map(([, result]) => result));
        let witness = '';
        for (const [r, result] of writes) {
          if (result === 'unchanged' || result === 'stale') continue;
          const before = model.get(keyOf(r));
          model.set(keyOf(r), {
            key: keyOf(r),
            type: r.type,
            source: r.source,
            deleted: r.deleted ?? false,
            batch: b,
            created: before ? before.created : created++,
          });
          witness = keyOf(r);
        }
        const [type, id] = witness.split('/') as [RecordType, string];
        const res = await t.app.inject(`/${type}s/${encodeURIComponent(id)}?include_deleted=true`);
        batchAt.push(Date.parse((res.json() as Item).updated_at));
      }

      beforeAll(async () => {
        ({ db, t } = await fresh(engine));
        const ids = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);
        const news = (recs: Rec[]) => recs.map((r): [Rec, WriteResult] => [r, 'created']);
        await batch(news([...ids('cc', 6).map((id) => c(id, 'crm')), ...ids('kc', 4).map((id) => k(id, 'crm'))]));
        await batch(news([...ids('cm', 6).map((id) => c(id, 'marketing')), ...ids('km', 4).map((id) => k(id, 'marketing'))]));
        await batch(news([...ids('cw', 4).map((id) => c(id, 'webhook')), ...ids('kw', 3).map((id) => k(id, 'webhook'))]));
        await batch([
          [c('cc0', 'crm', 'cc0', true), 'deleted'],
          [c('cm1', 'marketing', 'cm1', true), 'deleted'],
          [k('km0', 'marketing', 'km0', true), 'deleted'],
          [c('cc6', 'crm', 'born deleted', true), 'deleted'], // a tombstone for a record never seen before
        ]);
        await batch([
          [c('cc1', 'crm', 'renamed'), 'updated'],
          [k('kc0', 'crm', 'renamed'), 'updated'],
          [c('cw1', 'webhook', 'renamed'), 'updated'],
          [c('cc2', 'crm'), 'unchanged'],
          [c('cc3', 'marketing'), 'updated'], // moves from crm to marketing
          [c('cm1', 'marketing', 'cm1', true), 'unchanged'], // already a tombstone
        ]);
        await batch([
          [c('cc0', 'crm', 'back'), 'updated'], // back from the dead
          [k('kw2', 'webhook', 'kw2', true), 'deleted'],
        ]);
        expect(batchAt).toEqual([...batchAt].sort((a, b) => a - b));
        expect(new Set(batchAt).size).toBe(6);
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('totals, spelled out', async () => {
        const total = async (path: string, params: Params = {}) => (await getPage(t, path, { ...params, limit: 1 })).total;
        expect(await total('/data')).toBe(24);
        expect(await total('/data', { include_deleted: true })).toBe(28);
        expect(await total('/data', { include_deleted: false })).toBe(24);
        expect(await total('/customers')).toBe(15); // 17 customers, cm1 and cc6 deleted, cc0 back
        expect(await total('/customers', { include_deleted: true })).toBe(17);
        expect(await total('/campaigns')).toBe(9);
        expect(await total('/data', { source: 'crm' })).toBe(9); // cc0-2, cc4-5, kc0-3 (cc3 moved)
        expect(await total('/data', { source: 'crm', include_deleted: true })).toBe(10);
        expect(await total('/data', { source: 'marketing', type: 'customer' })).toBe(6); // cm0, cm2-5, cc3
        expect(await total('/campaigns', { source: 'webhook', include_deleted: true })).toBe(3);
        expect(await total('/data', { source: 'nowhere', include_deleted: true })).toBe(0);
        expect(await total('/data', { updated_since: new Date(batchAt[3]!).toISOString() })).toBe(5); // cc1, kc0, cw1, cc3, cc0
        expect(await total('/data', { updated_since: new Date(batchAt[3]!).toISOString(), include_deleted: true })).toBe(9); // and cm1, km0, cc6, kw2
        expect(await total('/data', { updated_since: new Date(batchAt[5]! + 1).toISOString(), include_deleted: true })).toBe(0);
      });

      const views: Array<[string, Params, RecordType | undefined]> = [
        ['/data', {}, undefined],
        ['/data', { type: 'campaign' }, 'campaign'],
        ['/customers', {}, 'customer'],
        ['/campaigns', {}, 'campaign'],
      ];
      const sources = [undefined, 'crm', 'marketing', 'webhook', 'nowhere'];
      for (const [path, viewParams, type] of views) {
        it(`${url(path, viewParams)}: every combination of source, updated_since and include_deleted lists exactly the matching records`, async () => {
          const sinces: Array<[string | undefined, number]> = [
            [undefined, 0],
            [new Date(batchAt[1]!).toISOString(), 1],
            [withOffset(batchAt[3]!, 330), 3], // the same instant, written in +05:30
            [new Date(batchAt[5]! + 1).toISOString(), 6],
          ];
          for (const source of sources) {
            for (const [updated_since, fromBatch] of sinces) {
              for (const include_deleted of [undefined, true, ...(updated_since === undefined && source === undefined ? [false] : [])]) {
                const params: Params = { ...viewParams, source, updated_since, include_deleted, limit: 6 };
                const what = url(path, params);
                const matching = [...model.values()].filter(
                  (m) =>
                    (type === undefined || m.type === type) &&
                    (source === undefined || m.source === source) &&
                    m.batch >= fromBatch &&
                    (include_deleted === true || !m.deleted),
                );
                const feed = updated_since !== undefined;
                matching.sort((a, b) => (feed ? a.batch - b.batch : 0) || a.created - b.created);
                const w = await walk(t, path, params);
                expect(keys(w.items), what).toEqual(matching.map((m) => m.key));
                expect(w.pages[0]!.total, what).toBe(matching.length);
                for (const p of w.pages.slice(1)) expect(p.total, what).toBe(feed ? null : matching.length);
                for (const item of w.items) expect(item.deleted_at === null, what).toBe(!model.get(key(item))!.deleted);
                if (path === '/data' && include_deleted !== false) {
                  const slice = await getPage(t, path, { ...params, offset: 2, limit: 3 });
                  expect(keys(slice.items), `${what} offset 2`).toEqual(matching.slice(2, 5).map((m) => m.key));
                  expect(slice.total, what).toBe(matching.length);
                }
              }
            }
          }
        });
      }
    });

    describe('one record by external_id', () => {
      let db: ScratchDatabase;
      let t: TestApp;
      const ids = ['plain', 'with space', 'a/b', 'x/y/z', 'café', 'naïve 中文 🚀', '100%', 'a+b', 'q?x=1&y=2#frag', 'semi;colon', 'tab\there', 'a'.repeat(255)];

      beforeAll(async () => {
        ({ db, t } = await fresh(engine));
        const res = await postWebhook(t.app, {
          customer: ids.map((external_id, i) => ({ external_id, id: i, name: `C ${i}` })),
          campaign: [{ external_id: 'a/b', name: 'Campaign a/b', budget: 1 }],
        });
        expect(res.statusCode, res.body).toBe(200);
        await write(t, [
          payload({ type: 'customer', id: 'gone/1', source: 'crm', name: 'Gone' }),
          payload({ type: 'campaign', id: 'gone camp', source: 'marketing', name: 'Gone too' }),
        ]);
        expect(
          results(
            await write(t, [
              payload({ type: 'customer', id: 'gone/1', source: 'crm', name: 'Gone', deleted: true }),
              payload({ type: 'campaign', id: 'gone camp', source: 'marketing', name: 'Gone too', deleted: true }),
            ]),
          ),
        ).toEqual(['deleted', 'deleted']);
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('ids with spaces, slashes (%2F), unicode and other URL-special characters round-trip', async () => {
        for (const [i, id] of ids.entries()) {
          const res = await t.app.inject(`/customers/${encodeURIComponent(id)}`);
          expect(res.statusCode, `${id}: ${res.body}`).toBe(200);
          expect(res.json()).toMatchObject({ type: 'customer', external_id: id, id: i, name: `C ${i}`, deleted_at: null });
        }
        // The same key in the other type is another record.
        expect((await t.app.inject('/campaigns/a%2Fb')).json()).toMatchObject({ type: 'campaign', external_id: 'a/b', budget: 1 });
        // A literal '+' is a plus, not a space.
        expect((await t.app.inject('/customers/a+b')).json()).toMatchObject({ external_id: 'a+b' });
        // And /data shows the ids as stored.
        const listed = await walk(t, '/customers', { limit: 1000 });
        expect(listed.items.map((i) => i.external_id)).toEqual(ids);
      });

      it('unknown ids, and ids of the other type, are 404 problem JSON', async () => {
        for (const u of ['/customers/nobody', '/campaigns/plain', '/campaigns/caf%C3%A9', '/customers/A%2FB', `/customers/${'b'.repeat(255)}`]) {
          const res = await t.app.inject(u);
          expect(res.statusCode, u).toBe(404);
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(res.json()).toMatchObject({ status: 404, type: '/problems/not-found' });
        }
        await expect422(t, `/customers/${'a'.repeat(256)}`, '/path/external_id');
      });

      it('a tombstone is 404 unless include_deleted=true', async () => {
        for (const [path, id] of [
          ['/customers', 'gone/1'],
          ['/campaigns', 'gone camp'],
        ] as const) {
          const u = `${path}/${encodeURIComponent(id)}`;
          expect((await t.app.inject(u)).statusCode, u).toBe(404);
          expect((await t.app.inject(`${u}?include_deleted=false`)).statusCode, u).toBe(404);
          const res = await t.app.inject(`${u}?include_deleted=true`);
          expect(res.statusCode, u).toBe(200);
          expect(res.json()).toMatchObject({ external_id: id, deleted_at: expect.stringMatching(ISO_MS) });
          await expect422(t, `${u}?include_deleted=maybe`, '/query/include_deleted');
        }
        // A live record is there with include_deleted=true too.
        expect((await t.app.inject('/customers/plain?include_deleted=true')).statusCode).toBe(200);
        await expect422(t, '/data?include_deleted=maybe', '/query/include_deleted');
      });

      it('a malformed percent-encoding is a 400, not a 500', async () => {
        for (const u of ['/customers/%E0%A4%A', '/customers/a%2']) {
          const res = await t.app.inject(u);
          expect(res.statusCode, u).toBe(400);
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        }
      });
    });
  });
}

describe('out-of-range times', () => {
  // A declared source whose epoch_ms `updated_at` is past what a JS Date holds
  // (8.64e15 ms): the sync stores it as source_updated_at (a BIGINT takes it),
  // and from then on every listing page that holds that record answers 500.
  for (const engine of ENGINES) {
    describe(`an out-of-range source_updated_at on ${engine.name}`, () => {
      let db: ScratchDatabase;
      let t: TestApp;
      let server: Upstream;
      const files = scratchDir();

      beforeAll(async () => {
        server = await startUpstream((_req, res) =>
          sendJson(res, 200, [
            { id: 'ok-1', name: 'Fine', modified: 1_767_225_600_000 },
            { id: 'far', name: 'Far future', modified: 1e16 },
          ]),
        );
        const url = server.url;
        const file = writeSourcesFile(files.dir, 'sources.json', {
          sources: {
            acme: {
              type: 'customer',
              base_url: url,
              path: '/items',
              mapping: { external_id: 'id', name: 'name', updated_at: 'modified', updated_at_format: 'epoch_ms' },
            },
          },
        });
        db = await engine.create();
        t = await startApp(db, { SOURCES_FILE: file });
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
        await server?.close();
        files.remove();
      });

      it('the sync succeeds, and the records it stored can be listed and read', async () => {
        const task = await runSync(t.app, 'acme');
        expect(task.status, task.error ?? '').toBe('succeeded');
        for (const u of ['/data', '/customers', '/customers/far', '/data?source=acme']) {
          const res = await t.app.inject(u);
          expect(res.statusCode, `${u}: ${res.body}`).toBe(200);
        }
      });

      it('a webhook updated_at the schema accepts but UTC cannot write (year 0000, with an offset) reads back as null, not a malformed date-time', async () => {
        const w = await postWebhook(t.app, { customer: { external_id: 'year-zero', updated_at: '0000-01-01T00:00:00+00:01' } });
        expect(w.statusCode, w.body).toBe(200);
        const res = await t.app.inject('/customers/year-zero');
        expect(res.statusCode, res.body).toBe(200);
        expect((res.json() as { source_updated_at: string | null }).source_updated_at).toBeNull();
      });
    });
  }
});
