import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload, type RecordType, type RecordWrite } from '../../src/domain/records.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { errorPaths, expectProblem, startApp, storedSnapshot, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

// GET /data, /customers and /campaigns with email= and q=, on each engine.

interface Item {
  type: RecordType;
  external_id: string;
  source: string;
  name?: string | null;
  email?: string | null;
  deleted_at: string | null;
}

interface Page {
  items: Item[];
  total: number | null;
  total_at_least?: boolean;
  next_cursor: string | null;
}

const customer = (external_id: string, name: string | null, email: string | null, source = 'webhook'): RecordWrite =>
  recordFromPayload('customer', { external_id, name, email }, source);
const campaign = (external_id: string, name: string, source = 'webhook'): RecordWrite => recordFromPayload('campaign', { external_id, name }, source);
const deleted = (w: RecordWrite): RecordWrite => ({ ...w, deleted: true });

/** A small set where each search below has a known answer. */
const FIXTURE: RecordWrite[] = [
  customer('cust_1', 'John Doe', 'John.Doe@Example.com'),
  customer('cust_2', 'Johanna Smith', 'jsmith@example.com', 'crm'),
  customer('CUST_3', 'Mary Major', 'mary@example.org', 'crm'),
  customer('hub-77', 'Zed', 'zed@example.net', 'marketing'),
  customer('cust_4', null, null),
  deleted(customer('cust_5', 'John Gone', 'gone@example.com')),
  campaign('camp_1', 'Johnny Summer Sale'),
  campaign('cust_like_campaign', 'Winter', 'crm'),
  campaign('camp_2', '100% off_now'),
];

/** Bulk records that all match q=bulk: past the 1000 cap. */
const BULK = 1210;
const bulk = (i: number): RecordWrite => customer(`bulk_${String(i).padStart(5, '0')}`, `Bulk ${i}`, `bulk.${i}@example.com`, i % 2 === 0 ? 'crm' : 'webhook');

const keyOf = (i: Item) => `${i.type}/${i.external_id}`;

for (const engine of ENGINES) {
  describe(`record search (${engine.name})`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
      await inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, FIXTURE));
      const rest: RecordWrite[] = [];
      for (let i = 0; i < BULK; i++) rest.push(bulk(i));
      // Some deleted among the bulk, and a few unrelated records interleaved.
      for (let i = 0; i < BULK; i += 97) rest[i] = deleted(rest[i] as RecordWrite);
      for (let i = 0; i < 40; i++) rest.push(campaign(`other_${i}`, `Other ${i}`, 'marketing'));
      await inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, rest));
    }, 60_000);

    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    async function get(url: string): Promise<Page> {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, `${url}: ${res.body.slice(0, 300)}`).toBe(200);
      return res.json() as Page;
    }

    /** Every page of a search, following next_cursor; asserts the totals agree on every page. */
    async function walk(url: string, limit: number): Promise<{ items: Item[]; pages: Page[] }> {
      const items: Item[] = [];
      const pages: Page[] = [];
      let cursor: string | null = null;
      for (let n = 0; n < 500; n++) {
        const page = await get(`${url}${url.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        pages.push(page);
        items.push(...page.items);
        if (!page.next_cursor) return { items, pages };
        cursor = page.next_cursor;
      }
      throw new Error(`walking ${url} does not end`);
    }

    const keys = async (url: string) => (await get(url)).items.map(keyOf);

    it('finds by email exactly, whatever the case of either side', async () => {
      expect(await keys('/data?email=john.doe@example.com')).toEqual(['customer/cust_1']);
      expect(await keys('/data?email=JOHN.DOE@EXAMPLE.COM')).toEqual(['customer/cust_1']);
      expect(await keys(`/customers?email=${encodeURIComponent('John.Doe@Example.com')}`)).toEqual(['customer/cust_1']);
      // Exact, not a prefix.
      expect(await keys('/data?email=john.doe@example.co')).toEqual([]);
      const page = await get('/data?email=mary@example.org');
      expect(page).toMatchObject({ total: 1, total_at_least: false });
      // A tombstone only with include_deleted.
      expect(await keys('/data?email=gone@example.com')).toEqual([]);
      expect(await keys('/data?email=gone@example.com&include_deleted=true')).toEqual(['customer/cust_5']);
      expect(await keys('/campaigns?email=john.doe@example.com')).toEqual([]);
    });

    it('finds by a prefix of external_id, email or name, case-insensitive', async () => {
      // external_id: "cust_" matches cust_1..4, CUST_3 (case folded) and the campaign cust_like_campaign.
      expect((await keys('/data?q=cust_')).sort()).toEqual(
        ['campaign/cust_like_campaign', 'customer/CUST_3', 'customer/cust_1', 'customer/cust_2', 'customer/cust_4'].sort(),
      );
      expect(await keys('/data?q=HUB-7')).toEqual(['customer/hub-77']);
      // email: "jsmith@" is only an email prefix; "mary@example." too.
      expect(await keys('/data?q=JSMITH@')).toEqual(['customer/cust_2']);
      expect(await keys('/data?q=mary%40example.')).toEqual(['customer/CUST_3']);
      // name: "joh" starts two customer names and a campaign's (and John Doe's email).
      expect((await keys('/data?q=joh')).sort()).toEqual(['campaign/camp_1', 'customer/cust_1', 'customer/cust_2']);
      expect(await keys('/data?q=Johnny%20S')).toEqual(['campaign/camp_1']);
      // A prefix, not a substring; % and _ are plain characters, not patterns.
      expect(await keys('/data?q=Doe')).toEqual([]);
      expect(await keys('/data?q=100%25%20off_')).toEqual(['campaign/camp_2']);
      expect(await keys('/data?q=100_')).toEqual([]);
      expect(await keys('/data?q=%25')).toEqual([]);
    });

    it('combines with type, source and include_deleted, on /data and the typed views', async () => {
      expect(await keys('/data?q=joh&type=campaign')).toEqual(['campaign/camp_1']);
      expect(await keys('/campaigns?q=joh')).toEqual(['campaign/camp_1']);
      expect((await keys('/customers?q=joh')).sort()).toEqual(['customer/cust_1', 'customer/cust_2']);
      expect(await keys('/customers?q=joh&source=crm')).toEqual(['customer/cust_2']);
      expect(await keys('/data?q=cust_&source=crm&type=campaign')).toEqual(['campaign/cust_like_campaign']);
      expect((await keys('/customers?q=john%20&include_deleted=true')).sort()).toEqual(['customer/cust_1', 'customer/cust_5']);
      expect(await keys('/customers?q=john%20')).toEqual(['customer/cust_1']);
      // email and q together: both must hold.
      expect(await keys('/data?email=john.doe@example.com&q=cust')).toEqual(['customer/cust_1']);
      expect(await keys('/data?email=john.doe@example.com&q=mary')).toEqual([]);
      const total = await get('/customers?q=joh&source=crm');
      expect(total).toMatchObject({ total: 1, total_at_least: false });
    });

    it('pages by cursor with no duplicates and no gaps, in row order, under and over the cap', async () => {
      const bulkIds = (deletedToo: boolean) =>
        Array.from({ length: BULK }, (_, i) => i)
          .filter((i) => deletedToo || i % 97 !== 0)
          .map((i) => `customer/bulk_${String(i).padStart(5, '0')}`);
      const crmIds = (deletedToo: boolean) => bulkIds(deletedToo).filter((k) => Number(k.slice(-5)) % 2 === 0);

      // Over the cap: 1197 visible matches, read in row order by filtering rows.
      const all = await walk('/data?q=BULK', 100);
      expect(all.items.map(keyOf)).toEqual(bulkIds(false));
      expect(all.pages.length).toBe(12);
      for (const p of all.pages) expect(p).toMatchObject({ total: 1000, total_at_least: true });

      // Under the cap (605 crm bulk records incl. deleted): read by row ids.
      const crm = await walk('/customers?q=bulk&source=crm&include_deleted=true', 64);
      expect(crm.items.map(keyOf)).toEqual(crmIds(true));
      for (const p of crm.pages) expect(p).toMatchObject({ total: crmIds(true).length, total_at_least: false });

      const visibleCrm = await walk('/data?q=bulk_0&source=crm&type=customer', 7);
      expect(visibleCrm.items.map(keyOf)).toEqual(crmIds(false));

      // A narrower prefix: bulk_011 matches bulk_01100..bulk_01199 (100, one of them deleted: 1164).
      const narrow = await walk('/data?q=bulk_011', 30);
      const expected = bulkIds(false).filter((k) => k.includes('bulk_011'));
      expect(narrow.items.map(keyOf)).toEqual(expected);
      expect(narrow.pages[0]).toMatchObject({ total: expected.length, total_at_least: false });
    });

    it('counts exactly up to 1000 and says "at least" past it', async () => {
      const over = await get('/data?q=bulk&limit=1');
      expect(over).toMatchObject({ total: 1000, total_at_least: true });
      expect(over.items).toHaveLength(1);
      const withDeleted = await get('/data?q=bulk&include_deleted=true&limit=1');
      expect(withDeleted).toMatchObject({ total: 1000, total_at_least: true });
      const under = await get('/data?q=bulk&source=webhook&limit=1');
      expect(under).toMatchObject({ total: 599, total_at_least: false });
      // A listing without search has no total_at_least.
      expect(await get('/data?limit=1')).not.toHaveProperty('total_at_least');
      // With a type that no match has: none.
      expect(await get('/campaigns?q=bulk')).toMatchObject({ items: [], total: 0, total_at_least: false, next_cursor: null });
    });

    it('answers 422 naming the field for a bad email, an empty or too long q, and updated_since', async () => {
      const before = await storedSnapshot(t.store);
      const cases: Array<[string, string]> = [
        ['/data?email=not-an-email', '/query/email'],
        ['/customers?email=', '/query/email'],
        ['/data?q=', '/query/q'],
        [`/campaigns?q=${'a'.repeat(201)}`, '/query/q'],
        ['/data?q=a%00b', '/query/q'],
        ['/data?q=a&updated_since=2026-01-01T00:00:00Z', '/query/updated_since'],
        ['/data?email=a@b.co&updated_since=2026-01-01T00:00:00Z', '/query/updated_since'],
      ];
      for (const [url, path] of cases) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(errorPaths(expectProblem(res, 422)), url).toEqual([path]);
      }
      // 200 characters is still fine.
      expect((await get(`/data?q=${'a'.repeat(200)}`)).items).toEqual([]);
      // A change-feed cursor is refused on a search, which is in row order.
      const feed = await get('/data?updated_since=2000-01-01T00:00:00Z&limit=1');
      const res = await t.app.inject({ method: 'GET', url: `/data?q=bulk&cursor=${feed.next_cursor}` });
      expect(errorPaths(expectProblem(res, 422))).toEqual(['/query/cursor']);
      expect(await storedSnapshot(t.store)).toBe(before);
    });
  });
}
