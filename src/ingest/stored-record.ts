import type { RecordFields, RecordType, RecordWrite } from '../domain/records.js';
import type { CurrentRecord } from '../store/current-record.js';
import type { AppliedWrite } from '../store/record-writes.js';

// Read in the store; re-exported here beside the helpers that build on it.
export { readCurrent, type CurrentRecord } from '../store/current-record.js';

/** A write that keeps a stored record as it is but for what `change` sets. */
export function writeFrom(
  type: RecordType,
  externalId: string,
  source: string,
  current: CurrentRecord | null,
  change: Partial<Pick<RecordWrite, 'attributes' | 'sourceUpdatedAt' | 'deleted'>> & { fields?: Partial<RecordFields> },
): RecordWrite {
  const fields: RecordFields = current ? { ...current.fields } : { sender_id: null, name: null, email: null, status: null, budget: null, details: null };
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
