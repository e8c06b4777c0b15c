/**
 * `npm run bench`: webhook ingestion against a bare node:http ceiling,
 * GET /data at a million records, and sync throughput, overlap and memory
 * (the sync part is bench/sync/sync-bench.ts, whose BENCH_SYNC_* variables are listed there). Everything runs on 127.0.0.1, every loop is
 * bounded in count and time, and every figure is also given as a ratio to a
 * baseline measured in the same run. See BENCHMARKS.md.
 *
 * Environment (all optional):
 *   BENCH_PARTS        webhook,data,sync,events  which parts to run; `events` is bench/events-memory.ts (memory of BENCH_EVENTS_STREAMS,
 *                                           default 200, idle GET /events streams); `chaos` (never by default: it restarts the
 *                                           machine's PostgreSQL) is bench/chaos.ts, whose BENCH_CHAOS_* variables are listed there
 *   BENCH_ENGINES      sqlite,postgres      postgres is skipped if the admin URL does not answer
 *   BENCH_PG_ADMIN_URL postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_CONNECTIONS  50                   autocannon connections
 *   BENCH_SECONDS      10                   target length of each measured webhook run
 *   BENCH_ROUNDS       3                    webhook rounds (bare, then each engine), closed by one more bare run
 *   BENCH_FLOOR_THREAD 0                    1: also run the floor with its commits on a worker thread (floor-thread)
 *   BENCH_FLOORS       1                    0: leave out the lean SQLite floor and the PostgreSQL floor (the SQLite floor always runs)
 *   BENCH_SERVICE_NODE_FLAGS (unset)        node flags for the service in the webhook part, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
 *   BENCH_RECORDS      1000000              records loaded for the GET /data part
 *   BENCH_LOADER       sql                  sql: INSERT … SELECT generated in the engine, record_counts rebuilt in the
 *                                           same transaction; store: applyRecordWrites in big transactions (slower)
 *   BENCH_LOAD_BATCH   20000 (store) / 100000 (sql)   records per statement or transaction
 *   BENCH_LIMIT        100                  page size of the GET /data probes
 *   BENCH_SERVER       build                build: compile src with tsc and run the JS; tsx: node --import tsx src/server.ts
 *   BENCH_DIST         (unset)              a service already built (folder with server.js) to run in every part
 *                                           instead of this tree's build: before/after comparisons
 *   WRITER_MAX_DELAY_MS, WRITER_MAX_BATCH_RECORDS are passed through to the service.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import type { DatabaseConfig } from '../src/config.js';
import {
  loadRecordsThroughStore,
  loadRecordsWithSql,
  positions,
  probe,
  searchCheck,
  timeRawCount,
  type PageBody,
  type Probe,
  type ProbeResult,
} from './lib/data.js';
import { openStore } from '../src/store/open-store.js';
import { floorComparisonTable, webhookFloorComparisons } from './lib/floors.js';
import { sqliteCommitFloor } from './lib/fsync.js';
import { issueTargets, issueTargetsTable } from './lib/targets.js';
import { createScratchDatabase, dropScratchDatabase, dropScratchDatabases, postgresAvailable } from './lib/pg.js';
import { killChildren, SERVICE_NODE_FLAGS, startChild, type Child } from './lib/proc.js';
import { fmt, percentile, table } from './lib/stats.js';
import { customerBodies, webhookLoad, writerBatchStats, type LoadResult } from './lib/webhook.js';
import { syncMarkdown, syncPart, syncSettingsFromEnv, type SyncReport } from './sync/sync-bench.js';
import { chaosMarkdown, chaosPart, chaosSettingsFromEnv } from './chaos.js';
import { eventsMemoryMarkdown, eventsMemoryPart, type EventsMemoryResult } from './events-memory.js';
import { intEnv, listEnv } from './lib/env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const settings = {
  parts: listEnv('BENCH_PARTS', 'webhook,data,sync,events'),
  engines: listEnv('BENCH_ENGINES', 'sqlite,postgres') as Array<'sqlite' | 'postgres'>,
  pgAdminUrl: process.env.BENCH_PG_ADMIN_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres',
  connections: intEnv('BENCH_CONNECTIONS', 50, 1, 1000),
  seconds: intEnv('BENCH_SECONDS', 10, 1, 120),
  rounds: intEnv('BENCH_ROUNDS', 3, 1, 10),
  floorThread: process.env.BENCH_FLOOR_THREAD?.trim() === '1',
  floors: process.env.BENCH_FLOORS?.trim() !== '0',
  serviceNodeFlags: (process.env.BENCH_SERVICE_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  records: intEnv('BENCH_RECORDS', 1_000_000, 1000, 20_000_000),
  loader: (process.env.BENCH_LOADER?.trim() || 'sql') as 'sql' | 'store',
  loadBatch: 0,
  limit: intEnv('BENCH_LIMIT', 100, 1, 1000),
  server: (process.env.BENCH_SERVER?.trim() || 'build') as 'build' | 'tsx',
  dist: process.env.BENCH_DIST?.trim() ? path.resolve(process.env.BENCH_DIST.trim()) : null,
};
for (const p of settings.parts)
  if (p !== 'webhook' && p !== 'data' && p !== 'sync' && p !== 'chaos' && p !== 'events') throw new Error(`BENCH_PARTS: unknown part "${p}"`);
for (const e of settings.engines) if (e !== 'sqlite' && e !== 'postgres') throw new Error(`BENCH_ENGINES: unknown engine "${e}"`);
if (settings.loader !== 'sql' && settings.loader !== 'store') throw new Error('BENCH_LOADER must be sql or store');
settings.loadBatch = intEnv('BENCH_LOAD_BATCH', settings.loader === 'sql' ? 100_000 : 20_000, 100, 1_000_000);
if (settings.server !== 'build' && settings.server !== 'tsx') throw new Error('BENCH_SERVER must be build or tsx');

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = path.join(root, 'bench', 'results');
const runDir = path.join(resultsDir, stamp);
fs.mkdirSync(runDir, { recursive: true });
const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-'));

const say = (line: string) => process.stdout.write(`${line}\n`);
const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
const loads: Array<{ phase: string; loadavg: string }> = [];
const markLoad = (phase: string) => {
  loads.push({ phase, loadavg: load() });
  say(`  [load average ${load()}] ${phase}`);
};

// ---------------------------------------------------------------- the service

function serviceArgs(): string[] {
  if (settings.dist) return [path.join(settings.dist, 'server.js')];
  return settings.server === 'build' ? [path.join(resultsDir, 'dist', 'server.js')] : ['--import', 'tsx', 'src/server.ts'];
}

function buildService(): void {
  if (settings.dist) {
    if (!fs.existsSync(path.join(settings.dist, 'server.js'))) throw new Error(`BENCH_DIST: no server.js in ${settings.dist}`);
    say(`running the service built in ${settings.dist}`);
    return;
  }
  if (settings.server !== 'build') return;
  say('building the service (tsc -p tsconfig.build.json into bench/results/dist)');
  const out = path.join(resultsDir, 'dist');
  fs.rmSync(out, { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
  const r = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, encoding: 'utf8' });
  if (!fs.existsSync(path.join(out, 'server.js'))) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  if (r.status !== 0) say(`  warning: tsc reported errors but emitted JavaScript; benchmarking what it emitted:\n${r.stdout}`);
}

function serviceEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'API_KEY' || k === 'WEBHOOK_SECRET' || k.startsWith('HUBSPOT_') || k.startsWith('MAILCHIMP_') || k.startsWith('BENCH_')) delete env[k];
  }
  return { ...env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn' };
}

async function startService(label: string, databaseUrl: string, nodeFlags: string[] = []): Promise<Child> {
  return startChild({
    name: `tributary (${label})`,
    args: [...SERVICE_NODE_FLAGS, ...nodeFlags, ...serviceArgs()],
    env: serviceEnv(databaseUrl),
    cwd: root,
    logFile: path.join(runDir, `service-${label}.log`),
  });
}

interface Scratch {
  engine: 'sqlite' | 'postgres';
  config: DatabaseConfig;
  url: string;
  drop(): Promise<void>;
}

async function scratch(engine: 'sqlite' | 'postgres', label: string): Promise<Scratch> {
  if (engine === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(scratchDir, `${label}-`));
    const file = path.join(dir, 'warehouse.db');
    return { engine, config: { kind: 'sqlite', path: file }, url: `sqlite:${file}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const db = await createScratchDatabase(settings.pgAdminUrl, label);
  return { engine, config: { kind: 'postgres', url: db.url }, url: db.url, drop: () => dropScratchDatabase(settings.pgAdminUrl, db.name) };
}

/** Rows stored by webhook runs, read straight from the database (not through the service). */
async function storedCounts(s: Scratch): Promise<{ records: number; inbox: number }> {
  const q = { records: `select count(*) as n from records where type = 'customer'`, inbox: 'select count(*) as n from webhook_inbox' };
  if (s.config.kind === 'sqlite') {
    const db = new SqliteDatabase(s.config.path, { readonly: true, fileMustExist: true });
    try {
      const n = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
      return { records: n(q.records), inbox: n(q.inbox) };
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: s.url });
  await c.connect();
  try {
    const n = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]?.n);
    return { records: await n(q.records), inbox: await n(q.inbox) };
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- part 1: webhooks

interface WebhookRow {
  target: 'bare' | 'floor' | 'floor-lean' | 'floor-thread' | 'floor-pg' | 'sqlite' | 'postgres';
  round: number;
  run: LoadResult;
  warmupOk: number;
  stored?: { records: number; inbox: number; expected: number };
  batches?: { deliveriesPerBatch: number; recordsPerBatch: number; batches: number };
  /** Round 1 only: one sender posting one delivery at a time, the latency floor. */
  sequential?: LoadResult;
}

const SEQUENTIAL_REQUESTS = 300;

/** One connection, one request at a time: what a lone sender waits per delivery. */
function sequentialLoad(label: string, url: string): Promise<LoadResult> {
  return webhookLoad({ label, url, connections: 1, amount: SEQUENTIAL_REQUESTS, timeLimitMs: 30_000, next: customerBodies(`${label}_seq_${process.pid}`) });
}

const TARGET_NAMES: Record<WebhookRow['target'], string> = {
  bare: 'bare node:http',
  floor: 'floor: node:http + SQLite FULL',
  'floor-lean': 'lean floor: only the (type, external_id) key',
  'floor-thread': 'floor, commits on a thread',
  'floor-pg': 'PostgreSQL floor: node:http + pg',
  sqlite: 'tributary sqlite',
  postgres: 'tributary postgres',
};
const targetName = (t: WebhookRow['target']) => TARGET_NAMES[t];

/** Warm-up, a short calibration run, then the measured run sized to last about BENCH_SECONDS. */
async function measureWebhooks(target: string, url: string, serverPid: number): Promise<{ run: LoadResult; warmupOk: number }> {
  const next = customerBodies(`${target.replace(/\W+/g, '_')}_${process.pid}`);
  const c = settings.connections;
  const warm = await webhookLoad({ label: `${target} warm-up`, url, connections: c, amount: c * 40, timeLimitMs: 30_000, next });
  const calibAmount = Math.min(200_000, Math.max(c * 20, Math.round(warm.rate * 3)));
  const calib = await webhookLoad({ label: `${target} calibration`, url, connections: c, amount: calibAmount, timeLimitMs: 30_000, next });
  // A warm process usually runs faster than during calibration: aim a little long rather than short.
  const amount = Math.min(2_000_000, Math.max(c * 20, Math.round(calib.rate * settings.seconds * 1.25)));
  const run = await webhookLoad({ label: target, url, connections: c, amount, timeLimitMs: settings.seconds * 4_000 + 20_000, next, serverPid });
  return { run, warmupOk: warm.ok + calib.ok };
}

let commitFloor: { p50: number; p99: number } | null = null;

/**
 * Rounds of bare, then each engine, closed by one more bare run: every
 * service run sits between two bare runs and is compared with their mean,
 * so a change in background load between runs skews its ratio less.
 */
async function webhookPart(engines: Array<'sqlite' | 'postgres'>): Promise<WebhookRow[]> {
  const rows: WebhookRow[] = [];
  if (engines.includes('sqlite')) {
    commitFloor = sqliteCommitFloor(scratchDir, 200);
    say(`  SQLite commit of 25 small rows (WAL, synchronous=FULL) on this disk: p50 ${fmt.ms(commitFloor.p50)} ms, p99 ${fmt.ms(commitFloor.p99)} ms`);
  }
  const bare = async (round: number) => {
    markLoad(`webhook round ${round}: bare node:http`);
    const child = await startChild({
      name: 'bare node:http',
      args: [path.join(root, 'bench', 'bare-server.mjs')],
      env: { PATH: process.env.PATH ?? '' },
      cwd: root,
      logFile: path.join(runDir, 'bare-server.log'),
    });
    try {
      const m = await measureWebhooks(`bare-${round}`, child.url, child.pid);
      const sequential = round === 1 ? await sequentialLoad(`bare-${round}`, child.url) : undefined;
      rows.push({ target: 'bare', round, ...m, ...(sequential ? { sequential } : {}) });
      say(`  bare node:http: ${fmt.int(m.run.rate)} req/s, p99 ${fmt.ms(m.run.p99)} ms, ${fmt.int(m.run.serverCpuUs ?? Number.NaN)} CPU µs/request`);
    } finally {
      await child.stop();
    }
  };
  // The least a durable receiver does (bench/floor-server.mjs), on SQLite: what
  // the service reaches is read against it as well as against bare.
  // floor-lean: the same with no index but the records' (type, external_id) key; floor-pg: the same
  // on PostgreSQL, the service's schema made by its own migrations, one statement per batch.
  const floor = async (round: number, target: 'floor' | 'floor-lean' | 'floor-thread' | 'floor-pg') => {
    markLoad(`webhook round ${round}: ${target}`);
    const s = await scratch(target === 'floor-pg' ? 'postgres' : 'sqlite', target.replace('-', '_'));
    try {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '', FLOOR_THREAD: target === 'floor-thread' ? '1' : '0' };
      if (s.config.kind === 'sqlite') {
        fs.mkdirSync(path.dirname(s.config.path), { recursive: true });
        env.FLOOR_DB = s.config.path;
        env.FLOOR_SCHEMA = target === 'floor-lean' ? 'lean' : 'full';
      } else {
        await (await openStore(s.config)).close();
        env.FLOOR_PG_URL = s.url;
      }
      const child = await startChild({
        name: target,
        args: [path.join(root, 'bench', 'floor-server.mjs')],
        env,
        cwd: root,
        logFile: path.join(runDir, `${target}-server.log`),
      });
      try {
        const m = await measureWebhooks(`${target}-${round}`, child.url, child.pid);
        await child.stop();
        const stored = await storedCounts(s);
        rows.push({ target, round, ...m, stored: { ...stored, expected: m.warmupOk + m.run.ok } });
        say(
          `  ${target}: ${fmt.int(m.run.rate)} req/s, p99 ${fmt.ms(m.run.p99)} ms, ${fmt.int(m.run.serverCpuUs ?? Number.NaN)} CPU µs/request; stored ${stored.records} records / ${stored.inbox} inbox rows`,
        );
      } finally {
        await child.stop();
      }
    } finally {
      await s.drop();
    }
  };
  const service = async (engine: 'sqlite' | 'postgres', round: number) => {
    markLoad(`webhook round ${round}: tributary ${engine}`);
    const s = await scratch(engine, 'webhook');
    try {
      const child = await startService(`webhook-${engine}-${round}`, s.url, settings.serviceNodeFlags);
      try {
        const m = await measureWebhooks(`${engine}-${round}`, child.url, child.pid);
        const batches = await writerBatchStats(child.url);
        const sequential = round === 1 ? await sequentialLoad(`${engine}-${round}`, child.url) : undefined;
        const stored = await storedCounts(s);
        const expected = m.warmupOk + m.run.ok + (sequential?.ok ?? 0);
        rows.push({ target: engine, round, ...m, stored: { ...stored, expected }, batches, ...(sequential ? { sequential } : {}) });
        say(
          `  tributary ${engine}: ${fmt.int(m.run.rate)} req/s, p99 ${fmt.ms(m.run.p99)} ms, ${fmt.int(m.run.serverCpuUs ?? Number.NaN)} CPU µs/request; ` +
            `stored ${stored.records} records / ${stored.inbox} inbox rows for ${expected} 2xx answers; ${batches.deliveriesPerBatch.toFixed(1)} deliveries per commit`,
        );
      } finally {
        const code = await child.stop();
        if (code !== 0) say(`  warning: tributary ${engine} exited with ${code}`);
      }
    } finally {
      await s.drop();
    }
  };
  for (let round = 1; round <= settings.rounds; round++) {
    await bare(round);
    // Each service run right after its floors, in every round.
    for (const engine of engines) {
      if (engine === 'sqlite') {
        await floor(round, 'floor');
        if (settings.floors) await floor(round, 'floor-lean');
        if (settings.floorThread) await floor(round, 'floor-thread');
      } else if (settings.floors) {
        await floor(round, 'floor-pg');
      }
      await service(engine, round);
    }
  }
  await bare(settings.rounds + 1);
  return rows;
}

// ---------------------------------------------------------------- part 2: GET /data

interface DataSection {
  engine: string;
  records: number;
  loadSeconds: number;
  visible: number;
  probes: ProbeResult[];
  rawCount: { p50: number; n: number };
}

/**
 * Search probes (email=, q= on each field, with and without type) over the
 * synthetic set of bench/lib/data.ts: record i is `cust_i` / "Customer i" /
 * customer.i@example.com, or every fifth `camp_i` / "Campaign i". Around
 * the middle of the table, so neither end of an index is favoured.
 */
function searchProbes(records: number, L: number, midCursor: string): Array<Probe & { limits: 'cheap' | 'costly' }> {
  // A live customer near the middle (i % 5 = 2, i % 100 = 12).
  const i = Math.floor(records / 200) * 100 + 12;
  const tens = Math.floor(i / 10);
  const hundreds = Math.floor(i / 100) * 5 + 4; // a campaign's number (i % 5 = 4), as a name prefix
  const email = `Customer.${i}@Example.com`;
  const few = { atLeast: false, limit: L };
  const many = { atLeast: true, limit: L };
  const enc = encodeURIComponent;
  const probe = (name: string, path: string, check: (b: PageBody) => string | null) => ({ name, path, check, limits: 'cheap' as const });
  return [
    probe('search: email= (exact)', `/data?limit=${L}&email=${enc(email)}`, searchCheck({ email }, few)),
    probe('search: email=, /customers', `/customers?limit=${L}&email=${enc(email)}`, searchCheck({ email, type: 'customer' }, few)),
    probe(`search: q=cust_${tens} (external_id)`, `/data?limit=${L}&q=cust_${tens}`, searchCheck({ q: `cust_${tens}` }, few)),
    probe(`search: q=CUST_${tens}, type=customer`, `/data?limit=${L}&type=customer&q=CUST_${tens}`, searchCheck({ q: `cust_${tens}`, type: 'customer' }, few)),
    probe(`search: q=customer.${tens} (email)`, `/data?limit=${L}&q=customer.${tens}`, searchCheck({ q: `customer.${tens}` }, few)),
    probe(`search: q=customer.${tens}, /customers`, `/customers?limit=${L}&q=customer.${tens}`, searchCheck({ q: `customer.${tens}`, type: 'customer' }, few)),
    probe(`search: q=Campaign ${hundreds} (name)`, `/data?limit=${L}&q=${enc(`Campaign ${hundreds}`)}`, searchCheck({ q: `Campaign ${hundreds}` }, few)),
    probe(
      `search: q=Campaign ${hundreds}, type=campaign`,
      `/data?limit=${L}&type=campaign&q=${enc(`Campaign ${hundreds}`)}`,
      searchCheck({ q: `Campaign ${hundreds}`, type: 'campaign' }, few),
    ),
    // Over the cap: total 1000 with total_at_least, the page read in row order.
    probe('search: q=Customer 1 (>1000 match)', `/data?limit=${L}&q=${enc('Customer 1')}`, searchCheck({ q: 'Customer 1' }, many)),
    probe(
      'search: q=customer., type=customer, middle page by cursor',
      `/data?limit=${L}&type=customer&q=customer.&cursor=${midCursor}`,
      searchCheck({ q: 'customer.', type: 'customer' }, many),
    ),
    // The worst case of that path: at 1M records (and any size from 200,000 to 2M) every
    // "Customer 1…" lies before the middle, so after its scan window the page reads the
    // search's whole index ranges, and is empty.
    {
      name: 'search: q=Customer 1, middle page by cursor (worst case)',
      path: `/data?limit=${L}&q=${enc('Customer 1')}&cursor=${midCursor}`,
      check: (b) => (b.items.length === 0 && b.next_cursor === null ? null : searchCheck({ q: 'Customer 1' }, many)(b)),
      limits: 'costly',
    },
    probe('search: q=camp, /campaigns (>1000 match)', `/campaigns?limit=${L}&q=camp`, searchCheck({ q: 'camp', type: 'campaign' }, many)),
  ];
}

async function dataPart(engine: 'sqlite' | 'postgres'): Promise<DataSection> {
  markLoad(`data: loading ${settings.records.toLocaleString('en-US')} records into ${engine}`);
  const s = await scratch(engine, 'data');
  try {
    let shown = 0;
    const loadRecords = settings.loader === 'sql' ? loadRecordsWithSql : loadRecordsThroughStore;
    const loaded = await loadRecords(s.config, settings.records, settings.loadBatch, (done) => {
      if (done - shown >= settings.records / 10 || done === settings.records) {
        shown = done;
        say(`  loaded ${done.toLocaleString('en-US')}`);
      }
    });
    say(
      `  ${engine}: ${settings.records.toLocaleString('en-US')} records in ${loaded.seconds.toFixed(1)} s (${fmt.int(settings.records / loaded.seconds)} records/s)`,
    );
    const L = settings.limit;
    const pos = await positions(s.config, L, loaded.midpoint);
    const since = encodeURIComponent(new Date(loaded.midpoint).toISOString());
    const fullPage = (b: PageBody) => (b.items.length === L ? null : `expected ${L} items, got ${b.items.length}`);
    const lastPage = (b: PageBody) => fullPage(b) ?? (b.next_cursor === null ? null : 'expected the last page (no next_cursor)');
    const totalIs = (n: number) => (b: PageBody) => (b.total === n ? null : `expected total ${n}, got ${b.total}`);
    const probes: Array<Probe & { limits: 'cheap' | 'costly' }> = [
      { name: 'first page', path: `/data?limit=${L}`, check: (b) => fullPage(b) ?? totalIs(pos.visible)(b), limits: 'cheap' },
      { name: 'middle page by cursor', path: `/data?limit=${L}&cursor=${pos.midCursor}`, check: fullPage, limits: 'cheap' },
      { name: 'last page by cursor', path: `/data?limit=${L}&cursor=${pos.endCursor}`, check: lastPage, limits: 'cheap' },
      {
        name: 'first page, type=campaign',
        path: `/data?limit=${L}&type=campaign`,
        check: (b) => fullPage(b) ?? totalIs(pos.visibleCampaigns)(b),
        limits: 'cheap',
      },
      { name: 'last page by cursor, type=campaign', path: `/data?limit=${L}&type=campaign&cursor=${pos.endCampaignCursor}`, check: lastPage, limits: 'cheap' },
      // The feed's last page still carries a next_cursor: the client's bookmark for later changes.
      {
        name: 'change feed: last page by cursor',
        path: `/data?limit=${L}&updated_since=${since}&cursor=${pos.endFeedCursor}`,
        check: fullPage,
        limits: 'cheap',
      },
      { name: 'total only (limit=1), no filter', path: '/data?limit=1', check: totalIs(pos.visible), limits: 'cheap' },
      { name: 'total only, type=customer&source=crm', path: '/data?limit=1&type=customer&source=crm', limits: 'cheap' },
      { name: 'total only, include_deleted=true', path: '/data?limit=1&include_deleted=true', check: totalIs(settings.records), limits: 'cheap' },
      { name: 'total only, updated_since (later half)', path: `/data?limit=1&updated_since=${since}`, limits: 'costly' },
      { name: 'last page by offset', path: `/data?limit=${L}&offset=${pos.visible - L}`, check: lastPage, limits: 'costly' },
      ...searchProbes(settings.records, L, pos.midCursor),
    ];
    markLoad(`data: probing ${engine}`);
    const child = await startService(`data-${engine}`, s.url);
    const results: ProbeResult[] = [];
    try {
      for (const p of probes) {
        const limits = p.limits === 'cheap' ? { maxSamples: 300, maxMs: 3_000, minSamples: 20 } : { maxSamples: 50, maxMs: 6_000, minSamples: 5 };
        const r = await probe(child.url, p, limits);
        results.push(r);
        say(`  ${p.name}: p50 ${fmt.ms(r.p50)} ms, p99 ${fmt.ms(r.p99)} ms (${r.samples} samples)${r.problem ? `  PROBLEM: ${r.problem}` : ''}`);
      }
    } finally {
      await child.stop();
    }
    const rawCount = await timeRawCount(s.config, 5);
    say(`  raw count(*) of visible rows in-process: p50 ${fmt.ms(rawCount.p50)} ms`);
    return { engine, records: settings.records, loadSeconds: loaded.seconds, visible: pos.visible, probes: results, rawCount };
  } finally {
    await s.drop();
  }
}

// ---------------------------------------------------------------- report

/** The commit benchmarked, and whether the working tree differed from it. */
function revision(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  return dirty > 0 ? `${head} with ${dirty} uncommitted change(s) under src/` : head;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

const median = (xs: number[]) => percentile(xs, 50);

/** The mean of the bare runs just before and just after a service run. */
function adjacentBare(rows: WebhookRow[], r: WebhookRow): { rate: number; p99: number; cpu: number } {
  const around = rows.filter((x) => x.target === 'bare' && (x.round === r.round || x.round === r.round + 1));
  const avg = (f: (x: WebhookRow) => number) => around.reduce((n, x) => n + f(x), 0) / around.length;
  return { rate: avg((x) => x.run.rate), p99: avg((x) => x.run.p99), cpu: avg((x) => x.run.serverCpuUs ?? Number.NaN) };
}

function storedCell(r: WebhookRow): string {
  if (!r.stored) return 'n/a (stores nothing)';
  const same = r.stored.records === r.stored.expected && r.stored.inbox === r.stored.expected;
  return `${r.stored.records} / ${r.stored.inbox} / ${r.stored.expected} ${same ? '(equal)' : '(MISMATCH)'}`;
}

function webhookRunsTable(rows: WebhookRow[]): string {
  return table(
    [
      'round',
      'target',
      '2xx/s',
      'vs adjacent bare',
      'p50 ms',
      'p99 ms',
      'server CPU µs/req',
      'requests',
      'non-2xx / errors',
      'stored records / inbox / 2xx answers',
      'deliveries per commit',
    ],
    rows.map((r) => {
      const ref = r.target === 'bare' ? null : adjacentBare(rows, r);
      return [
        String(r.round),
        targetName(r.target),
        fmt.int(r.run.rate),
        ref ? fmt.pct(r.run.rate / ref.rate) : '',
        fmt.ms(r.run.p50),
        fmt.ms(r.run.p99),
        r.run.serverCpuUs === null ? '-' : fmt.int(r.run.serverCpuUs),
        `${fmt.int(r.run.ok)} in ${r.run.seconds.toFixed(1)} s${r.run.cutShort ? ' (time limit hit)' : ''}`,
        `${r.run.non2xx} / ${r.run.errors}`,
        storedCell(r),
        r.batches ? r.batches.deliveriesPerBatch.toFixed(1) : '',
      ];
    }),
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r'],
  );
}

/** Medians over the rounds: the figures to quote. */
function webhookSummaryTable(rows: WebhookRow[]): string {
  const targets = [...new Set(rows.map((r) => r.target))];
  return table(
    [
      'target',
      'median 2xx/s',
      'rate vs bare (median of per-round ratios)',
      'median p99 ms',
      'p99 vs bare',
      'median server CPU µs/req',
      'CPU vs bare',
      'every 2xx stored',
    ],
    targets.map((t) => {
      const mine = rows.filter((r) => r.target === t);
      const refs = mine.map((r) => (t === 'bare' ? null : adjacentBare(rows, r)));
      const ratio = (f: (r: WebhookRow, ref: { rate: number; p99: number; cpu: number }) => number) =>
        t === 'bare' ? '1.00x' : fmt.ratio(median(mine.map((r, i) => f(r, refs[i] as { rate: number; p99: number; cpu: number }))));
      const stored =
        t === 'bare'
          ? 'n/a'
          : mine.every((r) => r.stored && r.stored.records === r.stored.expected && r.stored.inbox === r.stored.expected)
            ? 'yes, every run'
            : 'NO';
      return [
        targetName(t),
        fmt.int(median(mine.map((r) => r.run.rate))),
        t === 'bare' ? '100%' : fmt.pct(median(mine.map((r, i) => r.run.rate / (refs[i] as { rate: number }).rate))),
        fmt.ms(median(mine.map((r) => r.run.p99))),
        ratio((r, ref) => r.run.p99 / ref.p99),
        fmt.int(median(mine.map((r) => r.run.serverCpuUs ?? Number.NaN))),
        ratio((r, ref) => (r.run.serverCpuUs ?? Number.NaN) / ref.cpu),
        stored,
      ];
    }),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

function sequentialTable(rows: WebhookRow[]): string {
  const seq = rows.filter((r) => r.sequential);
  const bare = seq.find((r) => r.target === 'bare')?.sequential;
  return table(
    ['target', 'p50 ms', 'p99 ms', 'p50 vs bare', 'deliveries/s'],
    seq.map((r) => {
      const q = r.sequential as LoadResult;
      return [targetName(r.target), fmt.ms(q.p50), fmt.ms(q.p99), bare ? fmt.ratio(q.p50 / bare.p50) : '-', fmt.int(q.rate)];
    }),
    ['l', 'r', 'r', 'r', 'r'],
  );
}

function dataTable(d: DataSection): string {
  const first = d.probes.find((p) => p.name === 'first page') as ProbeResult;
  return table(
    ['GET /data', 'p50 ms', 'p99 ms', 'p50 vs first page', 'total', 'samples', 'check'],
    [
      ...d.probes.map((p) => [
        p.name,
        fmt.ms(p.p50),
        fmt.ms(p.p99),
        fmt.ratio(p.p50 / first.p50),
        p.total === null ? 'null' : `${p.totalAtLeast ? '≥ ' : ''}${fmt.int(p.total)}`,
        String(p.samples),
        p.problem ?? 'ok',
      ]),
      [
        '(contrast) count(*) of visible rows, in-process, no HTTP',
        fmt.ms(d.rawCount.p50),
        '',
        fmt.ratio(d.rawCount.p50 / first.p50),
        fmt.int(d.rawCount.n),
        '5',
        '',
      ],
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  say(`tributary bench ${stamp}: ${JSON.stringify(settings)}`);
  say(`machine: ${JSON.stringify(machine())}`);
  markLoad('start');
  let engines = settings.engines;
  if (engines.includes('postgres') && !(await postgresAvailable(settings.pgAdminUrl))) {
    say(`PostgreSQL does not answer at ${settings.pgAdminUrl}: skipping it`);
    engines = engines.filter((e) => e !== 'postgres');
  }
  buildService();

  let webhookRows: WebhookRow[] = [];
  if (settings.parts.includes('webhook')) {
    say(`\n== webhook ingestion: ${settings.connections} connections, ~${settings.seconds} s per target`);
    webhookRows = await webhookPart(engines);
  }
  const dataSections: DataSection[] = [];
  if (settings.parts.includes('data')) {
    for (const engine of engines) {
      say(`\n== GET /data at ${settings.records.toLocaleString('en-US')} records: ${engine}`);
      dataSections.push(await dataPart(engine));
    }
  }
  let syncText = '';
  let syncReport: SyncReport | null = null;
  if (settings.parts.includes('sync')) {
    say('\n== sync');
    const syncSettings = syncSettingsFromEnv({ runDir, scratchDir, say, markLoad });
    syncSettings.engines = engines;
    // The service this run built (or BENCH_SYNC_DIST); BENCH_SERVER=tsx runs the sources.
    if (settings.dist) syncSettings.dist ??= settings.dist;
    else if (settings.server === 'build') syncSettings.dist ??= path.join(resultsDir, 'dist');
    syncReport = await syncPart(syncSettings);
    syncText = syncMarkdown(syncReport);
  }
  let chaosText = '';
  if (settings.parts.includes('chaos')) {
    if (!engines.includes('postgres')) throw new Error('BENCH_PARTS=chaos needs PostgreSQL (BENCH_PG_ADMIN_URL)');
    const chaosSettings = chaosSettingsFromEnv({ pgAdminUrl: settings.pgAdminUrl, say, startService });
    chaosText = chaosMarkdown(chaosSettings, await chaosPart(chaosSettings));
    markLoad('after chaos');
  }
  let eventsText = '';
  let eventsResult: EventsMemoryResult | null = null;
  if (settings.parts.includes('events')) {
    say('\n== GET /events: idle streams');
    markLoad('events');
    const s = await scratch('sqlite', 'events');
    try {
      const streams = intEnv('BENCH_EVENTS_STREAMS', 200, 1, 10_000);
      eventsResult = await eventsMemoryPart({ service: () => startService('events', s.url), streams, say });
      eventsText = eventsMemoryMarkdown(eventsResult);
    } finally {
      await s.drop();
    }
  }
  markLoad('end');

  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const md: string[] = [
    `# Bench run ${stamp}`,
    '',
    `Revision: ${revision()}`,
    `Machine: ${JSON.stringify(machine())}`,
    `Settings: ${JSON.stringify(settings)}`,
    `Took ${minutes} min.`,
    '',
  ];
  if (webhookRows.length > 0) {
    md.push(
      `## Webhook ingestion, ${settings.connections} connections`,
      '',
      webhookSummaryTable(webhookRows),
      '',
      'Against the floors of the same rounds (rate: the median of per-round ratios; p99 and CPU: medians):',
      '',
      floorComparisonTable(webhookFloorComparisons(webhookRows), (t) => targetName(t as WebhookRow['target'])),
      '',
      'Every run:',
      '',
      webhookRunsTable(webhookRows),
      '',
    );
    const cpu = webhookRows.map((r) => `${targetName(r.target)} ${fmt.int(r.run.clientCpuUs)}`).join(', ');
    md.push(`Load generator (autocannon, in the bench process) CPU µs per request: ${cpu}.`);
    if (commitFloor)
      md.push(`SQLite commit of 25 small rows (WAL, synchronous=FULL) on this disk: p50 ${fmt.ms(commitFloor.p50)} ms, p99 ${fmt.ms(commitFloor.p99)} ms.`);
    md.push('', `### A lone sender: 1 connection, ${SEQUENTIAL_REQUESTS} deliveries one after another (round 1)`, '', sequentialTable(webhookRows), '');
  }
  for (const d of dataSections) {
    md.push(
      `## GET /data, ${d.engine}, ${fmt.int(d.records)} records (${fmt.int(d.visible)} visible), page size ${settings.limit}`,
      '',
      `Loaded in ${d.loadSeconds.toFixed(1)} s (${fmt.int(d.records / d.loadSeconds)} records/s) ${settings.loader === 'sql' ? 'with INSERT … SELECT in the engine (record_counts rebuilt in the same transaction)' : 'through applyRecordWrites'}.`,
      '',
      dataTable(d),
      '',
    );
  }
  if (syncText) md.push(syncText);
  if (chaosText) md.push(chaosText);
  if (eventsText) md.push(eventsText);
  const targets = issueTargets(webhookFloorComparisons(webhookRows), syncReport, eventsResult);
  md.push('## Issue targets', '', issueTargetsTable(targets), '');
  md.push(
    '## Load average during the run',
    '',
    table(
      ['phase', 'load average (1, 5, 15 min)'],
      loads.map((l) => [l.phase, l.loadavg]),
    ),
    '',
  );
  const text = md.join('\n');
  fs.writeFileSync(path.join(runDir, 'results.md'), text);
  fs.writeFileSync(
    path.join(runDir, 'results.json'),
    JSON.stringify(
      { stamp, revision: revision(), machine: machine(), settings, loads, commitFloor, webhook: webhookRows, data: dataSections, sync: syncReport, targets },
      null,
      2,
    ),
  );
  fs.writeFileSync(path.join(resultsDir, 'latest.md'), text);
  say(`\n${text}`);
  say(`results: ${path.relative(root, runDir)}/results.{md,json}`);
}

let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  killChildren();
  await dropScratchDatabases(settings.pgAdminUrl);
  fs.rmSync(scratchDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`\n${sig}: stopping children and dropping scratch databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(cleanup)
  .catch(async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
