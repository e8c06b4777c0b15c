/**
 * The inbox statements of the webhook hot path (the lookup of keys answered
 * before and the insert of each batch's raw deliveries), written as SQL text
 * once per engine, like the record statements, instead of built through the
 * query builder for every batch. (Measured against the builder, the CPU it
 * saves per request was within run-to-run noise.)
 */
import { CompiledQuery } from 'kysely';
import { chunked, jsonText } from './statement-text.js';

/** One inbox row as written; headers and response are JSON text already. */
export interface InboxInsert {
  received_at: number;
  route: string;
  idempotency_key: string | null;
  duplicate_of: number | null;
  headers: string;
  body: string;
  status: string;
  response_status: number | null;
  response: string | null;
  error: string | null;
}

/** The first copy of a key, as read back: `response` is text (SQLite) or parsed (pg). */
export interface FirstCopyRow {
  id: number;
  idempotency_key: string | null;
  status: string;
  response_status: number | null;
  response: unknown;
}

export interface InboxStatements {
  /** The rows whose idempotency_key is among `keys` (distinct), as one or more statements. */
  selectByKeys(keys: readonly string[]): Array<CompiledQuery<FirstCopyRow>>;
  /** Inserts `rows`, as one or more statements. */
  insert(rows: readonly InboxInsert[]): CompiledQuery[];
}

const COLUMNS = ['received_at', 'route', 'idempotency_key', 'duplicate_of', 'headers', 'body', 'status', 'response_status', 'response', 'error'] as const;

const SELECTED = 'id, idempotency_key, status, response_status, response';

// A chunk's text depends only on its length: the store's statement cache
// prepares each length once, and webhook batches come in few lengths.
const SQLITE_KEYS_PER_SELECT = 500;
const SQLITE_ROWS_PER_INSERT = 200;
const sqliteRowPlaceholders = `(${COLUMNS.map(() => '?').join(', ')})`;

export const sqliteInboxStatements: InboxStatements = {
  selectByKeys: (keys) =>
    chunked(keys, SQLITE_KEYS_PER_SELECT).map((part) =>
      CompiledQuery.raw(`select ${SELECTED} from webhook_inbox where idempotency_key in (${part.map(() => '?').join(', ')})`, [...part]),
    ),
  insert: (rows) =>
    chunked(rows, SQLITE_ROWS_PER_INSERT).map((part) => {
      const params: unknown[] = [];
      for (const r of part) {
        params.push(r.received_at, r.route, r.idempotency_key, r.duplicate_of, r.headers, r.body, r.status, r.response_status, r.response, r.error);
      }
      return CompiledQuery.raw(`insert into webhook_inbox (${COLUMNS.join(', ')}) values ${part.map(() => sqliteRowPlaceholders).join(', ')}`, params);
    }),
};

/** Rows per statement: bounds the size of one message to the server (bodies are up to the body limit each). */
const PG_ROWS_PER_INSERT = 200;

// All rows travel as one JSON array, read back by json_to_recordset, as the
// records do: one text for any number of rows, and the headers and response,
// JSON text already, spliced in as they are.
const PG_INSERT =
  `insert into webhook_inbox (${COLUMNS.join(', ')}) select ${COLUMNS.map((c) => `r.${c}`).join(', ')} from json_to_recordset($1::json) as r(` +
  'received_at bigint, route text, idempotency_key text, duplicate_of bigint, headers json, body text, status text, response_status integer, response json, error text)';

function rowJson(r: InboxInsert): string {
  return (
    `{"received_at":${r.received_at},"route":${JSON.stringify(r.route)},"idempotency_key":${jsonText(r.idempotency_key)}` +
    `,"duplicate_of":${jsonText(r.duplicate_of)},"headers":${r.headers},"body":${JSON.stringify(r.body)},"status":${JSON.stringify(r.status)}` +
    `,"response_status":${jsonText(r.response_status)},"response":${r.response ?? 'null'},"error":${jsonText(r.error)}}`
  );
}

export const postgresInboxStatements: InboxStatements = {
  selectByKeys: (keys) => [CompiledQuery.raw(`select ${SELECTED} from webhook_inbox where idempotency_key = any($1::text[])`, [[...keys]])],
  insert: (rows) => chunked(rows, PG_ROWS_PER_INSERT).map((part) => CompiledQuery.raw(PG_INSERT, [`[${part.map(rowJson).join(',')}]`])),
};
