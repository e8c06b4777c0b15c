/**
 * The attribute names the connector writes itself, beside the contact's
 * properties (each kept under its own name). HubSpot's property names are
 * lowercase snake_case, so a portal can define a property called
 * `merged_into`, `merged_ids` or `hubspot_webhook`; kept under its own name
 * it would overwrite the connector's attribute, or be overwritten by it. Such
 * a property is kept under `hubspot_property_<name>` instead, in syncs and
 * webhooks alike. (The camelCase ones cannot clash; they are listed so that
 * no property can take them either.)
 */

/** On a merge tombstone: the id the contact was merged into (see merges.ts). */
export const MERGED_INTO = 'merged_into';
/** On a merge survivor: the ids merged into it. */
export const MERGED_IDS = 'merged_ids';
/** The contact's webhook note (see reconcile.ts). */
export const HUBSPOT_NOTE = 'hubspot_webhook';
/** The record's creation time (HubSpot's record-level `createdAt`). */
export const CREATED_AT = 'createdAt';
/**
 * The record's page in HubSpot's app (its record-level `url`). Not `url`: a
 * portal may well define a `url` property; record-level fields are camelCase
 * in HubSpot's answer and here.
 */
export const RECORD_URL = 'recordUrl';

const CONNECTOR_KEYS: ReadonlySet<string> = new Set([MERGED_INTO, MERGED_IDS, HUBSPOT_NOTE, CREATED_AT, RECORD_URL]);

/** Where a property named like a connector attribute is kept. */
export const PROPERTY_PREFIX = 'hubspot_property_';

/** True for the attributes the connector writes itself (not properties). */
export function isConnectorKey(key: string): boolean {
  return CONNECTOR_KEYS.has(key);
}

/** The attribute a HubSpot property is kept under: its own name, unless that is a connector attribute's. */
export function attributeOf(property: string): string {
  return CONNECTOR_KEYS.has(property) ? `${PROPERTY_PREFIX}${property}` : property;
}
