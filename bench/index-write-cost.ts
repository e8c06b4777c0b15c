/**
 * What migration 010's search indexes cost each write: the webhook write path
 * (applyRecordWrites, 25 new customers a transaction) on a fresh store with
 * and without those indexes, alternating, and the medians. On SQLite the index
 * work is done in this process, so its CPU time is the figure to read; on
 * PostgreSQL it is done by the server and shows only in wall time.
 *
 *   npx tsx bench/index-write-cost.ts <sqlite|postgres> [records=10000] [rounds=6]
 *
 * BENCH_PG_ADMIN_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../src/config.js';
import { recordFromPayload, type RecordWrite } from '../src/domain/records.js';
import { openStore } from '../src/store/open-store.js';
import { applyRecordWrites } from '../src/store/record-writes.js';
import { inWriteTransaction } from '../src/store/write-transaction.js';
import { percentile } from './lib/stats.js';

const engine = process.argv[2] as 'sqlite' | 'postgres';
const N = Number(process.argv[3] ?? 10000);
const ROUNDS = Number(process.argv[4] ?? 6);
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('usage: npx tsx bench/index-write-cost.ts <sqlite|postgres> [records] [rounds]');
const admin = process.env.BENCH_PG_ADMIN_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres';
const scratchName = `tributary_bench_wc_${process.pid}`;

async function adminQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function run(withIndexes: boolean, round: number) {
  let config: DatabaseConfig;
  let dir: string | null = null;
  if (engine === 'sqlite') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-wc-'));
    config = { kind: 'sqlite', path: path.join(dir, 'w.db') };
  } else {
    await adminQuery(`drop database if exists ${scratchName} with (force)`);
    await adminQuery(`create database ${scratchName}`);
    const url = new URL(admin);
    url.pathname = `/${scratchName}`;
    config = { kind: 'postgres', url: url.toString() };
  }
  const store = await openStore(config);
  if (!withIndexes) for (const f of ['external_id', 'email', 'name']) await sql`drop index ${sql.id(`records_search_${f}_idx`)}`.execute(store.db);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let from = 0; from < N; from += 25) {
    const writes: RecordWrite[] = [];
    for (let i = from; i < from + 25; i++)
      writes.push(
        recordFromPayload('customer', { external_id: `cust_${round}_${i}`, name: `Customer ${i}`, email: `customer.${i}@example.com`, plan: 'pro' }, 'webhook'),
      );
    await inWriteTransaction(store, (tx) => applyRecordWrites(tx, writes));
  }
  const cpu = process.cpuUsage(cpu0);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await store.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  else await adminQuery(`drop database if exists ${scratchName} with (force)`);
  return { withIndexes, ms, usPerRecord: (ms * 1000) / N, cpuUsPerRecord: (cpu.user + cpu.system) / N };
}

const results: Array<Awaited<ReturnType<typeof run>>> = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const w of r % 2 === 0 ? [false, true] : [true, false]) {
    const x = await run(w, r);
    results.push(x);
    console.log(
      engine,
      r,
      x.withIndexes ? 'with   ' : 'without',
      `${x.usPerRecord.toFixed(1)} µs/record wall, ${x.cpuUsPerRecord.toFixed(1)} µs/record process CPU`,
    );
  }
}
const median = (xs: number[]) => percentile(xs, 50);
for (const k of ['usPerRecord', 'cpuUsPerRecord'] as const) {
  const a = median(results.filter((x) => !x.withIndexes).map((x) => x[k]));
  const b = median(results.filter((x) => x.withIndexes).map((x) => x[k]));
  const what = k === 'usPerRecord' ? 'wall' : 'process CPU';
  console.log(`${engine}: median ${what} µs/record without ${a.toFixed(1)}, with ${b.toFixed(1)}: ${b >= a ? '+' : ''}${((b / a - 1) * 100).toFixed(0)}%`);
}
