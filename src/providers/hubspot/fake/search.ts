/**
 * The fake HubSpot's CRM search: request validation (with the documented
 * limits), filter evaluation, and paging with the 10,000-result cap.
 *
 * On a generated account the common incremental query (one filter group on
 * lastmodifieddate / createdate / hs_object_id, sorted ascending by one of
 * them) is answered by binary search over the generated index, merged with
 * the few contacts tests changed, so a million contacts need no scan. Any
 * other query scans every contact, which is refused above SCAN_LIMIT rather
 * than left to time out.
 */
import { firstIndex, parseTime } from '../../../sandbox/generated-data.js';
import { MONOTONIC_PROPERTIES, type Contact, type HubspotState } from './contacts.js';

/** HubSpot: "The search endpoints are limited to 10,000 total results for any given query." */
export const SEARCH_RESULT_CAP = 10_000;
export const SEARCH_MAX_LIMIT = 200;
export const SEARCH_DEFAULT_LIMIT = 10;
const MAX_FILTER_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
/** Above this many contacts a query needing a full scan is refused (400) instead of answered slowly. */
export const SCAN_LIMIT = 200_000;

const OPERATORS = [
  'EQ',
  'NEQ',
  'LT',
  'LTE',
  'GT',
  'GTE',
  'BETWEEN',
  'IN',
  'NOT_IN',
  'HAS_PROPERTY',
  'NOT_HAS_PROPERTY',
  'CONTAINS_TOKEN',
  'NOT_CONTAINS_TOKEN',
] as const;
type Operator = (typeof OPERATORS)[number];
/** Operators answerable by index range on a monotonic property. */
const RANGE_OPERATORS = new Set<Operator>(['EQ', 'LT', 'LTE', 'GT', 'GTE', 'BETWEEN', 'HAS_PROPERTY']);
const DATE_PROPERTIES = new Set(['createdate', 'lastmodifieddate']);
const NUMBER_PROPERTIES = new Set(['hs_object_id']);

export interface SearchFilter {
  propertyName: string;
  operator: Operator;
  value?: string;
  highValue?: string;
  values?: string[];
}

export interface SearchQuery {
  /** OR of groups; each group is an AND of filters. Empty: everything. */
  groups: SearchFilter[][];
  sort: { propertyName: string; descending: boolean };
  properties: string[] | null;
  limit: number;
  /** Offset into the ordered results (HubSpot's search `after` is a plain offset). */
  after: number;
}

export interface SearchPage {
  total: number;
  results: Contact[];
  /** Offset of the next page, when there are more results (even past the cap: HubSpot offers it and then refuses it). */
  nextAfter?: number;
}

/** A 400 in HubSpot's VALIDATION_ERROR shape. */
export class SearchError extends Error {}

export function parseSearchRequest(body: unknown): SearchQuery {
  if (!isRecord(body)) throw new SearchError('Invalid input JSON: the request body must be a JSON object.');

  const rawGroups = body.filterGroups ?? [];
  if (!Array.isArray(rawGroups)) throw new SearchError('filterGroups must be an array.');
  if (rawGroups.length > MAX_FILTER_GROUPS) throw new SearchError(`A maximum of ${MAX_FILTER_GROUPS} filterGroups are allowed.`);
  const groups = rawGroups.map((group, g) => {
    const filters = isRecord(group) ? group.filters : undefined;
    if (!Array.isArray(filters)) throw new SearchError(`filterGroups[${g}].filters must be an array.`);
    if (filters.length > MAX_FILTERS_PER_GROUP) throw new SearchError(`A maximum of ${MAX_FILTERS_PER_GROUP} filters per filterGroup are allowed.`);
    return filters.map((f, i) => parseFilter(f, `filterGroups[${g}].filters[${i}]`));
  });
  if (groups.flat().length > MAX_FILTERS) throw new SearchError(`A maximum of ${MAX_FILTERS} filters in total are allowed.`);

  const limit = body.limit ?? SEARCH_DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > SEARCH_MAX_LIMIT) {
    throw new SearchError(`limit must be an integer between 1 and ${SEARCH_MAX_LIMIT}.`);
  }

  const rawAfter = body.after ?? '0';
  const afterText = typeof rawAfter === 'number' ? String(rawAfter) : rawAfter;
  if (typeof afterText !== 'string' || !/^\d+$/.test(afterText)) throw new SearchError('after must be a paging cursor from a previous response.');
  const after = Number(afterText);

  let sort = { propertyName: 'hs_object_id', descending: false };
  const sorts = body.sorts;
  if (sorts !== undefined) {
    if (!Array.isArray(sorts)) throw new SearchError('sorts must be an array.');
    const first: unknown = sorts[0];
    if (typeof first === 'string') sort = { propertyName: first, descending: false };
    else if (isRecord(first) && typeof first.propertyName === 'string') {
      if (first.direction !== undefined && first.direction !== 'ASCENDING' && first.direction !== 'DESCENDING') {
        throw new SearchError('sorts[0].direction must be ASCENDING or DESCENDING.');
      }
      sort = { propertyName: first.propertyName, descending: first.direction === 'DESCENDING' };
    } else if (first !== undefined) throw new SearchError('sorts[0] must name a propertyName.');
  }

  const properties = body.properties;
  if (properties !== undefined && !(Array.isArray(properties) && properties.every((p) => typeof p === 'string'))) {
    throw new SearchError('properties must be an array of property names.');
  }

  return { groups, sort, properties: properties === undefined || properties.length === 0 ? null : properties, limit, after };
}

/** Run a parsed query. Throws SearchError for the cap and for unsupported scans. */
export function searchContacts(state: HubspotState, query: SearchQuery): SearchPage {
  if (query.after + query.limit > SEARCH_RESULT_CAP) {
    // The documented wall: "Attempting to page beyond 10,000 will result in a 400 error."
    throw new SearchError(
      `The search endpoints are limited to ${SEARCH_RESULT_CAP} total results for any given query; after (${query.after}) + limit (${query.limit}) pages beyond it.`,
    );
  }
  const { total, results } = canUseRanges(query) ? rangeSearch(state, query) : scanSearch(state, query);
  const end = query.after + results.length;
  return { total, results, ...(end < total ? { nextAfter: end } : {}) };
}

function parseFilter(raw: unknown, where: string): SearchFilter {
  if (!isRecord(raw) || typeof raw.propertyName !== 'string') throw new SearchError(`${where}.propertyName is required.`);
  const operator = raw.operator;
  if (typeof operator !== 'string' || !(OPERATORS as readonly string[]).includes(operator)) {
    throw new SearchError(`${where}.operator must be one of ${OPERATORS.join(', ')}.`);
  }
  const filter: SearchFilter = { propertyName: raw.propertyName, operator: operator as Operator };
  if (raw.value !== undefined) filter.value = scalar(raw.value, `${where}.value`);
  if (raw.highValue !== undefined) filter.highValue = scalar(raw.highValue, `${where}.highValue`);
  if (raw.values !== undefined) {
    if (!Array.isArray(raw.values)) throw new SearchError(`${where}.values must be an array.`);
    filter.values = raw.values.map((v, i) => scalar(v, `${where}.values[${i}]`));
  }
  const needsValue = !['HAS_PROPERTY', 'NOT_HAS_PROPERTY', 'IN', 'NOT_IN'].includes(filter.operator);
  if (needsValue && filter.value === undefined) throw new SearchError(`${where}.value is required for ${filter.operator}.`);
  if (filter.operator === 'BETWEEN' && filter.highValue === undefined) throw new SearchError(`${where}.highValue is required for BETWEEN.`);
  if ((filter.operator === 'IN' || filter.operator === 'NOT_IN') && !filter.values)
    throw new SearchError(`${where}.values is required for ${filter.operator}.`);
  // Comparable values must parse now, so a bad one is a 400 rather than an empty result.
  for (const v of [filter.value, filter.highValue]) {
    if (v !== undefined && isNumeric(filter.propertyName) && Number.isNaN(toNumber(filter.propertyName, v))) {
      throw new SearchError(`${where}: '${v}' is not a valid value for ${filter.propertyName}.`);
    }
  }
  return filter;
}

function canUseRanges(query: SearchQuery): boolean {
  return (
    query.groups.length <= 1 &&
    (query.groups[0] ?? []).every((f) => MONOTONIC_PROPERTIES.has(f.propertyName) && RANGE_OPERATORS.has(f.operator)) &&
    MONOTONIC_PROPERTIES.has(query.sort.propertyName) &&
    !query.sort.descending
  );
}

/** Generated contacts in [lo, hi) by binary search, merged with the changed ones. */
function rangeSearch(state: HubspotState, query: SearchQuery): { total: number; results: Contact[] } {
  const filters = query.groups[0] ?? [];
  const n = state.baseCount;
  let lo = 0;
  let hi = n;
  for (const f of filters) {
    const [from, to] = indexRange(state, f);
    lo = Math.max(lo, from);
    hi = Math.min(hi, to);
  }
  hi = Math.max(lo, hi);

  let touchedInRange = 0;
  for (const index of state.touchedIndices()) if (index >= lo && index < hi) touchedInRange += 1;
  const cmp = comparator(query.sort.propertyName);
  const changed = [...state.changedContacts()].filter((c) => !c.archived && filters.every((f) => matches(c, f))).sort(cmp);
  const total = hi - lo - touchedInRange + changed.length;

  const results: Contact[] = [];
  let position = 0;
  let i = lo;
  let j = 0;
  while (results.length < query.limit) {
    while (i < hi && state.isTouched(i)) i += 1; // its current version, if it still matches, is in `changed`
    const fromBase = i < hi ? state.baseContact(i) : undefined;
    const fromChanged = changed[j];
    let next: Contact;
    if (fromBase && (!fromChanged || cmp(fromBase, fromChanged) <= 0)) {
      next = fromBase;
      i += 1;
    } else if (fromChanged) {
      next = fromChanged;
      j += 1;
    } else break;
    if (position >= query.after) results.push(next);
    position += 1;
  }
  return { total, results };
}

/** Every current contact filtered and sorted: small accounts, or queries the ranges cannot answer. */
function scanSearch(state: HubspotState, query: SearchQuery): { total: number; results: Contact[] } {
  const all = state.baseCount + state.createdContacts().length;
  if (all > SCAN_LIMIT) {
    throw new SearchError(
      `fake-hubspot: this query needs a scan of ${all} contacts; with more than ${SCAN_LIMIT} only one filterGroup on ` +
        'lastmodifieddate, createdate or hs_object_id, sorted ASCENDING by one of them, is supported.',
    );
  }
  const hits: Contact[] = [];
  const consider = (c: Contact) => {
    if (!c.archived && (query.groups.length === 0 || query.groups.some((g) => g.every((f) => matches(c, f))))) hits.push(c);
  };
  for (let i = 0; i < state.baseCount; i += 1) consider(state.current(i));
  for (const c of state.createdContacts()) consider(c);
  const cmp = comparator(query.sort.propertyName);
  hits.sort(query.sort.descending ? (a, b) => cmp(b, a) : cmp);
  return { total: hits.length, results: hits.slice(query.after, query.after + query.limit) };
}

/** The base indices whose generated value passes `f` (values never decrease with the index). */
function indexRange(state: HubspotState, f: SearchFilter): [number, number] {
  const n = state.baseCount;
  const valueAt = f.propertyName === 'hs_object_id' ? (i: number) => state.firstId + i : (i: number) => state.timeline.at(i);
  const atLeast = (v: number) => firstIndex(n, (i) => valueAt(i) >= v);
  const above = (v: number) => firstIndex(n, (i) => valueAt(i) > v);
  const v = f.value === undefined ? Number.NaN : toNumber(f.propertyName, f.value);
  switch (f.operator) {
    case 'EQ':
      return [atLeast(v), above(v)];
    case 'GT':
      return [above(v), n];
    case 'GTE':
      return [atLeast(v), n];
    case 'LT':
      return [0, atLeast(v)];
    case 'LTE':
      return [0, above(v)];
    case 'BETWEEN':
      return [atLeast(v), above(toNumber(f.propertyName, f.highValue ?? ''))];
    default:
      return [0, n]; // HAS_PROPERTY: every contact has these
  }
}

export function matches(contact: Contact, f: SearchFilter): boolean {
  const raw = contact.properties[f.propertyName] ?? null;
  const present = raw !== null && raw !== '';
  switch (f.operator) {
    case 'HAS_PROPERTY':
      return present;
    case 'NOT_HAS_PROPERTY':
      return !present;
    case 'IN':
      return present && (f.values ?? []).some((v) => same(f.propertyName, raw, v));
    case 'NOT_IN':
      return !present || !(f.values ?? []).some((v) => same(f.propertyName, raw, v));
    case 'NEQ':
      return !present || !same(f.propertyName, raw, f.value ?? '');
    case 'CONTAINS_TOKEN':
      return present && raw.toLowerCase().includes((f.value ?? '').replaceAll('*', '').toLowerCase());
    case 'NOT_CONTAINS_TOKEN':
      return !present || !raw.toLowerCase().includes((f.value ?? '').replaceAll('*', '').toLowerCase());
    default:
      break;
  }
  if (!present) return false;
  const c = compare(f.propertyName, raw, f.value ?? '');
  switch (f.operator) {
    case 'EQ':
      return c === 0;
    case 'LT':
      return c < 0;
    case 'LTE':
      return c <= 0;
    case 'GT':
      return c > 0;
    case 'GTE':
      return c >= 0;
    case 'BETWEEN':
      return c >= 0 && compare(f.propertyName, raw, f.highValue ?? '') <= 0;
    default:
      return false;
  }
}

/** Order by the sort property, ties by numeric id (the order HubSpot pages in). */
function comparator(propertyName: string): (a: Contact, b: Contact) => number {
  return (a, b) => {
    const av = a.properties[propertyName] ?? null;
    const bv = b.properties[propertyName] ?? null;
    let c: number;
    if (av === null || bv === null)
      c = av === bv ? 0 : av === null ? 1 : -1; // missing values last
    else c = compare(propertyName, av, bv);
    return c !== 0 ? c : Number(a.id) - Number(b.id);
  };
}

function compare(propertyName: string, a: string, b: string): number {
  if (isNumeric(propertyName)) return Math.sign(toNumber(propertyName, a) - toNumber(propertyName, b));
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function same(propertyName: string, a: string, b: string): boolean {
  return compare(propertyName, a, b) === 0;
}

function isNumeric(propertyName: string): boolean {
  return DATE_PROPERTIES.has(propertyName) || NUMBER_PROPERTIES.has(propertyName);
}

/** Dates are compared as epoch ms (filters may give ms or ISO 8601); ids as numbers. */
function toNumber(propertyName: string, value: string): number {
  return DATE_PROPERTIES.has(propertyName) ? parseTime(value) : Number(value);
}

function scalar(value: unknown, where: string): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new SearchError(`${where} must be a string or a number.`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
