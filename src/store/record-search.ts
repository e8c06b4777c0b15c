import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { RECORD_TYPES, type RecordType } from '../domain/records.js';
import type { SearchColumn } from './dialect.js';
import type { Store } from './open-store.js';
import type { RecordFilter } from './record-queries.js';
import type { Database } from './schema.js';

/** `email=` (exact) and `q=` (prefix of external_id, email or name), both case-insensitive; given together, both must hold. */
export interface RecordSearch {
  email?: string | undefined;
  q?: string | undefined;
}

/**
 * A search counts its matches up to this many; past it the total is given as
 * "at least" this. An exact count of a short prefix (`q=a`) would read every
 * match, at 1M records a large part of the table, on every page.
 */
export const SEARCH_TOTAL_CAP = 1000;

const FIELDS: readonly SearchColumn[] = ['external_id', 'email', 'name'];

// The highest code point: text starting with a prefix sorts below prefix + TOP
// (bytewise, which is code point order in UTF-8), so [prefix, prefix + TOP) is
// the prefix's index range. Only text with TOP itself after the prefix, a
// noncharacter, is missed.
const TOP = '\u{10FFFF}';

type RecordsEb = ExpressionBuilder<Database, 'records'>;

/**
 * The search as index ranges of migration 010: every branch is (type IN …)
 * and one field's lowercased value, so each is one range of one index. Both
 * sides are lowercased by the database, so the search folds case exactly as
 * the index does (SQLite's lower() folds ASCII letters only).
 */
function indexedMatch(eb: RecordsEb, store: Store, search: RecordSearch, types: readonly RecordType[]): Expression<SqlBool> {
  const key = (c: SearchColumn) => store.dialect.searchKey(c);
  const typeIn = eb('type', 'in', [...types]);
  const conds: Array<Expression<SqlBool>> = [];
  if (search.email !== undefined) conds.push(eb.and([typeIn, eb(key('email'), '=', sql<string>`lower(${search.email})`)]));
  if (search.q !== undefined) {
    const low = sql<string>`lower(${search.q})`;
    const high = sql<string>`lower(${search.q}) || ${TOP}`;
    conds.push(eb.or(FIELDS.map((f) => eb.and([typeIn, eb(key(f), '>=', low), eb(key(f), '<', high)]))));
  }
  return eb.and(conds);
}

/**
 * The same search written so that no index serves it: for a search with
 * more matches than the cap, where a page is read in row order and the
 * matches come often enough that filtering rows is cheaper than gathering
 * every match from the indexes and sorting them.
 */
export function scannedMatch(eb: RecordsEb, search: RecordSearch): Expression<SqlBool> {
  const conds: Array<Expression<SqlBool>> = [];
  if (search.email !== undefined) conds.push(eb(sql<string>`lower(${sql.ref('email')}) || ''`, '=', sql<string>`lower(${search.email})`));
  if (search.q !== undefined) {
    const low = sql<string>`lower(${search.q})`;
    conds.push(eb.or(FIELDS.map((f) => eb(sql<string>`substr(lower(${sql.ref(f)}), 1, length(${low}))`, '=', low))));
  }
  return eb.and(conds);
}

/**
 * Rows a page of a search with more than SEARCH_TOTAL_CAP matches reads in
 * row order after the cursor before it asks the indexes instead. Matches
 * that frequent usually fill a page within a few hundred rows; when they lie
 * elsewhere (all before the cursor, or far apart), the scan stops here.
 */
export const SEARCH_SCAN_WINDOW = 20_000;

export interface SearchMatches {
  /** Every matching row id, ascending, when there are at most SEARCH_TOTAL_CAP; null when there are more. */
  rowIds: number[] | null;
  /** The number of matches, or SEARCH_TOTAL_CAP when there are more. */
  total: number;
  atLeast: boolean;
}

/**
 * The matches of a search under a filter (type, source, deleted), read from
 * the indexes and stopped after SEARCH_TOTAL_CAP + 1: at most that many rows
 * are read, whatever the table size.
 */
export async function findMatches(store: Store, search: RecordSearch, f: RecordFilter): Promise<SearchMatches> {
  const rows = await matchesQuery(store, search, f).execute();
  if (rows.length > SEARCH_TOTAL_CAP) return { rowIds: null, total: SEARCH_TOTAL_CAP, atLeast: true };
  return { rowIds: rows.map((r) => Number(r.row_id)).sort((a, b) => a - b), total: rows.length, atLeast: false };
}

/** The statement findMatches runs (exported for the tests that read its plan). */
export function matchesQuery(store: Store, search: RecordSearch, f: RecordFilter) {
  const types = f.type ? [f.type] : RECORD_TYPES;
  let q = store.db
    .selectFrom('records')
    .select('row_id')
    .where((eb) => indexedMatch(eb, store, search, types));
  // Written so no index serves it: without statistics SQLite took the source
  // index (every row of that source) over the search ranges.
  if (f.source) q = q.where(sql<string>`${sql.ref('source')} || ''`, '=', f.source);
  if (!f.includeDeleted) q = q.where('deleted_at', 'is', null);
  return q.limit(SEARCH_TOTAL_CAP + 1);
}

/**
 * The row ids of the next `n` matches after `afterRowId`, ascending, for a
 * search with more matches than the cap: first the next SEARCH_SCAN_WINDOW
 * rows are read in row order and filtered, then, when that gave fewer than
 * `n`, the indexes give the matches past the window, sorted. The second step
 * reads every index entry of the search's ranges past the window, but only
 * when matches are scarce after the cursor.
 */
export async function nextMatchIds(
  store: Store,
  search: RecordSearch,
  f: RecordFilter,
  afterRowId: number,
  n: number,
  scanWindow = SEARCH_SCAN_WINDOW,
): Promise<number[]> {
  const windowEnd = afterRowId + scanWindow;
  const scanned = await filteredIds(store, f)
    .where((eb) => scannedMatch(eb, search))
    .where('row_id', '>', afterRowId)
    .where('row_id', '<=', windowEnd)
    .orderBy('row_id')
    .limit(n)
    .execute();
  const ids = scanned.map((r) => Number(r.row_id));
  if (ids.length >= n) return ids;
  const later = await laterMatchesQuery(store, search, f, windowEnd, n - ids.length).execute();
  return [...ids, ...later.map((r) => Number(r.row_id))];
}

/**
 * The first `n` matches after `afterRowId`, from the search ranges, sorted
 * (exported for the tests that read its plan). `row_id + 0`: neither engine
 * may walk the table in row order for this (without statistics SQLite would,
 * reading every row after the window).
 */
export function laterMatchesQuery(store: Store, search: RecordSearch, f: RecordFilter, afterRowId: number, n: number) {
  const types = f.type ? [f.type] : RECORD_TYPES;
  return filteredIds(store, { ...f, type: undefined })
    .where((eb) => indexedMatch(eb, store, search, types))
    .where(sql<number>`${sql.ref('row_id')} + 0`, '>', afterRowId)
    .orderBy(sql`${sql.ref('row_id')} + 0`)
    .limit(n);
}

/** Row ids under a filter's type, source and deleted conditions. */
function filteredIds(store: Store, f: RecordFilter) {
  let q = store.db.selectFrom('records').select('row_id');
  if (f.type) q = q.where('type', '=', f.type);
  // Written so no index serves it: without statistics SQLite took the source
  // index (every row of that source) over the search ranges.
  if (f.source) q = q.where(sql<string>`${sql.ref('source')} || ''`, '=', f.source);
  if (!f.includeDeleted) q = q.where('deleted_at', 'is', null);
  return q;
}
