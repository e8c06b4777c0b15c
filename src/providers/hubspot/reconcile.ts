/**
 * Webhook and sync agree property by property. A `contact.propertyChange`
 * event records when it set its property, in the contact's webhook note
 * (`attributes.hubspot_webhook.property_times`, beside `snapshot_at`, the
 * lastmodifieddate of the sync snapshot the times started from). A synced
 * contact is a snapshot as of its lastmodifieddate: each property an event
 * set later than that keeps the event's value, every other property takes
 * the snapshot's. A snapshot older than the one already stored changes
 * nothing. HubSpot bumps lastmodifieddate with every property change, so a
 * snapshot at or after an event's time already holds that change (or a
 * later one) and replaces it.
 */
import type { RecordWrite } from '../../domain/records.js';
import { later } from '../../ingest/stored-record.js';
import { attributeOf } from './attribute-keys.js';
import { contactName } from './contact-mapping.js';
import { HUBSPOT_NOTE, iso, ms, noteOf, type WebhookNote } from './webhook.js';

/** The stored value of a HubSpot property: its attribute, or the email column of a contact stored before email was also an attribute. */
function storedValue(stored: RecordWrite, property: string): unknown {
  const key = attributeOf(property);
  if (key in stored.attributes) return stored.attributes[key];
  return property === 'email' ? stored.fields.email : null;
}

/** The sync's write of a contact, merged with the values events set after its snapshot (see above). */
export function reconcileContact(incoming: RecordWrite, stored: RecordWrite): RecordWrite | 'stale' {
  const note = noteOf(stored);
  const snapshot = incoming.sourceUpdatedAt;
  // Without events since the last sync the record-wide guard (source_updated_at) decides; a deletion is a tombstone.
  if (!note || incoming.deleted || snapshot === null) return incoming;
  const storedSnapshot = ms(note.snapshot_at);
  if (storedSnapshot !== null && snapshot < storedSnapshot) return 'stale';

  const newer: Record<string, string> = {};
  for (const [property, at] of Object.entries(note.property_times)) {
    const t = ms(at);
    if (t !== null && t > snapshot) newer[property] = at;
  }
  const attributes = { ...incoming.attributes };
  const fields = { ...incoming.fields };
  for (const property of Object.keys(newer)) {
    const value = storedValue(stored, property);
    attributes[attributeOf(property)] = value;
    if (property === 'email') fields.email = typeof value === 'string' ? value : null;
  }
  if ('firstname' in newer || 'lastname' in newer) fields.name = contactName(attributes.firstname, attributes.lastname);
  attributes[HUBSPOT_NOTE] = { property_times: newer, snapshot_at: iso(snapshot), last_event: note.last_event } satisfies WebhookNote;
  // The record-wide guard keeps the newest time seen, the events' included, so it does not call this write stale.
  return { ...incoming, fields, attributes, sourceUpdatedAt: later(stored.sourceUpdatedAt, snapshot) };
}
