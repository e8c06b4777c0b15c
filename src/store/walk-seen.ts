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
      : CompiledQuery.raw('insert into walk_seen (source, walk, external_id) select ?, ?, value from json_each(?)', [key.source, walkName(key), JSON.stringify(ids)]);
  await tx.trx.executeQuery(query);
}

/**
 * Up to `limit` external ids of the source's live records of the walk's type
 * (and prefix) that the walk did not list. An anti-join: SQLite builds an
 * automatic index on walk_seen for it, PostgreSQL uses its index or hashes.
 */
export async function unseenLiveIds(store: Store, key: WalkKey, limit: number): Promise<string[]> {
  const prefix = key.idPrefix ? sql`and substr(r.external_id, 1, ${key.idPrefix.length}) = ${key.idPrefix}` : sql``;
  const rows = await sql<{ external_id: string }>`
    select r.external_id from records r
    left join walk_seen s on s.source = ${key.source} and s.walk = ${walkName(key)} and s.external_id = r.external_id
    where r.type = ${key.type} and r.source = ${key.source} and r.deleted_at is null
      and s.external_id is null ${prefix}
    limit ${limit}`.execute(store.db);
  return rows.rows.map((r) => r.external_id);
}
