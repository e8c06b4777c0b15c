import { CompiledQuery, type Transaction } from 'kysely';
import { CounterMoves } from './console-counters.js';
import type { Dialect } from './dialect.js';
import type { Store } from './open-store.js';
import type { Database } from './schema.js';

/** A write transaction with the store's change clock already read. */
export interface WriteTx {
  readonly trx: Transaction<Database>;
  readonly dialect: Dialect;
  /** The change time of everything this transaction writes (ms). */
  readonly now: number;
  /** Moves of the console counters (migration 009), written when `fn` has done its writes. */
  readonly counters: CounterMoves;
}

// Written once rather than built for every transaction it opens.
const LATEST_CHANGE = CompiledQuery.raw('select max(updated_at) as latest from records') as CompiledQuery<{ latest: number | string | null }>;

/**
 * Runs `fn` in one transaction that holds the store's write lock. `now` is
 * strictly later than any `updated_at` already committed, so the change feed
 * (ordered by updated_at, row_id) only ever grows at its end, even when
 * several processes write to one PostgreSQL or a clock steps back.
 */
export async function inWriteTransaction<T>(store: Store, fn: (tx: WriteTx) => Promise<T>): Promise<T> {
  // The transaction's opening statement has taken the write lock (Dialect.beginTransaction).
  return store.db.transaction().execute(async (trx) => {
    const { rows } = await trx.executeQuery(LATEST_CHANGE);
    const latest = Number(rows[0]?.latest ?? 0);
    const now = Math.max(Date.now(), latest + 1);
    const counters = new CounterMoves(now);
    const result = await fn({ trx, dialect: store.dialect, now, counters });
    for (const query of counters.statements(store.dialect.name)) await trx.executeQuery(query);
    return result;
  });
}
