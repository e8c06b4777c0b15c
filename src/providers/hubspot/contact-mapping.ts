import type { RecordWrite } from '../../domain/records.js';

/** A contact as HubSpot CRM v3 returns it (list, search and read share it). */
export interface HubspotContact {
  id: string;
  properties: Record<string, string | null | undefined>;
  createdAt?: string;
  updatedAt?: string;
  archived?: boolean;
  archivedAt?: string;
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

/** HubSpot contact -> unified customer; every property kept, the known ones in columns. */
export function customerFromContact(c: HubspotContact, source: string, deleted = false): RecordWrite {
  const p = c.properties ?? {};
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(p)) {
    if (value === undefined || VOLATILE.has(key) || key === 'email') continue;
    attributes[key] = value;
  }
  if (c.createdAt) attributes.createdAt = c.createdAt;
  const name = [p.firstname, p.lastname].filter((s): s is string => typeof s === 'string' && s.trim() !== '').join(' ');
  const idNumber = Number(c.id);
  return {
    type: 'customer',
    external_id: c.id,
    source,
    fields: {
      sender_id: Number.isSafeInteger(idNumber) ? idNumber : null,
      name: name === '' ? null : name,
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
