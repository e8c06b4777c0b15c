import { storableWrite, type RecordWrite } from '../../domain/records.js';
import { DeliveryRejected, type HandlerResult } from '../../ingest/delivery.js';
import { readCurrent, writeFrom } from '../../ingest/stored-record.js';
import { applyRecordWrites } from '../../store/record-writes.js';
import type { WriteTx } from '../../store/write-transaction.js';
import type { HubspotContact } from './contact-mapping.js';
import { MERGED_IDS, MERGED_INTO } from './attribute-keys.js';

/** HubSpot's property listing the ids merged into a contact, `;`-separated. */
export const MERGED_IDS_PROPERTY = 'hs_merged_object_ids';

export { MERGED_IDS, MERGED_INTO } from './attribute-keys.js';

/**
 * The stamp of a merge tombstone. HubSpot cannot undo a merge and never
 * brings a merged-away id back, so the tombstone is final: every later write
 * of that id (a late deletion or restore event, the same merge seen again by
 * the next sync) is older than this and answered stale, and the tombstone
 * does not churn each time the survivor changes.
 */
export const MERGE_FINAL_STAMP = Date.UTC(9999, 11, 31);

const ID = /^\d{1,20}$/;

/** The ids merged into `c` (from hs_merged_object_ids), its own id left out. */
export function mergedIdsOf(c: HubspotContact): string[] {
  const raw = c.properties?.[MERGED_IDS_PROPERTY];
  if (typeof raw !== 'string') return [];
  return [...new Set(raw.split(/[;,]/).map((s) => s.trim()))].filter((id) => ID.test(id) && id !== c.id);
}

/**
 * The tombstone of a merged-away id: a live write that sets `merged_into`
 * (a deletion alone keeps the stored attributes as they were), then the
 * deletion. Its data now lives in the survivor, so only the pointer is kept.
 */
export function mergeTombstone(mergedId: string, survivorId: string, source: string): RecordWrite[] {
  const pointer: RecordWrite = {
    type: 'customer',
    external_id: mergedId,
    source,
    fields: { sender_id: Number.isSafeInteger(Number(mergedId)) ? Number(mergedId) : null, name: null, email: null, status: null, budget: null, details: null },
    attributes: { [MERGED_INTO]: survivorId },
    sourceUpdatedAt: MERGE_FINAL_STAMP - 1,
    deleted: false,
  };
  return [pointer, { ...pointer, sourceUpdatedAt: MERGE_FINAL_STAMP, deleted: true }];
}

/**
 * A sync page's writes with merges applied: each survivor lists its merged
 * ids, and each merged-away id becomes a tombstone pointing at it. An id
 * the page itself has as a live contact is left alone.
 */
export function withMerges(contacts: readonly HubspotContact[], records: RecordWrite[], source: string): RecordWrite[] {
  const live = new Set(contacts.map((c) => c.id));
  const tombstones: RecordWrite[] = [];
  const seen = new Set<string>();
  contacts.forEach((c, i) => {
    const ids = mergedIdsOf(c);
    const record = records[i];
    if (ids.length === 0 || record === undefined || record.external_id !== c.id) return;
    record.attributes[MERGED_IDS] = ids;
    for (const id of ids) {
      if (live.has(id) || seen.has(id)) continue;
      seen.add(id);
      tombstones.push(...mergeTombstone(id, c.id, source));
    }
  });
  return tombstones.length === 0 ? records : [...records, ...tombstones];
}

/** A `contact.merge` event (or `object.merge` of a contact). */
export function isMergeEvent(e: { subscriptionType?: unknown; objectTypeId?: unknown }): boolean {
  return e.subscriptionType === 'contact.merge' || (e.subscriptionType === 'object.merge' && e.objectTypeId === '0-1');
}

function idOf(v: unknown): string | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return String(v);
  if (typeof v === 'string' && ID.test(v)) return v;
  return null;
}

/**
 * Survivor and merged-away ids of a merge event. HubSpot sends
 * `primaryObjectId` (the contact kept), `mergedObjectIds` (the ones merged
 * into it) and `newObjectId`; when the merge gave the result a new id, the
 * primary is merged away too.
 */
export function mergeOfEvent(e: Record<string, unknown>): { survivor: string; merged: string[] } {
  const primary = idOf(e.primaryObjectId);
  if (primary === null) throw new DeliveryRejected('a merge event needs a primaryObjectId (a positive whole number)');
  const survivor = idOf(e.newObjectId) ?? primary;
  if (!Array.isArray(e.mergedObjectIds)) throw new DeliveryRejected('a merge event needs mergedObjectIds (an array of ids)');
  const ids = e.mergedObjectIds.map(idOf);
  if (ids.some((id) => id === null)) throw new DeliveryRejected('mergedObjectIds holds something that is not an id');
  const merged = [...new Set([...(ids as string[]), primary])].filter((id) => id !== survivor);
  if (merged.length === 0) throw new DeliveryRejected('a merge event merges no id into another');
  return { survivor, merged };
}

/** Applies a merge event: tombstones for the merged-away ids, the list on the survivor. */
export async function applyMergeEvent(tx: WriteTx, e: Record<string, unknown>, source: string): Promise<HandlerResult> {
  const { survivor, merged } = mergeOfEvent(e);
  if (typeof e.occurredAt !== 'number' || !Number.isFinite(e.occurredAt)) throw new DeliveryRejected('the event has no occurredAt');
  const current = await readCurrent(tx, 'customer', survivor);
  const had = Array.isArray(current?.attributes[MERGED_IDS]) ? (current.attributes[MERGED_IDS] as unknown[]).filter((v) => typeof v === 'string') : [];
  const list = [...new Set([...had, ...merged])];
  // The survivor keeps what it has (a later sync brings its merged properties); a new one starts bare.
  const survivorWrite = writeFrom('customer', survivor, source, current, {
    attributes: { ...current?.attributes, [MERGED_IDS]: list },
    sourceUpdatedAt: current ? current.sourceUpdatedAt : e.occurredAt,
    deleted: current?.deleted ?? false,
    ...(current ? {} : { fields: { sender_id: Number.isSafeInteger(Number(survivor)) ? Number(survivor) : null } }),
  });
  const writes = [survivorWrite, ...merged.flatMap((id) => mergeTombstone(id, survivor, source))];
  const records = await applyRecordWrites(tx, writes.map(storableWrite));
  return {
    records,
    answer: { status: 200, body: { event_id: e.eventId, subscription_type: e.subscriptionType, records } },
  };
}
