import { sql } from 'kysely';
import { Pool } from 'undici';
import type { DatabaseConfig } from '../../src/config.js';
import { recordFromPayload, type RecordWrite } from '../../src/domain/records.js';
import { encodeCursor } from '../../src/http/cursor.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { mean, percentile } from './stats.js';

const SOURCES = ['webhook', 'crm', 'marketing'] as const;

/**
 * Record `i` of the synthetic data set: 80% customers, 20% campaigns, the
 * three sources in turn, and 1% arriving as deletions (tombstones).
 */
function syntheticWrite(i: number): RecordWrite {
  const campaign = i % 5 === 4;
  const source = SOURCES[i % 3] as string;
  const write = campaign
    ? recordFromPayload(
        'campaign',
        {
          id: i,
          external_id: `camp_${i}`,
          name: `Campaign ${i}`,
          status: i % 2 === 0 ? 'active' : 'paused',
          budget: (i % 100) * 50,
          details: { discount: `${i % 50}%`, start_date: '2026-12-01', end_date: '2026-12-31' },
        },
        source,
      )
    : recordFromPayload('customer', { id: i, external_id: `cust_${i}`, name: `Customer ${i}`, email: `customer.${i}@example.com`, plan: 'pro' }, source);
  if (i % 100 === 99) write.deleted = true;
  return write;
}

export interface LoadStats {
  records: number;
  seconds: number;
  /** A time (ms) after the first half was written and before the second: the updated_since of the change-feed cases. */
  midpoint: number;
}

/**
 * Loads `n` records through the store's own write path (applyRecordWrites in
 * big transactions), so record_counts stays exact. Bounded by `n`.
 */
export async function loadRecordsThroughStore(config: DatabaseConfig, n: number, batch: number, progress: (done: number) => void): Promise<LoadStats> {
  const store = await openStore(config);
  const started = Date.now();
  let midpoint = 0;
  try {
    for (let from = 0; from < n; from += batch) {
      const to = Math.min(n, from + batch);
      const writes: RecordWrite[] = [];
      for (let i = from; i < to; i++) writes.push(syntheticWrite(i));
      await inWriteTransaction(store, (tx) => applyRecordWrites(tx, writes));
      if (midpoint === 0 && to >= n / 2) midpoint = Date.now() + 1;
      progress(to);
    }
    // PostgreSQL's autovacuum would analyze a table this size on its own soon after; do it now.
    if (store.dialect.name === 'postgres') await sql`analyze`.execute(store.db);
  } finally {
    await store.close();
  }
  return { records: n, seconds: (Date.now() - started) / 1000, midpoint };
}

/** Records written per change-time tick by the SQL loader, as if by transactions of that size. */
const ROWS_PER_TICK = 1000;

/**
 * Loads the same synthetic set as `syntheticWrite` (same types, sources,
 * fields, 1% tombstones) with INSERT … SELECT generated inside the engine,
 * chunk by chunk, then rebuilds record_counts from the table in the same
 * transaction so totals stay exact. Change times step every ROWS_PER_TICK
 * rows and end in the past, so later writes still move the clock forward.
 * `content_hash` is a placeholder: these rows are only read.
 */
export async function loadRecordsWithSql(config: DatabaseConfig, n: number, chunk: number, progress: (done: number) => void): Promise<LoadStats> {
  const store = await openStore(config);
  const started = Date.now();
  const base = Date.now() - Math.ceil(n / ROWS_PER_TICK) - 60_000;
  const pgEngine = store.dialect.name === 'postgres';
  const json = (text: string) => (pgEngine ? `(${text})::json` : text);
  try {
    await store.db.transaction().execute(async (trx) => {
      for (let from = 0; from < n; from += chunk) {
        const to = Math.min(n, from + chunk);
        const series = pgEngine
          ? `select i from generate_series(${from}::bigint, ${to - 1}::bigint) as g(i)`
          : `with recursive g(i) as (select ${from} union all select i + 1 from g where i < ${to - 1}) select i from g`;
        const campaign = 'i % 5 = 4';
        const at = `${base} + i / ${ROWS_PER_TICK}`;
        await sql
          .raw(
            `insert into records (type, external_id, source, sender_id, name, email, status, budget, details, attributes,
               content_hash, source_updated_at, created_at, updated_at, deleted_at)
             select
               case when ${campaign} then 'campaign' else 'customer' end,
               case when ${campaign} then 'camp_' else 'cust_' end || i,
               case i % 3 when 0 then 'webhook' when 1 then 'crm' else 'marketing' end,
               i,
               case when ${campaign} then 'Campaign ' else 'Customer ' end || i,
               case when ${campaign} then null else 'customer.' || i || '@example.com' end,
               case when ${campaign} then (case when i % 2 = 0 then 'active' else 'paused' end) else null end,
               case when ${campaign} then (i % 100) * 50.0 else null end,
               case when ${campaign} then ${json(`'{"discount":"' || (i % 50) || '%","start_date":"2026-12-01","end_date":"2026-12-31"}'`)} else null end,
               case when ${campaign} then ${json(`'{}'`)} else ${json(`'{"plan":"pro"}'`)} end,
               'bulk-' || i,
               null,
               ${at},
               ${at},
               case when i % 100 = 99 then ${at} else null end
             from (${series}) as s`,
          )
          .execute(trx);
        progress(to);
      }
      await sql`delete from record_counts`.execute(trx);
      await sql
        .raw(
          `insert into record_counts (type, source, deleted, n)
           select type, source, case when deleted_at is null then 0 else 1 end, count(*) from records group by 1, 2, 3`,
        )
        .execute(trx);
    });
    // PostgreSQL's autovacuum would analyze a table this size on its own soon after; do it now.
    if (pgEngine) await sql`analyze`.execute(store.db);
  } finally {
    await store.close();
  }
  const half = Math.floor(n / 2);
  // Strictly after the tick of row n/2 - 1 when that tick ends there; else the tick of row n/2 itself.
  const midpoint = base + Math.ceil(half / ROWS_PER_TICK);
  return { records: n, seconds: (Date.now() - started) / 1000, midpoint };
}

export interface Probe {
  name: string;
  path: string;
  /** What the answer must look like, so a fast wrong answer cannot pass for a fast right one. */
  check?: (body: PageBody) => string | null;
}

export interface PageBody {
  items: Array<{ type: string; external_id: string; name?: string | null; email?: string | null }>;
  total: number | null;
  /** Given by a search (q=, email=): total is then a lower bound. */
  total_at_least?: boolean;
  next_cursor: string | null;
}

export interface ProbeResult {
  name: string;
  path: string;
  samples: number;
  p50: number;
  p99: number;
  mean: number;
  total: number | null;
  totalAtLeast: boolean;
  items: number;
  problem: string | null;
}

/**
 * Sequential GETs over one keep-alive connection: a few warm-up calls, then
 * up to `maxSamples` or `maxMs`, whichever comes first (at least `minSamples`).
 */
export async function probe(baseUrl: string, p: Probe, limits: { maxSamples: number; maxMs: number; minSamples: number }): Promise<ProbeResult> {
  const pool = new Pool(baseUrl, { connections: 1, pipelining: 1 });
  const times: number[] = [];
  let last: PageBody | null = null;
  let problem: string | null = null;
  try {
    const once = async () => {
      const t0 = process.hrtime.bigint();
      const res = await pool.request({ method: 'GET', path: p.path });
      const text = await res.body.text();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (res.statusCode !== 200) throw new Error(`${p.name}: GET ${p.path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
      last = JSON.parse(text) as PageBody;
      return ms;
    };
    for (let i = 0; i < 3; i++) await once();
    const until = Date.now() + limits.maxMs;
    while (times.length < limits.maxSamples && (times.length < limits.minSamples || Date.now() < until)) times.push(await once());
    const body = last as PageBody | null;
    if (body && p.check) problem = p.check(body);
    return {
      name: p.name,
      path: p.path,
      samples: times.length,
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      mean: mean(times),
      total: body?.total ?? null,
      totalAtLeast: body?.total_at_least ?? false,
      items: body?.items.length ?? 0,
      problem,
    };
  } finally {
    await pool.close();
  }
}

export interface Positions {
  visible: number;
  visibleCampaigns: number;
  /** Cursor whose page is the last page of the plain listing, exactly `limit` items. */
  endCursor: string;
  midCursor: string;
  endCampaignCursor: string;
  /** Change-feed cursor whose page is the feed's last page. */
  endFeedCursor: string;
}

/** Positions near the end of the table, read straight from the store. */
export async function positions(config: DatabaseConfig, limit: number, midpoint: number): Promise<Positions> {
  const store: Store = await openStore(config);
  try {
    const db = store.db;
    const count = async (type?: string) => {
      let q = db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('deleted_at', 'is', null);
      if (type) q = q.where('type', '=', type);
      return Number((await q.executeTakeFirstOrThrow()).n);
    };
    const rowAtFromEnd = async (k: number, type?: string) => {
      let q = db.selectFrom('records').select(['row_id', 'updated_at']).where('deleted_at', 'is', null);
      if (type) q = q.where('type', '=', type);
      return q.orderBy('row_id', 'desc').offset(k).limit(1).executeTakeFirstOrThrow();
    };
    const visible = await count();
    const visibleCampaigns = await count('campaign');
    const end = await rowAtFromEnd(limit);
    const mid = await rowAtFromEnd(Math.floor(visible / 2));
    const endCampaign = await rowAtFromEnd(limit, 'campaign');
    const feed = await db
      .selectFrom('records')
      .select(['row_id', 'updated_at'])
      .where('deleted_at', 'is', null)
      .where('updated_at', '>=', midpoint)
      .orderBy('updated_at', 'desc')
      .orderBy('row_id', 'desc')
      .offset(limit)
      .limit(1)
      .executeTakeFirstOrThrow();
    return {
      visible,
      visibleCampaigns,
      endCursor: encodeCursor({ kind: 'row', rowId: end.row_id }),
      midCursor: encodeCursor({ kind: 'row', rowId: mid.row_id }),
      endCampaignCursor: encodeCursor({ kind: 'row', rowId: endCampaign.row_id }),
      endFeedCursor: encodeCursor({ kind: 'change', updatedAt: feed.updated_at, rowId: feed.row_id }),
    };
  } finally {
    await store.close();
  }
}

/** The uncached count a naive `total` would run, timed in-process against the store (no HTTP). */
export async function timeRawCount(config: DatabaseConfig, runs: number): Promise<{ p50: number; n: number }> {
  const store = await openStore(config);
  try {
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const row = await store.db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('deleted_at', 'is', null)
        .executeTakeFirstOrThrow();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      n = Number(row.n);
    }
    return { p50: percentile(times, 50), n };
  } finally {
    await store.close();
  }
}

/**
 * A check for a search probe: every item matches the search, the page is
 * full when the total says it should be, and total_at_least is as expected.
 */
export function searchCheck(search: { q?: string; email?: string; type?: string }, expect: { atLeast: boolean; limit: number }) {
  return (b: PageBody): string | null => {
    const q = search.q?.toLowerCase();
    for (const item of b.items) {
      if (search.type && item.type !== search.type) return `${item.external_id} is a ${item.type}`;
      if (search.email !== undefined && item.email?.toLowerCase() !== search.email.toLowerCase()) return `${item.external_id} has another email`;
      if (q !== undefined && ![item.external_id, item.email, item.name].some((v) => v?.toLowerCase().startsWith(q)))
        return `${item.external_id} does not start with ${q}`;
    }
    if (b.items.length === 0) return 'no match';
    if ((b.total_at_least ?? false) !== expect.atLeast) return `expected total_at_least ${expect.atLeast}, got ${b.total_at_least}`;
    const total = b.total ?? 0;
    if (b.items.length !== Math.min(total, expect.limit)) return `expected ${Math.min(total, expect.limit)} items, got ${b.items.length}`;
    return null;
  };
}
