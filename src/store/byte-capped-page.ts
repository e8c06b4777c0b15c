import { sql, type Expression, type QueryExecutorProvider, type RawBuilder } from 'kysely';

/** Bytes of a column's text (a JSON column's too), 0 for NULL: the same SQL on both engines. */
export function octets(column: string): RawBuilder<number> {
  return sql<number>`coalesce(octet_length(cast(${sql.ref(column)} as text)), 0)`;
}

/** Sizes added up in SQL. */
export function sumOf(parts: ReadonlyArray<RawBuilder<number>>): RawBuilder<number> {
  return sql<number>`(${sql.join(parts, sql` + `)})`;
}

/** The columns a capped page adds to each row it keeps. */
export interface PageRank {
  page_rank: number | string;
  page_candidates: number | string;
}

export interface CappedPageQuery {
  /** The page's candidates as `page_key` and `page_bytes` (and the columns `order` names): filtered, ordered, limited. */
  sizes: Expression<unknown>;
  /** The same candidates as full rows: the same filter, order and limit. */
  rows: Expression<unknown>;
  /** The column of `rows` that `page_key` names. */
  rowKey: string;
  /** The candidates' ORDER BY, over the output columns of `sizes` (as `c`). */
  order: RawBuilder<unknown>;
  maxBytes: number;
}

/**
 * The leading candidates whose sizes add up to at most `maxBytes` (the first
 * always), in order, with `page_rank` and `page_candidates` (how many
 * candidates there were). The database adds the sizes up, so rows past the
 * cap never reach the process. Only keys and sizes go through the window
 * (whole rows made SQLite's pages 2-3x slower), and the full rows are joined
 * from the same limited candidates, not from the table, which would let
 * PostgreSQL pick a scan of the whole table for the join.
 */
export async function byteCappedRows<R extends object>(db: QueryExecutorProvider, q: CappedPageQuery): Promise<{ rows: Array<R & PageRank>; cut: boolean }> {
  const { rows } = await sql<R & PageRank>`select r.*, k.page_rank, k.page_candidates from (
      select w.page_key, w.page_rank, w.page_candidates from (
        select c.page_key,
          row_number() over (order by ${q.order}) as page_rank,
          sum(c.page_bytes) over (order by ${q.order} rows between unbounded preceding and current row) as page_running,
          count(*) over () as page_candidates
        from (${q.sizes}) as c
      ) as w
      where w.page_rank = 1 or w.page_running <= ${q.maxBytes}
    ) as k
    join (${q.rows}) as r on ${sql.ref(`r.${q.rowKey}`)} = k.page_key
    order by k.page_rank`.execute(db);
  // Fewer kept than there were candidates: cut for size, so more rows follow the last one kept.
  const cut = rows.length > 0 && rows.length < Number(rows[0]?.page_candidates);
  return { rows, cut };
}
