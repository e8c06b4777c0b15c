/**
 * The statements of the record write path (the lookup, the upsert and the
 * move of the total counters), written as SQL text once per engine instead of
 * built through the query builder for every batch: they run for every webhook
 * batch and every sync page, and building a 1,000-row insert cost more than
 * executing it. Everything else goes through Kysely.
 */
import { CompiledQuery, type Insertable, type Selectable } from 'kysely';
import type { RecordsTable } from './schema.js';
import { chunked, jsonText } from './statement-text.js';

export type RecordRow = Selectable<RecordsTable>;
export type RecordInsert = Insertable<RecordsTable>;

/** A change of one bucket of record_counts. */
export interface CounterDelta {
  type: string;
  source: string;
  deleted: 0 | 1;
  n: number;
}

export interface RecordStatements {
  /** The stored rows of `type` whose external_id is among `ids`, as one or more statements. */
  selectByKeys(type: string, ids: readonly string[]): Array<CompiledQuery<RecordRow>>;
  /**
   * Inserts or replaces `rows` (distinct keys) on (type, external_id) and
   * adds `counters` (non-zero, distinct buckets) to record_counts, as one
   * or more statements.
   */
  upsert(rows: readonly RecordInsert[], counters: readonly CounterDelta[]): CompiledQuery[];
}

/** Adds each delta to its bucket, creating the bucket when it is new. */
const COUNTERS_ON_CONFLICT = 'on conflict (type, source, deleted) do update set n = record_counts.n + excluded.n';

/** Written columns, in the order of every statement below. */
const COLUMNS = [
  'type',
  'external_id',
  'source',
  'sender_id',
  'name',
  'email',
  'status',
  'budget',
  'details',
  'attributes',
  'content_hash',
  'source_updated_at',
  'created_at',
  'updated_at',
  'deleted_at',
] as const;

/** Every column but the key is replaced on conflict. */
const ON_CONFLICT = `on conflict (type, external_id) do update set ${COLUMNS.filter((c) => c !== 'type' && c !== 'external_id')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')}`;

function values(r: RecordInsert): unknown[] {
  return [
    r.type,
    r.external_id,
    r.source,
    r.sender_id ?? null,
    r.name ?? null,
    r.email ?? null,
    r.status ?? null,
    r.budget ?? null,
    r.details ?? null,
    r.attributes,
    r.content_hash,
    r.source_updated_at ?? null,
    r.created_at,
    r.updated_at,
    r.deleted_at ?? null,
  ];
}

// SQLite allows 32,766 bound parameters; a chunk's text repeats for every full
// chunk, so the store's statement cache prepares it once.
const SQLITE_KEYS_PER_SELECT = 1000;
const SQLITE_ROWS_PER_INSERT = 1000;
const sqliteRowPlaceholders = `(${COLUMNS.map(() => '?').join(', ')})`;

export const sqliteRecordStatements: RecordStatements = {
  selectByKeys: (type, ids) =>
    chunked(ids, SQLITE_KEYS_PER_SELECT).map((part) =>
      CompiledQuery.raw(`select * from records where type = ? and external_id in (${part.map(() => '?').join(', ')})`, [type, ...part]),
    ),
  upsert: (rows, counters) => [
    ...chunked(rows, SQLITE_ROWS_PER_INSERT).map((part) => {
      const params: unknown[] = [];
      for (const r of part) params.push(...values(r));
      return CompiledQuery.raw(`insert into records (${COLUMNS.join(', ')}) values ${part.map(() => sqliteRowPlaceholders).join(', ')} ${ON_CONFLICT}`, params);
    }),
    ...(counters.length === 0
      ? []
      : [
          CompiledQuery.raw(
            `insert into record_counts (type, source, deleted, n) values ${counters.map(() => '(?, ?, ?, ?)').join(', ')} ${COUNTERS_ON_CONFLICT}`,
            counters.flatMap((c) => [c.type, c.source, c.deleted, c.n]),
          ),
        ]),
  ],
};

/** PostgreSQL types of the columns, as json_to_recordset reads them. */
const PG_TYPES: Record<(typeof COLUMNS)[number], string> = {
  type: 'text',
  external_id: 'text',
  source: 'text',
  sender_id: 'bigint',
  name: 'text',
  email: 'text',
  status: 'text',
  budget: 'double precision',
  details: 'json',
  attributes: 'json',
  content_hash: 'text',
  source_updated_at: 'bigint',
  created_at: 'bigint',
  updated_at: 'bigint',
  deleted_at: 'bigint',
};

// All rows travel as one JSON array, read back by json_to_recordset: the text is
// the same for any number of rows, and the JSON columns, already serialized,
// are spliced in as they are. (Arrays per column cost more: pg escapes every
// quote of every JSON document into an array literal, and the server unescapes it.)
const PG_UPSERT = `insert into records (${COLUMNS.join(', ')}) select ${COLUMNS.map((c) => `r.${c}`).join(', ')} from json_to_recordset($1::json) as r(${COLUMNS.map((c) => `${c} ${PG_TYPES[c]}`).join(', ')}) ${ON_CONFLICT}`;

const PG_COUNTERS_WITH = `with counters as (insert into record_counts (type, source, deleted, n) select c.type, c.source, c.deleted, c.n from json_to_recordset($2::json) as c(type text, source text, deleted integer, n bigint) ${COUNTERS_ON_CONFLICT})`;

/** Rows per statement: bounds the size of one message to the server. */
const PG_ROWS_PER_INSERT = 5000;

/** One row as a JSON object; `details` and `attributes` are JSON text already and go in unquoted. */
function rowJson(r: RecordInsert): string {
  return (
    `{"type":${JSON.stringify(r.type)},"external_id":${JSON.stringify(r.external_id)},"source":${JSON.stringify(r.source)}` +
    `,"sender_id":${jsonText(r.sender_id)},"name":${jsonText(r.name)},"email":${jsonText(r.email)},"status":${jsonText(r.status)}` +
    `,"budget":${jsonText(r.budget)},"details":${r.details ?? 'null'},"attributes":${r.attributes}` +
    `,"content_hash":${JSON.stringify(r.content_hash)},"source_updated_at":${jsonText(r.source_updated_at)}` +
    `,"created_at":${jsonText(r.created_at)},"updated_at":${jsonText(r.updated_at)},"deleted_at":${jsonText(r.deleted_at)}}`
  );
}

export const postgresRecordStatements: RecordStatements = {
  // One probe of the (type, external_id) key per id. Without statistics (no
  // ANALYZE since a big load) the planner turns `external_id = any($2)`, or a
  // join, into a scan of every row of the type; `offset 0` keeps the lateral
  // subquery from being flattened into such a join.
  selectByKeys: (type, ids) => [
    CompiledQuery.raw(
      'select r.* from unnest($2::text[]) as k(id) cross join lateral (select * from records where type = $1 and external_id = k.id offset 0) as r',
      [type, [...ids]],
    ),
  ],
  // The counters ride with the last chunk, as a data-modifying WITH: one round trip fewer.
  upsert: (rows, counters) =>
    chunked(rows, PG_ROWS_PER_INSERT).map((part, i, parts) =>
      i === parts.length - 1 && counters.length > 0
        ? CompiledQuery.raw(`${PG_COUNTERS_WITH} ${PG_UPSERT}`, [`[${part.map(rowJson).join(',')}]`, JSON.stringify(counters)])
        : CompiledQuery.raw(PG_UPSERT, [`[${part.map(rowJson).join(',')}]`]),
    ),
};
