import { setImmediate as nextTurn } from 'node:timers/promises';
import { sql, type Kysely, type Selectable } from 'kysely';
import { byteCappedRows, octets, sumOf } from './byte-capped-page.js';
import type { InboxInsert } from './inbox-statements.js';
import type { Database, WebhookInboxTable } from './schema.js';
import type { Store } from './open-store.js';
import { inWriteTransaction, type WriteTx } from './write-transaction.js';

/** The answer given to a delivery, kept so a repeat gets the same one. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export interface InboxDelivery {
  receivedAt: number;
  route: string;
  idempotencyKey: string | null;
  headers: Record<string, string>;
  body: string;
  answer: StoredAnswer;
}

/**
 * What became of a delivery: `received` (stored, not processed yet),
 * `processed`, `failed` (a dead letter, with its error; replayable) or
 * `duplicate` (its key had been seen; `duplicate_of` names the first copy).
 */
export const INBOX_STATUSES = ['received', 'processed', 'failed', 'duplicate'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

/** A stored error is cut to this length: enough to diagnose, never a whole body. */
const MAX_ERROR_LENGTH = 2000;
const errorText = (error: string): string => (error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH)}…` : error);

/**
 * The body a row keeps: a duplicate that points at its first copy keeps
 * none (empty), since repeats of one large delivery would otherwise store
 * it again each time; reads show the first copy's.
 */
const keptBody = (status: string, duplicateOf: number | null, body: string): string => (status === 'duplicate' && duplicateOf !== null ? '' : body);

/** Answers already given to any of these keys. */
export async function findAnswers(tx: WriteTx, keys: readonly string[]): Promise<Map<string, StoredAnswer>> {
  const found = new Map<string, StoredAnswer>();
  for (const [key, first] of await findFirstCopies(tx, keys)) found.set(key, first.answer);
  return found;
}

export interface FirstCopy {
  id: number;
  status: InboxStatus;
  answer: StoredAnswer;
}

/**
 * The first copy of each of these keys. Duplicates carry no key of their own
 * (they point at the first copy), so a key names at most one row.
 */
export async function findFirstCopies(tx: WriteTx, keys: readonly string[]): Promise<Map<string, FirstCopy>> {
  const found = new Map<string, FirstCopy>();
  if (keys.length === 0) return found;
  for (const query of tx.dialect.inboxStatements.selectByKeys([...new Set(keys)])) {
    const { rows } = await tx.trx.executeQuery(query);
    for (const row of rows) {
      if (row.idempotency_key === null) continue;
      found.set(row.idempotency_key, {
        id: Number(row.id),
        status: row.status as InboxStatus,
        answer: {
          status: row.response_status ?? 200,
          body: row.response === null ? null : tx.dialect.decodeJson(row.response),
        },
      });
    }
  }
  return found;
}

/** A delivery as an inbox row: raw headers and body, with the answer it was given. */
function inboxCopy(d: InboxDelivery, status: 'processed' | 'duplicate', duplicateOf: number | null): InboxInsert {
  return {
    received_at: d.receivedAt,
    route: d.route,
    // A duplicate carries no key of its own: it points at the first copy.
    idempotency_key: status === 'duplicate' ? null : d.idempotencyKey,
    duplicate_of: duplicateOf,
    headers: JSON.stringify(d.headers),
    body: keptBody(status, duplicateOf, d.body),
    status,
    response_status: d.answer.status,
    response: JSON.stringify(d.answer.body),
    error: null,
  };
}

async function insertRows(tx: WriteTx, rows: readonly InboxInsert[]): Promise<void> {
  for (const query of tx.dialect.inboxStatements.insert(rows)) await tx.trx.executeQuery(query);
  for (const r of rows) tx.counters.inboxRows(r.status, r.received_at);
}

/** Keeps each delivery raw, with its answer, in the transaction that stored its records. */
export async function recordDeliveries(tx: WriteTx, deliveries: readonly InboxDelivery[]): Promise<void> {
  await insertRows(
    tx,
    deliveries.map((d) => inboxCopy(d, 'processed', null)),
  );
}

/**
 * Records repeated deliveries as `duplicate` rows pointing at the first copy
 * of their key, with the answer they were given; call it after the first
 * copies of this transaction are in.
 */
export async function recordDuplicates(tx: WriteTx, duplicates: readonly InboxDelivery[]): Promise<void> {
  if (duplicates.length === 0) return;
  const firsts = await findFirstCopies(
    tx,
    duplicates.map((d) => d.idempotencyKey).filter((k): k is string => k !== null),
  );
  await insertRows(
    tx,
    duplicates.map((d) => inboxCopy(d, 'duplicate', d.idempotencyKey === null ? null : (firsts.get(d.idempotencyKey)?.id ?? null))),
  );
}

export interface NewInboxRow {
  receivedAt: number;
  route: string;
  idempotencyKey: string | null;
  headers: Record<string, string>;
  body: string;
  status: InboxStatus;
  duplicateOf?: number | null;
  answer?: StoredAnswer | null;
  error?: string | null;
}

/** Inserts rows in as few statements as the engine allows (no ids back). */
export async function recordInboxRows(tx: WriteTx, rows: readonly NewInboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await insertRows(
    tx,
    rows.map((row) => ({
      received_at: row.receivedAt,
      route: row.route,
      idempotency_key: row.idempotencyKey,
      duplicate_of: row.duplicateOf ?? null,
      headers: JSON.stringify(row.headers),
      body: keptBody(row.status, row.duplicateOf ?? null, row.body),
      status: row.status,
      response_status: row.answer ? row.answer.status : null,
      response: row.answer ? JSON.stringify(row.answer.body) : null,
      error: row.error == null ? null : errorText(row.error),
    })),
  );
}

/** Inserts one row and returns its id. */
export async function insertInboxRow(tx: WriteTx, row: NewInboxRow): Promise<number> {
  const inserted = await tx.trx
    .insertInto('webhook_inbox')
    .values({
      received_at: row.receivedAt,
      route: row.route,
      idempotency_key: row.idempotencyKey,
      duplicate_of: row.duplicateOf ?? null,
      headers: JSON.stringify(row.headers),
      body: keptBody(row.status, row.duplicateOf ?? null, row.body),
      status: row.status,
      response_status: row.answer ? row.answer.status : null,
      response: row.answer ? JSON.stringify(row.answer.body) : null,
      error: row.error == null ? null : errorText(row.error),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  tx.counters.inboxRows(row.status, row.receivedAt);
  return Number(inserted.id);
}

/** Sets a row's outcome: processed with its answer, or failed with its error (and the answer given, if any). */
export async function setInboxOutcome(
  tx: WriteTx,
  id: number,
  outcome: { status: 'processed' | 'failed'; answer: StoredAnswer | null; error: string | null },
): Promise<void> {
  // The status it leaves, for the counters; under the write lock nothing changes it meanwhile.
  const before = await tx.trx.selectFrom('webhook_inbox').select(['status', 'received_at']).where('id', '=', id).executeTakeFirst();
  if (before && before.status !== outcome.status) {
    tx.counters.inboxRows(before.status, Number(before.received_at), -1);
    tx.counters.inboxRows(outcome.status, Number(before.received_at), +1);
  }
  await tx.trx
    .updateTable('webhook_inbox')
    .set({
      status: outcome.status,
      // No new answer (a replay that failed again) keeps the one the row gave,
      // so a sender's retry still gets the dead letter's 202.
      ...(outcome.answer ? { response_status: outcome.answer.status, response: JSON.stringify(outcome.answer.body) } : {}),
      error: outcome.error === null ? null : errorText(outcome.error),
    })
    .where('id', '=', id)
    .execute();
}

/** One inbox row as the API and the processors read it. */
export interface InboxRow {
  id: number;
  receivedAt: number;
  route: string;
  idempotencyKey: string | null;
  duplicateOf: number | null;
  headers: Record<string, string>;
  /** As received; on a duplicate, its first copy's (null once the first copy has been deleted). */
  body: string | null;
  status: InboxStatus;
  responseStatus: number | null;
  response: unknown;
  error: string | null;
}

type Reader = Pick<Kysely<Database>, 'selectFrom' | 'getExecutor'>;

type ReadRow = Selectable<WebhookInboxTable> & { first_body: string | null };

function rowFrom(r: ReadRow, decode: (v: unknown) => unknown): InboxRow {
  return {
    id: Number(r.id),
    receivedAt: Number(r.received_at),
    route: r.route,
    idempotencyKey: r.idempotency_key,
    duplicateOf: r.duplicate_of === null ? null : Number(r.duplicate_of),
    headers: decode(r.headers) as Record<string, string>,
    // Older duplicates kept a body of their own: that one is shown.
    body: r.status === 'duplicate' && r.body === '' && r.duplicate_of !== null ? r.first_body : r.body,
    status: r.status as InboxStatus,
    responseStatus: r.response_status,
    response: r.response === null ? null : decode(r.response),
    error: r.error,
  };
}

/** A row's status alone (null: no such row), for the checks made under the write lock. */
export async function getInboxStatus(db: Reader, id: number): Promise<InboxStatus | null> {
  const row = await db.selectFrom('webhook_inbox').select('status').where('id', '=', id).executeTakeFirst();
  return row ? (row.status as InboxStatus) : null;
}

/** Inbox rows with the body of each one's first copy beside them (a duplicate keeps none of its own). */
function withFirstBody(db: Reader) {
  return db.selectFrom('webhook_inbox as i').leftJoin('webhook_inbox as f', 'f.id', 'i.duplicate_of').selectAll('i').select('f.body as first_body');
}

export async function getInboxRow(db: Reader, decode: (v: unknown) => unknown, id: number): Promise<InboxRow | null> {
  const row = await withFirstBody(db).where('i.id', '=', id).executeTakeFirst();
  return row ? rowFrom(row, decode) : null;
}

export interface InboxListing {
  statuses?: readonly InboxStatus[];
  routes?: readonly string[];
  /** Only rows with a smaller id: the keyset of a newest-first listing. */
  beforeId?: number;
  limit: number;
  /** The page stops early when its rows' stored text would pass this. */
  maxBytes: number;
}

/** The body a row is shown with: its own, or on a duplicate that keeps none, its first copy's. */
const SHOWN_BODY = sql<string>`case when i.status = 'duplicate' and i.body = '' and i.duplicate_of is not null then f.body else i.body end`;

/**
 * Rows newest first (by id, which grows with arrival), at most `limit` and
 * about `maxBytes` of stored text; `more` says whether older rows follow.
 */
export async function listInboxRows(db: Reader, decode: (v: unknown) => unknown, q: InboxListing): Promise<{ rows: InboxRow[]; more: boolean }> {
  const size = sumOf([octets('i.headers'), octets('i.response'), octets('i.error'), sql<number>`coalesce(octet_length(${SHOWN_BODY}), 0)`]);
  let candidates = withFirstBody(db);
  if (q.statuses && q.statuses.length > 0) candidates = candidates.where('i.status', 'in', [...q.statuses]);
  if (q.routes && q.routes.length > 0) candidates = candidates.where('i.route', 'in', [...q.routes]);
  if (q.beforeId !== undefined) candidates = candidates.where('i.id', '<', q.beforeId);
  candidates = candidates.orderBy('i.id', 'desc').limit(q.limit + 1);
  const page = await byteCappedRows<ReadRow>(db, {
    sizes: candidates.clearSelect().select(['i.id as page_key', size.as('page_bytes')]),
    rows: candidates,
    rowKey: 'id',
    order: sql`c.page_key desc`,
    maxBytes: q.maxBytes,
  });
  const rows = page.rows.slice(0, q.limit).map((r) => rowFrom(r, decode));
  return { rows, more: page.cut || page.rows.length > q.limit };
}

/**
 * Deletes rows of these statuses received before `before`, a batch at a time
 * so no statement holds the table long, until done or `keepGoing` says stop;
 * returns how many went.
 */
export async function deleteInboxRowsBefore(
  store: Store,
  statuses: readonly InboxStatus[],
  before: number,
  batch = 1000,
  keepGoing: () => boolean = () => true,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    // A batch per write transaction: the rows read are the rows deleted, and the counters move with them.
    const found = await inWriteTransaction(store, async (tx) => {
      const rows = await tx.trx
        .selectFrom('webhook_inbox')
        .select(['id', 'status'])
        .where('status', 'in', [...statuses])
        .where('received_at', '<', before)
        .orderBy('received_at')
        .limit(batch)
        .execute();
      if (rows.length === 0) return 0;
      await tx.trx
        .deleteFrom('webhook_inbox')
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      const byStatus = new Map<string, number>();
      for (const r of rows) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      for (const [status, n] of byStatus) tx.counters.inboxRowsDeleted(status, n);
      return rows.length;
    });
    deleted += found;
    if (found < batch || !keepGoing()) return deleted;
    // SQLite runs each batch synchronously: without a turn between batches a
    // large backlog would hold every request (and a shutdown) until it ends.
    await nextTurn();
  }
}
