/**
 * The fake HubSpot's contact listing (GET /crm/v3/objects/contacts): id order,
 * `after` cursor, archived or not; and how a contact is put on the wire.
 */
import { ALWAYS_RETURNED, DEFAULT_PROPERTIES, type Contact, type HubspotState } from './contacts.js';

export const LIST_MAX_LIMIT = 100;
export const LIST_DEFAULT_LIMIT = 10;

export interface ListPage {
  results: Contact[];
  /** Cursor of the next page: the id it starts at (like HubSpot's, treat it as opaque). */
  nextAfter?: string;
}

/**
 * A page in id order starting at the contact with id >= `after`.
 * Walks from the cursor, so its cost is the page size (plus any archived
 * contacts skipped), never the account size.
 */
export function listContacts(state: HubspotState, options: { limit: number; after?: string; archived: boolean }): ListPage {
  const from = options.after === undefined ? 0 : Number(options.after);
  const wanted = options.limit + 1; // one extra tells whether a next page exists
  const page: Contact[] = [];

  if (options.archived) {
    // Archived contacts are few (only tests archive): gather, order, cut.
    const archived = [...state.changedContacts()].filter((c) => c.archived && c.mergedInto === undefined && Number(c.id) >= from);
    archived.sort((a, b) => Number(a.id) - Number(b.id));
    page.push(...archived.slice(0, wanted));
  } else {
    for (let i = Math.max(0, from - state.firstId); i < state.baseCount && page.length < wanted; i += 1) {
      const contact = state.current(i);
      if (!contact.archived) page.push(contact);
    }
    for (const contact of state.createdContacts()) {
      if (page.length >= wanted) break;
      if (!contact.archived && Number(contact.id) >= from) page.push(contact);
    }
  }

  const next = page[options.limit];
  return { results: page.slice(0, options.limit), ...(next ? { nextAfter: next.id } : {}) };
}

/** The portal the fake's record links name (HubSpot's `url` field points into the app). */
export const FAKE_APP_PORTAL = 62_515;

/** A contact on the wire: HubSpot's record fields plus the link to the record in the app. */
export type WireContact = Contact & { url: string };

/**
 * The contact as the API shows it: only the asked-for properties (HubSpot's
 * defaults when none were asked for), always with createdate, hs_object_id
 * and lastmodifieddate. A property not asked for is absent; one asked for but
 * unset comes back null; a name the portal does not define is left out, as
 * HubSpot ignores it.
 */
export function toWire(contact: Contact, properties: string[] | null, defined: (name: string) => boolean = () => true): WireContact {
  return wireShaper(properties, defined)(contact);
}

/**
 * `toWire` for every contact of one answer: the asked-for names are worked
 * out once, not once per contact (with a few hundred names, that was half
 * the fake's time a page).
 */
export function wireShaper(properties: string[] | null, defined: (name: string) => boolean = () => true): (contact: Contact) => WireContact {
  const names = properties ? [...new Set([...ALWAYS_RETURNED, ...properties])] : DEFAULT_PROPERTIES;
  const known = names.filter(defined);
  const unknown = names.filter((n) => !defined(n));
  return (contact) => {
    const selected: Record<string, string | null> = {};
    for (const name of known) selected[name] = contact.properties[name] ?? null;
    // An undefined name comes back only when the contact has it (the built-ins HubSpot returns regardless).
    for (const name of unknown) if (name in contact.properties) selected[name] = contact.properties[name] ?? null;
    return {
      id: contact.id,
      properties: selected,
      createdAt: contact.createdAt,
      updatedAt: contact.updatedAt,
      archived: contact.archived,
      ...(contact.archivedAt ? { archivedAt: contact.archivedAt } : {}),
      url: `https://app.hubspot.com/contacts/${FAKE_APP_PORTAL}/record/0-1/${contact.id}`,
    };
  };
}

/** `properties=a,b` and/or repeated `properties=a&properties=b`, as HubSpot accepts both. */
export function propertiesParam(query: URLSearchParams): string[] | null {
  const names = query
    .getAll('properties')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
  return names.length > 0 ? names : null;
}
