import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const CAP = 64 * 1024;
const LARGE = 20 * 1024;

interface Page {
  items: Array<Record<string, unknown>>;
  next_cursor: string | null;
}

const text = (n: number, seed: string) => seed.repeat(Math.ceil(n / seed.length)).slice(0, n);

for (const engine of ENGINES) {
  describe(`PAGE_MAX_BYTES on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    const customers: string[] = [];
    const campaigns: string[] = [];

    const get = async (url: string): Promise<{ page: Page; bytes: number }> => {
      const res = await t.app.inject({ url });
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
      return { page: res.json() as Page, bytes: Buffer.byteLength(res.body) };
    };

    /** Follows next_cursor from `first` to the end; every page's answer stays near the cap. */
    const walk = async (path: string, key: (item: Record<string, unknown>) => string, first = `${path}${path.includes('?') ? '&' : '?'}limit=500`) => {
      const seen: string[] = [];
      let url: string | null = first;
      let pages = 0;
      while (url) {
        const { page, bytes } = await get(url);
        // One item may pass the cap alone (the first always comes); more than that never come together.
        if (page.items.length > 1) expect(bytes).toBeLessThan(CAP + 8 * 1024);
        seen.push(...page.items.map(key));
        pages++;
        url = page.next_cursor ? `${path}${path.includes('?') ? '&' : '?'}limit=500&cursor=${page.next_cursor}` : null;
        if (page.items.length === 0) break;
      }
      return { seen, pages };
    };

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { PAGE_MAX_BYTES: '64kb' });
      // Large and small records mixed, and one larger than the cap by itself.
      for (let batch = 0; batch < 3; batch++) {
        const items = Array.from({ length: 10 }, (_, i) => {
          const n = batch * 10 + i;
          const size = n === 13 ? 3 * CAP : n % 3 === 0 ? 40 : LARGE;
          return { external_id: `pb_c${String(n).padStart(2, '0')}`, notes: text(size, `c${n}-`) };
        });
        customers.push(...items.map((c) => c.external_id));
        expect((await postWebhook(t.app, { customer: items })).statusCode).toBe(200);
      }
      const big = Array.from({ length: 8 }, (_, i) => ({ external_id: `pb_k${i}`, name: `k${i}`, details: { copy: text(LARGE, `k${i}-`) } }));
      campaigns.push(...big.map((c) => c.external_id));
      expect((await postWebhook(t.app, { campaign: big })).statusCode).toBe(200);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('a page over large records stops early with a cursor, far below its limit', async () => {
      const { page } = await get('/data?limit=500');
      expect(page.items.length).toBeGreaterThanOrEqual(1);
      expect(page.items.length).toBeLessThan(10);
      expect(page.next_cursor).not.toBeNull();
    });

    it('a record larger than the cap comes alone, and the walk goes past it', async () => {
      const { seen, pages } = await walk('/customers', (i) => i.external_id as string);
      expect(seen).toEqual(customers);
      expect(pages).toBeGreaterThan(5);
    });

    it('GET /data, in row order and as a change feed, returns every record exactly once', async () => {
      const all = [...customers, ...campaigns];
      const rows = await walk('/data', (i) => `${i.type as string}:${i.external_id as string}`);
      expect(rows.seen.sort()).toEqual(all.map((id) => `${id.startsWith('pb_c') ? 'customer' : 'campaign'}:${id}`).sort());
      const feed = await walk('/data?updated_since=2000-01-01T00:00:00Z', (i) => i.external_id as string);
      expect(feed.seen.sort()).toEqual([...all].sort());
      expect(new Set(feed.seen).size).toBe(all.length);
    });

    it('GET /campaigns is capped too', async () => {
      const { seen, pages } = await walk('/campaigns', (i) => i.external_id as string);
      expect(seen).toEqual(campaigns);
      expect(pages).toBeGreaterThan(2);
    });

    it('an offset page stops early too, and its cursor goes on from there', async () => {
      const { page } = await get('/customers?offset=1&limit=500');
      expect(page.items[0]?.external_id).toBe(customers[1]);
      expect(page.items.length).toBeLessThan(customers.length - 1);
      expect(page.next_cursor).not.toBeNull();
      const rest = await walk('/customers', (i) => i.external_id as string, `/customers?limit=500&cursor=${page.next_cursor}`);
      expect([...page.items.map((i) => i.external_id as string), ...rest.seen]).toEqual(customers.slice(1));
    });

    it('GET /webhooks/events stops early over large bodies and its walk lists every delivery once', async () => {
      const ids = await t.store.db.selectFrom('webhook_inbox').select('id').orderBy('id', 'desc').execute();
      expect(ids.length).toBe(4);
      for (let i = 0; i < 8; i++) {
        const res = await postWebhook(t.app, { customer: { external_id: `pb_w${i}`, notes: text(LARGE, `w${i}-`) } }, { 'webhook-id': `pb-w-${i}` });
        expect(res.statusCode).toBe(200);
      }
      // Repeats show their first copy's body, and are sized with it.
      for (let i = 0; i < 4; i++) expect((await postWebhook(t.app, { customer: { external_id: 'pb_w0' } }, { 'webhook-id': 'pb-w-0' })).statusCode).toBe(200);
      const all = await t.store.db.selectFrom('webhook_inbox').select('id').orderBy('id', 'desc').execute();
      const { page } = await get('/webhooks/events?limit=500');
      expect(page.items.length).toBeLessThan(8);
      expect(page.next_cursor).not.toBeNull();
      const { seen } = await walk('/webhooks/events', (i) => String(i.id));
      expect(seen).toEqual(all.map((r) => String(r.id)));
    });
  });
}
