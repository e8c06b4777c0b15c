/**
 * The counters behind GET /stats and GET /events (migration 009): moves are
 * gathered while a write transaction runs (`WriteTx.counters`) and written
 * at its end, in the same transaction, as one statement on PostgreSQL and
 * at most three on SQLite. Reading them costs the same at any data size.
 */
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export const MINUTE_MS = 60_000;

/** The start of the minute holding `ms`. */
export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** Per-minute buckets older than this are pruned, and moves into them are not counted. */
export const MINUTE_BUCKETS_KEPT_MS = 24 * 3_600_000;

interface Bucket<K extends string> {
  key: Record<K, string | number>;
  n: number;
}

function bump<K extends string>(map: Map<string, Bucket<K>>, key: Record<K, string | number>, by: number): void {
  const k = Object.values(key).join('\u0000');
  const b = map.get(k);
  if (b) b.n += by;
  else map.set(k, { key, n: by });
}

const rows = <K extends string>(map: Map<string, Bucket<K>>) => [...map.values()].filter((b) => b.n !== 0).map((b) => ({ ...b.key, n: b.n }));

/** Counter moves of one write transaction. */
export class CounterMoves {
  private readonly inbox = new Map<string, Bucket<'status'>>();
  private readonly deliveries = new Map<string, Bucket<'minute' | 'status'>>();
  private readonly writes = new Map<string, Bucket<'minute' | 'source'>>();

  constructor(private readonly now: number) {}

  /** `by` inbox rows of this status, received at `receivedAt` (negative: rows left it). */
  inboxRows(status: string, receivedAt: number, by = 1): void {
    bump(this.inbox, { status }, by);
    // A very old row (a replayed dead letter) moves no bucket that is no longer kept.
    if (receivedAt >= this.now - MINUTE_BUCKETS_KEPT_MS) bump(this.deliveries, { minute: minuteOf(receivedAt), status }, by);
  }

  /** Inbox rows of this status deleted (retention): the per-minute history stays. */
  inboxRowsDeleted(status: string, n: number): void {
    bump(this.inbox, { status }, -n);
  }

  /** `n` records of `source` created, changed or deleted by this transaction. */
  recordsWritten(source: string, n: number): void {
    bump(this.writes, { minute: minuteOf(this.now), source }, n);
  }

  /** The statements that apply the moves (none when there are none). */
  statements(engine: 'sqlite' | 'postgres'): CompiledQuery[] {
    const inbox = rows(this.inbox);
    const deliveries = rows(this.deliveries);
    const writes = rows(this.writes);
    if (inbox.length + deliveries.length + writes.length === 0) return [];
    if (engine === 'postgres') return [CompiledQuery.raw(PG_MOVES, [JSON.stringify(inbox), JSON.stringify(deliveries), JSON.stringify(writes)])];
    const out: CompiledQuery[] = [];
    if (inbox.length > 0) out.push(sqliteUpsert('inbox_counts', ['status'], inbox));
    if (deliveries.length > 0) out.push(sqliteUpsert('delivery_minutes', ['minute', 'status'], deliveries));
    if (writes.length > 0) out.push(sqliteUpsert('write_minutes', ['minute', 'source'], writes));
    return out;
  }
}

function sqliteUpsert(table: string, key: string[], values: Array<Record<string, string | number>>): CompiledQuery {
  const columns = [...key, 'n'];
  return CompiledQuery.raw(
    `insert into ${table} (${columns.join(', ')}) values ${values.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ')} ` +
      `on conflict (${key.join(', ')}) do update set n = ${table}.n + excluded.n`,
    values.flatMap((v) => columns.map((c) => v[c])),
  );
}

// One round trip for all three tables: data-modifying WITHs, each fed by a JSON array (empty when nothing moves).
const PG_MOVES =
  'with a as (insert into inbox_counts (status, n) select x.status, x.n from json_to_recordset($1::json) as x(status text, n bigint) ' +
  'on conflict (status) do update set n = inbox_counts.n + excluded.n), ' +
  'b as (insert into delivery_minutes (minute, status, n) select x.minute, x.status, x.n from json_to_recordset($2::json) as x(minute bigint, status text, n bigint) ' +
  'on conflict (minute, status) do update set n = delivery_minutes.n + excluded.n) ' +
  'insert into write_minutes (minute, source, n) select x.minute, x.source, x.n from json_to_recordset($3::json) as x(minute bigint, source text, n bigint) ' +
  'on conflict (minute, source) do update set n = write_minutes.n + excluded.n';

/** Deletes per-minute buckets older than `before` (ms). */
export async function pruneMinuteBuckets(db: Kysely<Database>, before: number): Promise<void> {
  await db.deleteFrom('delivery_minutes').where('minute', '<', before).execute();
  await db.deleteFrom('write_minutes').where('minute', '<', before).execute();
}

export interface DeliveryMinute {
  minute: number;
  status: string;
  n: number;
}

/** Delivery buckets from `since` (ms) on. */
export async function deliveryMinutesSince(db: Kysely<Database>, since: number): Promise<DeliveryMinute[]> {
  const found = await db.selectFrom('delivery_minutes').select(['minute', 'status', 'n']).where('minute', '>=', since).execute();
  return found.map((r) => ({ minute: Number(r.minute), status: r.status, n: Number(r.n) }));
}

/** Write buckets from `since` (ms) on. */
export async function writeMinutesSince(db: Kysely<Database>, since: number): Promise<Array<{ minute: number; source: string; n: number }>> {
  const found = await db
    .selectFrom('write_minutes')
    .select(['minute', 'source', 'n'])
    .where('minute', '>=', since)
    .orderBy('minute')
    .orderBy('source')
    .execute();
  return found.map((r) => ({ minute: Number(r.minute), source: r.source, n: Number(r.n) }));
}

/** Inbox rows by status. */
export async function inboxCounts(db: Kysely<Database>): Promise<Map<string, number>> {
  const found = await db.selectFrom('inbox_counts').select(['status', 'n']).execute();
  return new Map(found.map((r) => [r.status, Number(r.n)]));
}

/** Records by type and source: live and deleted. */
export async function recordCountsByTypeAndSource(db: Kysely<Database>): Promise<Array<{ type: string; source: string; count: number; deleted: number }>> {
  const found = await db
    .selectFrom('record_counts')
    .select([
      'type',
      'source',
      sql<number>`sum(case when deleted = 0 then n else 0 end)`.as('live'),
      sql<number>`sum(case when deleted = 1 then n else 0 end)`.as('gone'),
    ])
    .groupBy(['type', 'source'])
    .orderBy('type')
    .orderBy('source')
    .execute();
  return found.map((r) => ({ type: r.type, source: r.source, count: Number(r.live), deleted: Number(r.gone) })).filter((r) => r.count + r.deleted > 0);
}
