import { CompiledQuery, sql } from 'kysely';
import type { RecordType } from '../domain/records.js';
import type { Store } from './open-store.js';
import type { WriteTx } from './write-transaction.js';

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

/**
 * Up to `limit` external ids of the source's live records of the walk's type
 * (and prefix) that the walk did not list. On SQLite the walk's ids are read
 * once into a temporary index (a list subquery: a join would scan the
 * unindexed table for every record); on PostgreSQL an anti-join on the index.
 */
export async function unseenLiveIds(store: Store, key: WalkKey, limit: number): Promise<string[]> {
  const walk = walkName(key);
  const prefix = key.idPrefix ? sql`and substr(r.external_id, 1, ${key.idPrefix.length}) = ${key.idPrefix}` : sql``;
  const unseen =
    store.dialect.name === 'postgres'
      ? sql`not exists (select 1 from walk_seen s where s.source = ${key.source} and s.walk = ${walk} and s.external_id = r.external_id)`
      : sql`r.external_id not in (select external_id from walk_seen where source = ${key.source} and walk = ${walk})`;
  const { rows } = await sql<{ external_id: string }>`
    select r.external_id from records r
    where r.type = ${key.type} and r.source = ${key.source} and r.deleted_at is null ${prefix} and ${unseen}
    limit ${limit}`.execute(store.db);
  return rows.map((r) => r.external_id);
}
