import type { RecordFields, RecordType, RecordWrite } from '../domain/records.js';
import { recordFromRow, type AppliedWrite } from '../store/record-writes.js';
import type { WriteTx } from '../store/write-transaction.js';

/** A record as stored, read inside the write transaction that will change it. */
export interface CurrentRecord {
  source: string;
  fields: RecordFields;
  attributes: Record<string, unknown>;
  sourceUpdatedAt: number | null;
  deleted: boolean;
}

/**
 * Reads one record (tombstones included) in the write transaction, so an
 * event that edits part of a record sees every earlier write, even one made
 * earlier in the same transaction.
 */
export async function readCurrent(tx: WriteTx, type: RecordType, externalId: string): Promise<CurrentRecord | null> {
  const row = await tx.trx
    .selectFrom('records')
    .selectAll()
    .where('type', '=', type)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  if (!row) return null;
  const { source, fields, attributes, sourceUpdatedAt, deleted } = recordFromRow(row, tx.dialect);
  return { source, fields, attributes, sourceUpdatedAt, deleted };
}

/** A write that keeps a stored record as it is but for what `change` sets. */
export function writeFrom(
  type: RecordType,
  externalId: string,
  source: string,
  current: CurrentRecord | null,
  change: Partial<Pick<RecordWrite, 'attributes' | 'sourceUpdatedAt' | 'deleted'>> & { fields?: Partial<RecordFields> },
): RecordWrite {
  const fields: RecordFields = current
    ? { ...current.fields }
    : { sender_id: null, name: null, email: null, status: null, budget: null, details: null };
  return {
    type,
    external_id: externalId,
    source,
    fields: { ...fields, ...change.fields },
    attributes: change.attributes ?? current?.attributes ?? {},
    sourceUpdatedAt: change.sourceUpdatedAt !== undefined ? change.sourceUpdatedAt : (current?.sourceUpdatedAt ?? null),
    deleted: change.deleted ?? false,
  };
}

/** The entry an answer lists for a record an event left alone. */
export const untouched = (type: RecordType, externalId: string, result: 'unchanged' | 'stale'): AppliedWrite => ({
  type,
  external_id: externalId,
  result,
});

/** The later of two optional times. */
export const later = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
