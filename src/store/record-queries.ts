import { sql, type Selectable } from 'kysely';
import { byteCappedRows, octets, sumOf } from './byte-capped-page.js';
import type { RecordType, StoredRecord } from '../domain/records.js';
import type { Store } from './open-store.js';
import { scannedMatch, type RecordSearch } from './record-search.js';
import type { RecordsTable } from './schema.js';

export interface RecordFilter {
  type?: RecordType | undefined;
  source?: string | undefined;
  /** ms; only records changed at or after this time, in change order. */
  updatedSince?: number | undefined;
  includeDeleted?: boolean | undefined;
}

/** What a page of a search reads: findMatches' row ids when it gave them, else rows in order, filtered. */
export interface SearchFilter {
  search: RecordSearch;
  /** Every match (from findMatches), or null: more than the cap, filter rows in row order. */
  rowIds: readonly number[] | null;
}

/**
 * Where a page starts. `row` walks the table in insertion order; `change`
 * walks (updated_at, row_id), the change feed, where an updated record moves
 * to the end and so is seen again.
 */
export type PagePosition = { kind: 'row'; rowId: number } | { kind: 'change'; updatedAt: number; rowId: number };

export interface PageRequest extends RecordFilter {
  limit: number;
  offset: number;
  after?: PagePosition | undefined;
  order: 'row' | 'change';
  /** The page stops early when its records' stored text would pass this (the first record always comes); none: no cap. */
  maxBytes?: number | undefined;
  /** Only the records of this search (row order only). */
  search?: SearchFilter | undefined;
}

/** What a record costs in a page: its stored text, counted by the database. */
const RECORD_BYTES = sumOf(['external_id', 'source', 'name', 'email', 'status', 'details', 'attributes'].map(octets));

export interface Page {
  records: StoredRecord[];
  /**
   * Position after the last record, when more may follow. In row order that
   * means more rows are already there; in change order it is given whenever
   * the page has records, because any later change lands after it: it is the
   * client's bookmark (null only for an empty page, where the client keeps the
   * cursor it came with).
   */
  next: PagePosition | null;
}

function toStored(row: Selectable<RecordsTable>, store: Store): StoredRecord {
  return {
    rowId: row.row_id,
    type: row.type as RecordType,
    external_id: row.external_id,
    source: row.source,
    fields: {
      sender_id: row.sender_id,
      name: row.name,
      email: row.email,
      status: row.status,
      budget: row.budget,
      details: (row.details === null ? null : store.dialect.decodeJson(row.details)) as Record<string, unknown> | null,
    },
    attributes: store.dialect.decodeJson(row.attributes) as Record<string, unknown>,
    sourceUpdatedAt: row.source_updated_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}

function filtered(store: Store, f: RecordFilter & { search?: SearchFilter | undefined }) {
  let q = store.db.selectFrom('records');
  if (f.type) q = q.where('type', '=', f.type);
  if (f.source) q = q.where('source', '=', f.source);
  if (f.updatedSince !== undefined) q = q.where('updated_at', '>=', f.updatedSince);
  if (!f.includeDeleted) q = q.where('deleted_at', 'is', null);
  const s = f.search;
  if (s?.rowIds) q = q.where('row_id', 'in', s.rowIds.length > 0 ? [...s.rowIds] : [-1]);
  else if (s) q = q.where((eb) => scannedMatch(eb, s.search));
  return q;
}

/** The rows a page is taken from: filtered, after the cursor, ordered, offset (exported for the tests that read its plan). */
export function pageQuery(store: Store, req: PageRequest) {
  const after = req.after;
  // A change-feed cursor also raises the plain lower bound: SQLite starts its
  // index range from `updated_at >= …` and only filters by the tuple, so with
  // the bound left at `since` it walked every change between `since` and the
  // cursor (8-12x slower at the end of a 1M-row feed).
  const lowerBound = after?.kind === 'change' ? Math.max(req.updatedSince ?? after.updatedAt, after.updatedAt) : req.updatedSince;
  let q = filtered(store, { ...req, updatedSince: lowerBound }).selectAll();
  if (after?.kind === 'row') q = q.where('row_id', '>', after.rowId);
  if (after?.kind === 'change') {
    q = q.where((eb) => eb(eb.refTuple('updated_at', 'row_id'), '>', eb.tuple(after.updatedAt, after.rowId)));
  }
  q = req.order === 'change' ? q.orderBy('updated_at').orderBy('row_id') : q.orderBy('row_id');
  if (!after && req.offset > 0) q = q.offset(req.offset);
  return q;
}

/** One page, read by keyset when `after` is given (constant cost at any depth), else by offset. */
export async function readPage(store: Store, req: PageRequest): Promise<Page> {
  const q = pageQuery(store, req);
  let rows: Array<Selectable<RecordsTable>>;
  let more: boolean;
  if (req.maxBytes === undefined) {
    rows = await q.limit(req.limit + 1).execute();
    more = rows.length > req.limit;
  } else {
    const candidates = q.limit(req.limit + 1);
    const page = await byteCappedRows<Selectable<RecordsTable>>(store.db, {
      // Sizes of the kept keys only: in the candidates' own select list PostgreSQL
      // computed them for every row an offset skips (21 s at offset 989,900).
      sizes: store.db
        .selectFrom(candidates.clearSelect().select(['row_id as key_id', 'updated_at as key_at']).as('k'))
        .innerJoin('records', 'records.row_id', 'k.key_id')
        .select(['k.key_id as page_key', 'k.key_at as updated_at', 'k.key_id as row_id', RECORD_BYTES.as('page_bytes')]),
      rows: candidates,
      rowKey: 'row_id',
      order: req.order === 'change' ? sql`c.updated_at, c.row_id` : sql`c.row_id`,
      maxBytes: req.maxBytes,
    });
    rows = page.rows;
    more = page.cut || rows.length > req.limit;
  }
  const records = rows.slice(0, req.limit).map((r) => toStored(r, store));
  const last = records.at(-1);
  let next: PagePosition | null = null;
  if (last && (more || req.order === 'change')) {
    next = req.order === 'change' ? { kind: 'change', updatedAt: last.updatedAt, rowId: last.rowId } : { kind: 'row', rowId: last.rowId };
  }
  return { records, next };
}

/**
 * Total matching records. Without `updatedSince` it is summed from the
 * counters kept by every write (a handful of rows, whatever the table size);
 * with it, the index range is counted, which costs in proportion to the
 * number of changes since that time.
 */
export async function countRecords(store: Store, f: RecordFilter): Promise<number> {
  if (f.updatedSince !== undefined) {
    const row = await filtered(store, f)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
  let q = store.db.selectFrom('record_counts').select((eb) => eb.fn.sum<number>('n').as('n'));
  if (f.type) q = q.where('type', '=', f.type);
  if (f.source) q = q.where('source', '=', f.source);
  if (!f.includeDeleted) q = q.where('deleted', '=', 0);
  const row = await q.executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function findRecord(store: Store, type: RecordType, externalId: string): Promise<StoredRecord | null> {
  const row = await store.db.selectFrom('records').selectAll().where('type', '=', type).where('external_id', '=', externalId).executeTakeFirst();
  return row ? toStored(row, store) : null;
}

/** The external ids of a source's live (not deleted) records of one type. */
export async function liveExternalIds(store: Store, type: RecordType, source: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('records')
    .select('external_id')
    .where('type', '=', type)
    .where('source', '=', source)
    .where('deleted_at', 'is', null)
    .execute();
  return rows.map((r) => r.external_id);
}
