import type { RecordFields, RecordType } from '../domain/records.js';
import { recordFromRow } from './record-writes.js';
import type { WriteTx } from './write-transaction.js';

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
  const row = await tx.trx.selectFrom('records').selectAll().where('type', '=', type).where('external_id', '=', externalId).executeTakeFirst();
  if (!row) return null;
  const { source, fields, attributes, sourceUpdatedAt, deleted } = recordFromRow(row, tx.dialect);
  return { source, fields, attributes, sourceUpdatedAt, deleted };
}
