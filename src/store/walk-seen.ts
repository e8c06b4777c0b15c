import { CompiledQuery, sql } from 'kysely';
import type { RecordType } from '../domain/records.js';
import type { Store } from './open-store.js';
import type { WriteTx } from './write-transaction.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * The ids a walk of every record of a source has listed (migration 011),
 * kept in the store rather than in memory: a walk of millions of records
 * holds nothing per record until its sweep.
 */
export interface WalkKey {
  source: string;
  type: RecordType;
  /** The walk listed only the records whose external_id starts with this. */
  idPrefix?: string | undefined;
}

const walkName = (k: WalkKey): string => `${k.type}:${k.idPrefix ?? ''}`;

/** Forgets what an earlier walk of this key listed (a walk starting over, or swept). */
export async function clearWalkSeen(tx: WriteTx, key: WalkKey): Promise<void> {
  await tx.trx.deleteFrom('walk_seen').where('source', '=', key.source).where('walk', '=', walkName(key)).execute();
}

/** Keeps a page's ids as listed by the walk: one statement with the ids as one parameter. */
export async function markWalkSeen(tx: WriteTx, key: WalkKey, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  const query =
    tx.dialect.name === 'postgres'
      ? CompiledQuery.raw('insert into walk_seen (source, walk, external_id) select $1, $2, unnest($3::text[])', [key.source, walkName(key), [...ids]])
      : CompiledQuery.raw('insert into walk_seen (source, walk, external_id) select ?, ?, value from json_each(?)', [
          key.source,
          walkName(key),
          JSON.stringify(ids),
        ]);
  await tx.trx.executeQuery(query);
}

/** Records looked at per query of the sweep: a query holds SQLite's one connection (and the event loop) to its end. */
const SWEEP_CHUNK = 20_000;

/**
 * Up to `limit` external ids of the source's live records of the walk's type
 * (and prefix) that the walk did not list: the records table read in row id
 * ranges, each record looked up in walk_seen's index, the event loop given a
 * turn between ranges (a million-record sweep in one query held it past the
 * task's lease).
 */
export async function unseenLiveIds(store: Store, key: WalkKey, limit: number): Promise<string[]> {
  const walk = walkName(key);
  const prefix = key.idPrefix ? sql`and substr(r.external_id, 1, ${key.idPrefix.length}) = ${key.idPrefix}` : sql``;
  const last = await store.db
    .selectFrom('records')
    .select((eb) => eb.fn.max('row_id').as('last'))
    .executeTakeFirst();
  const end = Number(last?.last ?? 0);
  const out: string[] = [];
  for (let from = 0; from < end && out.length < limit; from += SWEEP_CHUNK) {
    if (from > 0) await nextTurn();
    const { rows } = await sql<{ external_id: string }>`
      select r.external_id from records r
      where r.row_id > ${from} and r.row_id <= ${from + SWEEP_CHUNK}
        and r.type = ${key.type} and r.source = ${key.source} and r.deleted_at is null ${prefix}
        and not exists (select 1 from walk_seen s where s.source = ${key.source} and s.walk = ${walk} and s.external_id = r.external_id)
      limit ${limit - out.length}`.execute(store.db);
    for (const r of rows) out.push(r.external_id);
  }
  return out;
}
