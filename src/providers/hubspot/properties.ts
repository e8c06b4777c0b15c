/**
 * Which contact properties a HubSpot run asks for, and how a long list of
 * them is sent: HUBSPOT_PROPERTIES (`all` or names), the property
 * definitions read at the start of each run, the `properties` query
 * parameter split into chunks that keep the URL short, and one contact's
 * chunks merged back by id.
 */
import { ConfigError, splitList, type Kind } from '../../config/variables.js';
import type { SourceClient } from '../../sources/http-client.js';
import { DEFAULT_CONTACT_PROPERTIES, type HubspotContact } from './contact-mapping.js';

/** HUBSPOT_PROPERTIES: every property the portal defines, or these names (the mapped ones are always added). */
export type PropertySelection = 'all' | readonly string[];

/** HubSpot's internal property names: letters, digits and underscores (a few built-in ones carry dots or dashes). */
const PROPERTY_NAME = /^[A-Za-z0-9_.-]{1,200}$/;

export function propertySelection(): Kind<PropertySelection> {
  return {
    format: '`all`, or a list of property names',
    parse(value, name) {
      if (value.toLowerCase() === 'all') return 'all';
      const names = splitList(value);
      const bad = names.find((n) => !PROPERTY_NAME.test(n));
      if (bad !== undefined) throw new ConfigError(name, `has "${bad}", which is not a HubSpot property name (letters, digits, _ . -)`);
      return Object.freeze(names);
    },
  };
}

export const CONTACT_PROPERTIES_PATH = '/crm/v3/properties/contacts';

/**
 * The longest `properties` parameter one GET carries, in URL-encoded
 * characters. HubSpot answers 414 to over-long URLs without documenting the
 * limit; about 15,000 characters is what other HubSpot connectors stay under.
 */
export const PROPERTIES_PARAM_MAX = 15_000;

interface PropertyDefinitionsPage {
  results?: Array<{ name?: unknown; archived?: unknown }>;
}

/**
 * The names of every (not archived) contact property the portal defines: one
 * request, made at the start of each run, so a property created between runs
 * is asked for by the next one. The endpoint is not paged.
 */
export async function readPropertyNames(http: SourceClient, signal: AbortSignal): Promise<string[]> {
  const res = await http.request<PropertyDefinitionsPage>({ path: CONTACT_PROPERTIES_PATH, signal });
  const results = res.body?.results;
  if (!Array.isArray(results)) throw new Error('HubSpot property definitions have no results array');
  const names = results.filter((p) => p.archived !== true && typeof p.name === 'string').map((p) => p.name as string);
  if (names.length === 0) throw new Error('HubSpot lists no contact properties; the token may lack the crm.schemas.contacts.read scope');
  return names;
}

/** The names a run asks for: the selection (or every defined one) plus the ones mapped to columns, each once, sorted. */
export function propertiesToRequest(selection: PropertySelection, defined: readonly string[] | null): string[] {
  const chosen = selection === 'all' ? (defined ?? []) : selection;
  return [...new Set([...DEFAULT_CONTACT_PROPERTIES, ...chosen])].sort();
}

/**
 * `names` cut into comma-joined groups of at most `max` URL-encoded
 * characters, the mapped properties in the first. A name longer than `max`
 * on its own gets a group of its own (HubSpot will refuse it, loudly).
 */
export function chunkProperties(names: readonly string[], max = PROPERTIES_PARAM_MAX): string[][] {
  const first = new Set(DEFAULT_CONTACT_PROPERTIES);
  const ordered = [...names.filter((n) => first.has(n)), ...names.filter((n) => !first.has(n))];
  const chunks: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const name of ordered) {
    const cost = encodeURIComponent(name).length + (current.length > 0 ? 3 : 0); // "%2C" between names
    if (current.length > 0 && length + cost > max) {
      chunks.push(current);
      current = [];
      length = 0;
    }
    length += current.length > 0 ? cost : encodeURIComponent(name).length;
    current.push(name);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * One page's contacts with the properties of every chunk: the first chunk's
 * page decides which contacts (and in which order); each later chunk's
 * contact is matched by id, never by position, so no property lands on
 * another contact. Returns the ids a later chunk did not have (the contact
 * was archived, or the page moved, between the requests) with the chunk's
 * names, to be read one by one. The first page's contacts are returned
 * completed in place.
 */
export function mergeChunks(
  pages: ReadonlyArray<{ results: readonly HubspotContact[] }>,
  chunks: readonly string[][],
): {
  contacts: HubspotContact[];
  missing: Array<{ id: string; names: readonly string[] }>;
} {
  const [head, ...rest] = pages;
  // Completed in place: the pages are the caller's own fresh parse, and a copy
  // of each contact's hundreds of properties cost as much as the merge.
  const contacts = [...(head?.results ?? [])];
  const missing: Array<{ id: string; names: readonly string[] }> = [];
  rest.forEach((page, i) => {
    const byId = new Map(page.results.map((c) => [c.id, c]));
    const names = chunks[i + 1] ?? [];
    for (const c of contacts) {
      const other = byId.get(c.id);
      if (!other) {
        missing.push({ id: c.id, names });
        continue;
      }
      // Only the asked-for names of a chunk's answer: the always-returned ones come from the first chunk.
      const from = other.properties;
      const into = c.properties;
      for (const n of names) if (n in from) into[n] = from[n];
    }
  });
  return { contacts, missing };
}
