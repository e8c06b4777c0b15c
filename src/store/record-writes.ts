import { hashContent, type HashedContent, type ReconcileWrite, type RecordType, type RecordWrite, type WriteResult } from '../domain/records.js';
import type { Dialect } from './dialect.js';
import type { CounterDelta, RecordInsert, RecordRow } from './record-statements.js';
import type { WriteTx } from './write-transaction.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface AppliedWrite {
  type: RecordType;
  external_id: string;
  result: WriteResult;
}

const keyOf = (type: string, externalId: string): string => `${type}\u0000${externalId}`;

async function readExisting(tx: WriteTx, writes: readonly RecordWrite[]): Promise<Map<string, RecordRow>> {
  const idsByType = new Map<RecordType, Set<string>>();
  for (const w of writes) {
    let ids = idsByType.get(w.type);
    if (!ids) idsByType.set(w.type, (ids = new Set()));
    ids.add(w.external_id);
  }
  const found = new Map<string, RecordRow>();
  for (const [type, ids] of idsByType) {
    for (const query of tx.dialect.recordStatements.selectByKeys(type, [...ids])) {
      const { rows } = await tx.trx.executeQuery(query);
      for (const row of rows) found.set(keyOf(row.type, row.external_id), row);
    }
  }
  return found;
}

/** The row to store; the JSON columns are the canonical texts the hash was made from (keys sorted). */
function rowFromWrite(w: RecordWrite, content: HashedContent, now: number, createdAt: number): RecordInsert {
  return {
    type: w.type,
    external_id: w.external_id,
    source: w.source,
    sender_id: w.fields.sender_id,
    name: w.fields.name,
    email: w.fields.email,
    status: w.fields.status,
    budget: w.fields.budget,
    details: content.details,
    attributes: content.attributes,
    content_hash: content.hash,
    source_updated_at: w.sourceUpdatedAt,
    created_at: createdAt,
    updated_at: now,
    deleted_at: w.deleted ? now : null,
  };
}

/** JSON columns come back as text (SQLite) or parsed (pg); rows to write carry text. */
function insertableFromRow(row: RecordRow): RecordInsert {
  const { row_id: _rowId, details, attributes, ...rest } = row;
  const text = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  return { ...rest, details: details === null ? null : text(details), attributes: text(attributes) };
}

const asObject = (v: unknown): Record<string, unknown> | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/**
 * A stored row (as read, or as about to be written) turned back into a write:
 * a deletion keeps the last known fields, and partial updates start from it.
 */
export function recordFromRow(row: RecordInsert | RecordRow, dialect: Dialect): RecordWrite {
  return {
    type: row.type as RecordType,
    external_id: row.external_id,
    source: row.source,
    fields: {
      sender_id: row.sender_id ?? null,
      name: row.name ?? null,
      email: row.email ?? null,
      status: row.status ?? null,
      budget: row.budget ?? null,
      details: row.details == null ? null : asObject(dialect.decodeJson(row.details)),
    },
    attributes: asObject(dialect.decodeJson(row.attributes)) ?? {},
    sourceUpdatedAt: row.source_updated_at ?? null,
    deleted: row.deleted_at != null,
  };
}

/** State of one key while a batch is applied; `row` is what will be stored. */
interface KeyState {
  row: RecordInsert;
  /** Present when the key existed before this transaction: its counter bucket. */
  before: { source: string; deleted: boolean } | null;
  dirty: boolean;
}

/** Writes hashed per slice; between slices the event loop takes a turn. */
const HASH_SLICE = 200;

/**
 * The hashed contents of `writes`, for `applyRecordWrites`, computed before its
 * transaction and a slice at a time: a 1,000-record sync page takes several
 * milliseconds to hash, too long to hold the event loop (and the next page's
 * response) in one go.
 */
export async function hashWrites(writes: readonly RecordWrite[]): Promise<HashedContent[]> {
  const hashed = new Array<HashedContent>(writes.length);
  for (let i = 0; i < writes.length; i++) {
    if (i > 0 && i % HASH_SLICE === 0) await nextTurn();
    hashed[i] = hashContent(writes[i] as RecordWrite);
  }
  return hashed;
}

/**
 * The one upsert path for webhooks and syncs. Reads the stored versions of
 * the batch's keys, decides per write (in order, so repeats of a key inside
 * one batch behave as if sent one after another), then writes every changed
 * key with one multi-row upsert and moves the total counters to match.
 * Runs inside `inWriteTransaction`, whose lock makes the read-then-write safe.
 * `hashed`, from `hashWrites`, saves hashing inside the transaction.
 * `reconcile`, the sender's, sees each write to a stored key first.
 */
export async function applyRecordWrites(
  tx: WriteTx,
  writes: readonly RecordWrite[],
  hashed?: readonly HashedContent[],
  reconcile?: ReconcileWrite,
): Promise<AppliedWrite[]> {
  if (writes.length === 0) return [];
  const existing = await readExisting(tx, writes);
  const states = new Map<string, KeyState>();
  const results: AppliedWrite[] = [];
  /** Records created, changed or deleted, by source: the per-minute write counters. */
  const written = new Map<string, number>();

  for (let i = 0; i < writes.length; i++) {
    const sent = writes[i] as RecordWrite;
    let incoming = sent;
    const key = keyOf(incoming.type, incoming.external_id);
    let state = states.get(key);
    if (!state) {
      const row = existing.get(key);
      if (row) {
        state = { row: insertableFromRow(row), before: { source: row.source, deleted: row.deleted_at !== null }, dirty: false };
        states.set(key, state);
      }
    }
    const result = (r: WriteResult) => {
      results.push({ type: incoming.type, external_id: incoming.external_id, result: r });
      if (r !== 'unchanged' && r !== 'stale') written.set(incoming.source, (written.get(incoming.source) ?? 0) + 1);
    };

    if (!state) {
      const content = hashed?.[i] ?? hashContent(incoming);
      states.set(key, { row: rowFromWrite(incoming, content, tx.now, tx.now), before: null, dirty: true });
      result(incoming.deleted ? 'deleted' : 'created');
      continue;
    }
    const current = state.row;
    if (reconcile) {
      const r = reconcile(sent, recordFromRow(current, tx.dialect));
      if (r === 'stale') {
        result('stale');
        continue;
      }
      incoming = r;
    }
    // A reconciled write is hashed afresh.
    const sentHash = incoming === sent ? hashed?.[i] : undefined;
    const storedAt = current.source_updated_at ?? null;
    if (incoming.sourceUpdatedAt !== null && storedAt !== null && incoming.sourceUpdatedAt < storedAt) {
      result('stale');
      continue;
    }
    // A deletion keeps the last known fields; only the tombstone is new.
    const effective: RecordWrite = incoming.deleted
      ? { ...recordFromRow(current, tx.dialect), deleted: true, sourceUpdatedAt: incoming.sourceUpdatedAt ?? storedAt }
      : incoming;
    const content = effective === incoming ? (sentHash ?? hashContent(incoming)) : hashContent(effective);
    if (content.hash === current.content_hash) {
      if (effective.sourceUpdatedAt !== null && (storedAt === null || effective.sourceUpdatedAt > storedAt)) {
        // Newer timestamp, same content: remember it for the guard without moving updated_at.
        current.source_updated_at = effective.sourceUpdatedAt;
        state.dirty = true;
      }
      result('unchanged');
      continue;
    }
    const next = rowFromWrite(effective, content, tx.now, current.created_at);
    if (effective.deleted && current.deleted_at != null) next.deleted_at = current.deleted_at;
    state.row = next;
    state.dirty = true;
    result(effective.deleted ? 'deleted' : 'updated');
  }

  const dirty = [...states.values()].filter((s) => s.dirty);
  for (const query of tx.dialect.recordStatements.upsert(
    dirty.map((s) => s.row),
    counterDeltas(dirty),
  )) {
    await tx.trx.executeQuery(query);
  }
  for (const [source, n] of written) tx.counters.recordsWritten(source, n);
  return results;
}

/** How the written keys move the total counters: out of the bucket each was in, into the one it is in now. */
function counterDeltas(dirty: readonly KeyState[]): CounterDelta[] {
  const deltas = new Map<string, CounterDelta>();
  const bump = (type: string, source: string, deleted: boolean, by: number) => {
    const k = `${type}\u0000${source}\u0000${deleted ? 1 : 0}`;
    const d = deltas.get(k) ?? { type, source, deleted: deleted ? 1 : 0, n: 0 };
    d.n += by;
    deltas.set(k, d);
  };
  for (const s of dirty) {
    if (s.before) bump(s.row.type, s.before.source, s.before.deleted, -1);
    bump(s.row.type, s.row.source, s.row.deleted_at != null, +1);
  }
  return [...deltas.values()].filter((d) => d.n !== 0);
}
