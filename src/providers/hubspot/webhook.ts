import { createHmac, timingSafeEqual } from 'node:crypto';
import { storableWrite, type RecordWrite } from '../../domain/records.js';
import { customerFromContact } from './contact-mapping.js';
import { applyRecordWrites } from '../../store/record-writes.js';
import type { WriteTx } from '../../store/write-transaction.js';
import { DeliveryRejected, type DeliveryHandler, type HandlerResult } from '../../ingest/delivery.js';
import type { SignatureCheck } from '../../ingest/signature.js';
import { later, readCurrent, untouched, writeFrom, type CurrentRecord } from '../../ingest/stored-record.js';
import { keptPortal } from './portal.js';
import { applyMergeEvent, isMergeEvent } from './merges.js';
import { CREATED_AT, HUBSPOT_NOTE, isConnectorKey } from './attribute-keys.js';

/** HubSpot's rule: refuse a request whose X-HubSpot-Request-Timestamp is older than 5 minutes. */
export const HUBSPOT_SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

/**
 * Contacts that arrive by webhook are stored under the `crm` source, the
 * name of the HubSpot sync, with the contact id as `external_id`, exactly as
 * the sync stores them: a later sync of the same contact updates the one row.
 */
export const HUBSPOT_SOURCE = 'crm';

/** Where a contact's webhook bookkeeping lives in its attributes. */
export { HUBSPOT_NOTE } from './attribute-keys.js';

// HubSpot decodes these escapes in the request URI before it signs it.
const SIGNED_ESCAPES: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** The URI as HubSpot puts it in the signed text. */
export function hubspotSignedUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => SIGNED_ESCAPES[m.toUpperCase()] ?? m);
}

/** X-HubSpot-Signature-v3: base64 HMAC-SHA256, keyed by the app's client secret, of method + URI + body + timestamp. */
export function hubspotSignature(secret: string, method: string, uri: string, body: Buffer | string, timestamp: string): string {
  return createHmac('sha256', secret)
    .update(`${method.toUpperCase()}${hubspotSignedUri(uri)}`)
    .update(body)
    .update(timestamp)
    .digest('base64');
}

export interface HubspotSignedRequest {
  method: string;
  /** The URIs HubSpot may have called to reach us (https and http, behind a proxy or not). */
  uris: readonly string[];
  body: Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
}

/** Checks a v3 signature against any of the client secrets (rotation), in constant time. */
export function verifyHubspotSignature(secrets: readonly string[], req: HubspotSignedRequest, nowMs: number = Date.now()): SignatureCheck {
  const { timestamp, signature } = req;
  if (!timestamp || !signature) {
    return { ok: false, reason: 'X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp headers are required' };
  }
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: 'X-HubSpot-Request-Timestamp is not a Unix time in milliseconds' };
  if (Math.abs(nowMs - Number(timestamp)) > HUBSPOT_SIGNATURE_TOLERANCE_MS) {
    return { ok: false, reason: 'X-HubSpot-Request-Timestamp is more than 5 minutes away from the server clock' };
  }
  const offered = Buffer.from(signature.trim(), 'latin1');
  let ok = false;
  for (const secret of secrets) {
    for (const uri of req.uris) {
      const expected = Buffer.from(hubspotSignature(secret, req.method, uri, req.body, timestamp), 'latin1');
      if (expected.length === offered.length && timingSafeEqual(expected, offered)) ok = true;
    }
  }
  return ok ? { ok: true } : { ok: false, reason: 'X-HubSpot-Signature-v3 does not match' };
}

/** One event of a HubSpot webhook request (HubSpot sends up to 100 in a JSON array). */
export interface HubspotEvent {
  eventId: number;
  subscriptionId?: number;
  portalId: number;
  occurredAt: number;
  subscriptionType: string;
  attemptNumber?: number;
  objectId?: number | string;
  objectTypeId?: string;
  propertyName?: string;
  propertyValue?: unknown;
  changeSource?: string;
  [field: string]: unknown;
}

/** Every HubSpot event key starts so; generic deliveries may not use it (they share the inbox's key column). */
export const HUBSPOT_KEY_PREFIX = 'hubspot:';

/** The inbox `route` of HubSpot events. */
export const HUBSPOT_INBOX_ROUTE = '/webhooks/hubspot';

/**
 * The de-duplication key of an event: HubSpot's eventId with the portal,
 * subscription and time of the event, all of which a retry repeats (only
 * attemptNumber moves); HubSpot does not promise eventId alone is unique.
 */
export function hubspotEventKey(e: HubspotEvent): string {
  return `${HUBSPOT_KEY_PREFIX}${e.portalId}:${e.subscriptionId ?? '-'}:${e.eventId}:${e.occurredAt}`;
}

type ContactAction = 'creation' | 'propertyChange' | 'deletion' | 'privacyDeletion' | 'restore';
const ACTIONS = new Set<string>(['creation', 'propertyChange', 'deletion', 'privacyDeletion', 'restore']);
/** The contact object's type id in HubSpot's generic (`object.*`) subscriptions. */
const CONTACT_OBJECT_TYPE = '0-1';
// Modification stamps are not content (see contact-mapping.ts): a change of one is not stored.
const VOLATILE = new Set(['lastmodifieddate', 'hs_lastmodifieddate']);

/** Checks everything the event needs before anything is written: a bad event becomes a dead letter. */
function contactEvent(e: HubspotEvent): { action: ContactAction; externalId: string; occurredAt: number } {
  if (typeof e.subscriptionType !== 'string') throw new DeliveryRejected('the event has no subscriptionType');
  const dot = e.subscriptionType.indexOf('.');
  const object = e.subscriptionType.slice(0, dot);
  const action = e.subscriptionType.slice(dot + 1);
  const isContact = object === 'contact' || (object === 'object' && e.objectTypeId === CONTACT_OBJECT_TYPE);
  if (dot < 0 || !isContact || !ACTIONS.has(action)) {
    throw new DeliveryRejected(
      `subscriptionType ${e.subscriptionType} is not handled (contact.creation, contact.propertyChange, contact.deletion, contact.privacyDeletion, contact.restore and contact.merge are)`,
    );
  }
  const id = e.objectId;
  const externalId = typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? String(id) : typeof id === 'string' && /^\d{1,20}$/.test(id) ? id : null;
  if (externalId === null) throw new DeliveryRejected('the event has no objectId (a positive whole number)');
  if (typeof e.occurredAt !== 'number' || !Number.isFinite(e.occurredAt)) throw new DeliveryRejected('the event has no occurredAt');
  // The range of a JavaScript date: past it the time cannot be written, and the event is refused rather than failing the store.
  if (Math.abs(e.occurredAt) > MAX_DATE_MS) throw new DeliveryRejected("the event's occurredAt is not a time (epoch milliseconds)");
  if (action === 'propertyChange' && (typeof e.propertyName !== 'string' || e.propertyName === '')) {
    throw new DeliveryRejected('a propertyChange event needs a propertyName');
  }
  return { action: action as ContactAction, externalId, occurredAt: e.occurredAt };
}

/** The largest epoch milliseconds a Date can hold (ECMA-262). */
const MAX_DATE_MS = 8.64e15;

export interface WebhookNote {
  /** When each property was last set by an event (ISO 8601). */
  property_times: Record<string, string>;
  /** The sync snapshot the property times started from (its lastmodifieddate), if any. */
  snapshot_at: string | null;
  last_event: { id: number; type: string; occurred_at: string };
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const ms = (text: unknown): number | null => {
  const t = typeof text === 'string' ? Date.parse(text) : Number.NaN;
  return Number.isFinite(t) ? t : null;
};

export function noteOf(current: Pick<CurrentRecord, 'attributes'> | null): WebhookNote | null {
  const raw = current?.attributes[HUBSPOT_NOTE];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const n = raw as Partial<WebhookNote>;
  const times = n.property_times !== null && typeof n.property_times === 'object' ? n.property_times : {};
  return {
    property_times: { ...times },
    snapshot_at: typeof n.snapshot_at === 'string' ? n.snapshot_at : null,
    last_event: n.last_event as WebhookNote['last_event'],
  };
}

/**
 * The time a change of this property must not be older than. A contact last
 * written by a sync has no note: its lastmodifieddate (source_updated_at)
 * covers every property. After events, each property has its own time, so
 * changes of different properties arriving out of order all apply, while an
 * older change of the same property does not overwrite a newer one.
 */
function propertyBaseline(current: CurrentRecord, note: WebhookNote | null, property: string): number | null {
  if (!note) return current.sourceUpdatedAt;
  return later(ms(note.property_times[property]), ms(note.snapshot_at));
}

/**
 * The contact's HubSpot properties as stored: text attributes, and the email
 * column. Keyed by attribute (a prefixed one stays prefixed and is written
 * back as it is); the connector's own attributes are not properties.
 */
function propertiesOf(current: CurrentRecord | null): Record<string, string | null> {
  const props: Record<string, string | null> = {};
  if (!current) return props;
  for (const [k, v] of Object.entries(current.attributes)) if (!isConnectorKey(k) && (typeof v === 'string' || v === null)) props[k] = v;
  if (current.fields.email !== null) props.email = current.fields.email;
  return props;
}

/** What an event makes of a contact: the writes to apply, or the result when nothing is to be written. */
type Plan = { writes: RecordWrite[] } | { result: 'unchanged' | 'stale' };

function planContactEvent(e: HubspotEvent, current: CurrentRecord | null): Plan {
  const { action, externalId, occurredAt } = contactEvent(e);
  const lastEvent = { id: e.eventId, type: e.subscriptionType, occurred_at: iso(occurredAt) };
  const guard = later(current?.sourceUpdatedAt ?? null, occurredAt);

  switch (action) {
    case 'creation': {
      // A contact already here (from a sync or an earlier event) is left as it is.
      if (current) return { result: 'unchanged' };
      const w = customerFromContact({ id: externalId, properties: {}, createdAt: iso(occurredAt) }, HUBSPOT_SOURCE);
      w.attributes[HUBSPOT_NOTE] = { property_times: {}, snapshot_at: null, last_event: lastEvent } satisfies WebhookNote;
      w.sourceUpdatedAt = occurredAt;
      return { writes: [w] };
    }
    case 'propertyChange': {
      const property = e.propertyName as string;
      if (current?.deleted) return { result: 'stale' }; // a deleted contact comes back with contact.restore
      if (VOLATILE.has(property)) return { result: 'unchanged' };
      const note = noteOf(current);
      if (current) {
        const baseline = propertyBaseline(current, note, property);
        if (baseline !== null && occurredAt < baseline) return { result: 'stale' };
      }
      const raw = e.propertyValue;
      const value = raw === undefined || raw === null || raw === '' ? null : typeof raw === 'string' ? raw : JSON.stringify(raw);
      const props = { ...propertiesOf(current), [property]: value };
      const createdAt = typeof current?.attributes[CREATED_AT] === 'string' ? current.attributes[CREATED_AT] : undefined;
      const mapped = customerFromContact({ id: externalId, properties: props, ...(createdAt ? { createdAt } : {}) }, HUBSPOT_SOURCE);
      const next: WebhookNote = {
        property_times: { ...note?.property_times, [property]: iso(occurredAt) },
        snapshot_at: note ? note.snapshot_at : current?.sourceUpdatedAt != null ? iso(current.sourceUpdatedAt) : null,
        last_event: lastEvent,
      };
      const hasNameParts = 'firstname' in props || 'lastname' in props;
      return {
        writes: [
          writeFrom('customer', externalId, HUBSPOT_SOURCE, current, {
            fields: {
              sender_id: mapped.fields.sender_id,
              email: mapped.fields.email,
              name: hasNameParts ? mapped.fields.name : (current?.fields.name ?? null),
            },
            // Attributes the contact had beyond its text properties (from another sender) are kept.
            attributes: { ...current?.attributes, ...mapped.attributes, [HUBSPOT_NOTE]: next },
            sourceUpdatedAt: guard,
          }),
        ],
      };
    }
    case 'deletion': {
      // The tombstone keeps the last known fields (applyRecordWrites does that); an older
      // deletion than the stored version is answered stale by its guard.
      const w = current
        ? writeFrom('customer', externalId, HUBSPOT_SOURCE, current, { sourceUpdatedAt: occurredAt, deleted: true })
        : customerFromContact({ id: externalId, properties: {} }, HUBSPOT_SOURCE, true);
      w.sourceUpdatedAt = occurredAt;
      return { writes: [w] };
    }
    case 'privacyDeletion': {
      // GDPR deletion: the personal data goes, and a bare tombstone stays so a later sync does not bring it back.
      const scrubbed = customerFromContact({ id: externalId, properties: {} }, HUBSPOT_SOURCE);
      scrubbed.attributes = { [HUBSPOT_NOTE]: { property_times: {}, snapshot_at: null, last_event: lastEvent } satisfies WebhookNote };
      scrubbed.sourceUpdatedAt = guard;
      if (!current) return { writes: [{ ...scrubbed, deleted: true }] };
      return { writes: [scrubbed, { ...scrubbed, deleted: true }] };
    }
    case 'restore': {
      // A restore older than the stored version (a later deletion) is stale.
      if (current?.sourceUpdatedAt != null && occurredAt < current.sourceUpdatedAt) return { result: 'stale' };
      // Live already: only its time is kept, so an older deletion delivered late is stale.
      if (current && !current.deleted) {
        return { writes: [writeFrom('customer', externalId, HUBSPOT_SOURCE, current, { sourceUpdatedAt: guard, deleted: false })] };
      }
      if (!current) {
        const w = customerFromContact({ id: externalId, properties: {} }, HUBSPOT_SOURCE);
        w.attributes[HUBSPOT_NOTE] = { property_times: {}, snapshot_at: null, last_event: lastEvent } satisfies WebhookNote;
        w.sourceUpdatedAt = occurredAt;
        return { writes: [w] };
      }
      return { writes: [writeFrom('customer', externalId, HUBSPOT_SOURCE, current, { sourceUpdatedAt: guard, deleted: false })] };
    }
  }
}

/** Applies one HubSpot event to the store, reading the contact as it stands in this transaction. */
export async function applyHubspotEvent(tx: WriteTx, e: HubspotEvent): Promise<HandlerResult> {
  if (isMergeEvent(e)) return applyMergeEvent(tx, e, HUBSPOT_SOURCE);
  const { externalId } = contactEvent(e);
  const current = await readCurrent(tx, 'customer', externalId);
  const plan = planContactEvent(e, current);
  // Text PostgreSQL cannot keep (U+0000, lone surrogates) is cleaned as a sync does: refused, the event could never be replayed.
  const records = 'writes' in plan ? await applyRecordWrites(tx, plan.writes.map(storableWrite)) : [untouched('customer', externalId, plan.result)];
  return {
    records,
    answer: { status: 200, body: { event_id: e.eventId, subscription_type: e.subscriptionType, records } },
  };
}

/**
 * The portal whose events apply: HUBSPOT_PORTAL_ID, or the token's portal as
 * the sync kept it (read in the transaction; once known it is remembered).
 * Before either is known, events of any portal apply.
 */
function portalCheck(configured: number | null): (tx: WriteTx, e: HubspotEvent) => Promise<void> {
  let known = configured;
  return async (tx, e) => {
    known ??= await keptPortal(tx);
    if (known !== null && e.portalId !== known) {
      const whose = configured !== null ? 'HUBSPOT_PORTAL_ID' : "the token's portal";
      throw new DeliveryRejected(`the event is from HubSpot portal ${String(e.portalId)}, not portal ${known} (${whose}): not applied`);
    }
  };
}

/** The handler of `/webhooks/hubspot` for a configured portal (null: the token's): each inbox row holds one event as JSON. */
export function hubspotHandlerFor(portalId: number | null): DeliveryHandler<HubspotEvent> {
  const checkPortal = portalCheck(portalId);
  return {
    parse(raw) {
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        throw new DeliveryRejected('the stored event is not JSON');
      }
    },
    prepare(event) {
      if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new DeliveryRejected('the stored event is not an object');
      return event as HubspotEvent;
    },
    apply: async (tx, event) => {
      await checkPortal(tx, event);
      return applyHubspotEvent(tx, event);
    },
  };
}

/** The handler without a configured portal: the token's, once a sync has read it. */
export const hubspotDeliveryHandler: DeliveryHandler<HubspotEvent> = hubspotHandlerFor(null);
