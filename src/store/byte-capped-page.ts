import { sql, type Expression, type QueryExecutorProvider, type RawBuilder } from 'kysely';

/** Bytes of a column's text (a JSON column's too), 0 for NULL: the same SQL on both engines. */
export function octets(column: string): RawBuilder<number> {
  return sql<number>`coalesce(octet_length(cast(${sql.ref(column)} as text)), 0)`;
}

/** Sizes added up in SQL. */
export function sumOf(parts: ReadonlyArray<RawBuilder<number>>): RawBuilder<number> {
  return sql<number>`(${sql.join(parts, sql` + `)})`;
}

export interface CappedPage<R> {
  rows: R[];
  /** Candidates were left out for size: more rows follow the last one kept. */
  cut: boolean;
}

/**
 * Keeps, in their order, the leading rows of `candidates` (an ordered,
 * limited query with a `page_bytes` column) whose sizes add up to at most
 * `maxBytes`; the first row always. The sizes are added up by the database,
 * so rows past the cap are never sent to the process: a page of large items
 * costs the cap, not `limit` times the largest item. `order` is the
 * candidates' own ORDER BY, over their output columns.
 */
export async function byteCappedRows<R extends object>(
  db: QueryExecutorProvider,
  candidates: Expression<unknown>,
  order: RawBuilder<unknown>,
  maxBytes: number,
): Promise<CappedPage<R>> {
  type Ranked = R & { page_rank: number | string; page_candidates: number | string };
  const { rows } = await sql<Ranked>`select * from (
      select c.*,
        row_number() over (order by ${order}) as page_rank,
        sum(c.page_bytes) over (order by ${order} rows between unbounded preceding and current row) as page_running,
        count(*) over () as page_candidates
      from (${candidates}) as c
    ) as w
    where w.page_rank = 1 or w.page_running <= ${maxBytes}
    order by ${order}`.execute(db);
  const candidatesCount = rows.length === 0 ? 0 : Number(rows[0]?.page_candidates);
  return { rows, cut: rows.length < candidatesCount };
}
