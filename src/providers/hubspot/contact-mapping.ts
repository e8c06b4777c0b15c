import type { RecordWrite } from '../../domain/records.js';
import { attributeOf, CREATED_AT, RECORD_URL } from './attribute-keys.js';

/** A contact as HubSpot CRM v3 returns it (list, search and read share it). */
export interface HubspotContact {
  id: string;
  properties: Record<string, string | null | undefined>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
  /** The record's page in HubSpot's app (CRM v3 answers it beside the properties). */
  url?: string;
}

/** Properties every sync asks for; the connector's `properties` option adds more. */
export const DEFAULT_CONTACT_PROPERTIES = ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage', 'createdate', 'lastmodifieddate'];

// The modification stamps move without the contact's content changing, so
// they feed the out-of-order guard (source_updated_at) instead of the
// content, where they would turn every re-fetch into a "change".
const VOLATILE = new Set(['lastmodifieddate', 'hs_lastmodifieddate']);

export function contactModifiedAt(c: HubspotContact): number | null {
  const raw = c.properties?.lastmodifieddate ?? c.updatedAt;
  const ms = raw ? Date.parse(raw) : Number.NaN;
  return Number.isFinite(ms) ? ms : null;
}

/** The customer's name from its HubSpot name parts, or null. */
export function contactName(first: unknown, last: unknown): string | null {
  const name = [first, last].filter((s): s is string => typeof s === 'string' && s.trim() !== '').join(' ');
  return name === '' ? null : name;
}

/**
 * HubSpot contact -> unified customer. Every property is kept in
 * `attributes` under its own name, the ones mapped to columns too (email,
 * name parts), so the record shows the contact as HubSpot has it; only the
 * modification stamps go to `source_updated_at` instead. A property named
 * like one of the connector's own attributes is kept under a prefix
 * (attribute-keys.ts). With `requested`, a requested property HubSpot left
 * out of its answer (it does so for properties that have no value) is null,
 * so a value cleared upstream clears the stored one.
 */
export function customerFromContact(c: HubspotContact, source: string, deleted = false, requested?: readonly string[]): RecordWrite {
  const p = c.properties ?? {};
  const attributes: Record<string, unknown> = {};
  // Keys, not entries: a contact has hundreds of properties, and an entry pair for each is garbage.
  const keys = Object.keys(p);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = p[key];
    if (value === undefined || VOLATILE.has(key)) continue;
    attributes[attributeOf(key)] = value;
  }
  // Built here rather than on a copy of the contact: the same attributes, one object fewer.
  if (requested) for (const n of requested) if (p[n] === undefined && !VOLATILE.has(n)) attributes[attributeOf(n)] = null;
  if (c.createdAt) attributes[CREATED_AT] = c.createdAt;
  if (typeof c.url === 'string' && c.url !== '') attributes[RECORD_URL] = c.url;
  const idNumber = Number(c.id);
  return {
    type: 'customer',
    external_id: c.id,
    source,
    fields: {
      sender_id: Number.isSafeInteger(idNumber) ? idNumber : null,
      name: contactName(p.firstname, p.lastname),
      email: p.email ?? null,
      status: null,
      budget: null,
      details: null,
    },
    attributes,
    sourceUpdatedAt: contactModifiedAt(c),
    deleted,
  };
}
