import { hash } from 'node:crypto';
import { parseRfc3339 } from './time.js';

export const RECORD_TYPES = ['customer', 'campaign'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** The known fields of both types; a customer leaves the campaign ones null. */
export interface RecordFields {
  sender_id: number | null;
  name: string | null;
  email: string | null;
  status: string | null;
  budget: number | null;
  details: Record<string, unknown> | null;
}

/** One record as it is about to be written, whichever way it came in. */
export interface RecordWrite {
  type: RecordType;
  external_id: string;
  source: string;
  fields: RecordFields;
  /** Everything the sender sent beyond the known fields. */
  attributes: Record<string, unknown>;
  /** The sender's `updated_at` in ms, when it gave one: guards against out-of-order delivery. */
  sourceUpdatedAt: number | null;
  /** A deletion upstream: the row stays as a tombstone. */
  deleted: boolean;
}

/**
 * A sender's rule for an incoming write to a record already stored, applied
 * before the out-of-order guard: the write to store instead (for example the
 * incoming one with some values of the stored one kept), or 'stale'.
 */
export type ReconcileWrite = (incoming: RecordWrite, stored: RecordWrite) => RecordWrite | 'stale';

/** A stored record as the data layer returns it. */
export interface StoredRecord {
  rowId: number;
  type: RecordType;
  external_id: string;
  source: string;
  fields: RecordFields;
  attributes: Record<string, unknown>;
  sourceUpdatedAt: number | null;
  createdAt: number;
  updatedAt: number;
  deletedAt: number | null;
}

/** What one write did: `stale` lost to a newer stored version, `unchanged` matched it. */
export type WriteResult = 'created' | 'updated' | 'unchanged' | 'stale' | 'deleted';

const KNOWN_FIELDS: Record<RecordType, ReadonlySet<string>> = {
  customer: new Set(['external_id', 'id', 'name', 'email', 'updated_at']),
  campaign: new Set(['external_id', 'id', 'name', 'status', 'budget', 'details', 'updated_at']),
};

function asString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/**
 * Splits a validated payload object into known fields and attributes.
 * The schema has already checked types; this only sorts and converts.
 */
export function recordFromPayload(type: RecordType, payload: Record<string, unknown>, source: string): RecordWrite {
  const known = KNOWN_FIELDS[type];
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (!known.has(key)) attributes[key] = value;
  }
  const updatedAt = typeof payload.updated_at === 'string' ? (parseRfc3339(payload.updated_at) ?? Number.NaN) : Number.NaN;
  const details = payload.details;
  return {
    type,
    external_id: String(payload.external_id),
    source,
    fields: {
      sender_id: typeof payload.id === 'number' ? payload.id : null,
      name: asString(payload.name),
      email: type === 'customer' ? asString(payload.email) : null,
      status: type === 'campaign' ? asString(payload.status) : null,
      budget: type === 'campaign' && typeof payload.budget === 'number' ? payload.budget : null,
      details: type === 'campaign' && details !== null && typeof details === 'object' && !Array.isArray(details) ? (details as Record<string, unknown>) : null,
    },
    attributes,
    sourceUpdatedAt: Number.isFinite(updatedAt) ? updatedAt : null,
    deleted: false,
  };
}

/** Returned by sortedCopy when an object has a key V8 would not keep in the order given. */
const UNORDERABLE = Symbol('unorderable');

/** A key list met before (same keys, same order), with its sorted order; null: a key V8 would not keep in order. */
interface Shape {
  keys: readonly string[];
  sorted: readonly string[] | null;
}

/**
 * Key lists met lately, by first key. The records of a source come in a few
 * shapes, each object's keys in the same order every time: comparing a key
 * list with one met before is cheaper than sorting it again. Bounded: past
 * SHAPES_MAX lists it starts over.
 */
const shapes = new Map<string, Shape[]>();
let shapeCount = 0;
const SHAPES_MAX = 512;

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The object's keys sorted, or null when one looks like an array index (V8 lists those first, whatever the insertion order). */
function sortedKeys(obj: object): readonly string[] | null {
  const keys = Object.keys(obj);
  if (keys.length === 0) return keys;
  const first = keys[0] as string;
  let known = shapes.get(first);
  if (known) for (const shape of known) if (sameKeys(shape.keys, keys)) return shape.sorted;
  // Default sort order is by UTF-16 code units, the same as comparing with `<`.
  const sorted = keys.slice().sort();
  const orderable = sorted.every((k) => {
    const c = k.charCodeAt(0);
    return !(c >= 48 && c <= 57);
  });
  if (shapeCount >= SHAPES_MAX) {
    shapes.clear();
    shapeCount = 0;
    known = undefined;
  }
  if (!known) shapes.set(first, (known = []));
  known.push({ keys, sorted: orderable ? sorted : null });
  shapeCount++;
  return orderable ? sorted : null;
}

/**
 * `value` with the keys of every object inserted in sorted order, for one
 * native JSON.stringify. Keys that look like array indices are always listed
 * first by V8, whatever the insertion order, so such an object cannot be
 * copied in order: UNORDERABLE then sends the caller to the slow path.
 */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' || typeof value === 'symbol' ? null : value;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null || (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol')) continue;
      const copy = sortedCopy(item);
      if (copy === UNORDERABLE) return UNORDERABLE;
      out ??= value.slice();
      out[i] = copy;
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = sortedKeys(obj);
  if (keys === null) return UNORDERABLE;
  const copy: Record<string, unknown> = {};
  for (const k of keys) {
    const v = sortedCopy(obj[k]);
    if (v === UNORDERABLE) return UNORDERABLE;
    // defineProperty, not assignment: a `__proto__` key stays a plain member.
    if (k === '__proto__') Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
    else copy[k] = v;
  }
  return copy;
}

/** The same text as canonicalJson, built piece by piece: for the objects sortedCopy cannot order. */
function canonicalJsonSlow(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJsonSlow(value[i]);
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJsonSlow(v)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      // bigint, function, symbol, undefined: as JSON.stringify would, null.
      return 'null';
  }
}

/**
 * JSON with object keys sorted at every depth, so equal content hashes equally.
 * Undefined object members are left out and anything else JSON cannot carry
 * reads as null. It runs for every record of every sync page, so the common
 * case is a sorted copy and one native JSON.stringify (about 3x faster than
 * sorting `Object.entries` and joining by hand).
 */
export function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length >= WIDE_KEYS) return wideObjectJson(value as Record<string, unknown>, keys);
  }
  const copy = sortedCopy(value);
  if (copy === UNORDERABLE) return canonicalJsonSlow(value);
  return JSON.stringify(copy) ?? 'null';
}

/**
 * From this many keys an object is written by wideObjectJson. A copy that
 * wide is a slow dictionary-mode object to build and to stringify, and its
 * keys (a synced contact's few hundred properties) are the same from one
 * record to the next, so their order is worth remembering.
 */
const WIDE_KEYS = 64;

/** The sorted keys of the last wide object, and each as `"key":`. */
let wideSorted: readonly string[] = [];
let widePrefixes: readonly string[] = [];

const isOwnEnumerable = (obj: object, key: string): boolean => Object.prototype.propertyIsEnumerable.call(obj, key);

/**
 * canonicalJson of an object with many keys, written member by member in
 * sorted order. An object with the same keys as the previous one (same count,
 * each of the remembered ones its own) reuses their order and quoted forms
 * instead of sorting again.
 */
function wideObjectJson(obj: Record<string, unknown>, keys: string[]): string {
  let same = keys.length === wideSorted.length;
  for (let i = 0; same && i < wideSorted.length; i++) same = isOwnEnumerable(obj, wideSorted[i] as string);
  if (!same) {
    // Default sort order is by UTF-16 code units, the same as comparing with `<`.
    wideSorted = keys.sort();
    widePrefixes = wideSorted.map((k) => `${JSON.stringify(k)}:`);
  }
  const sorted = wideSorted;
  const prefixes = widePrefixes;
  let out = '{';
  for (let i = 0; i < sorted.length; i++) {
    const v = obj[sorted[i] as string];
    if (v === undefined) continue;
    const text = v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : canonicalJson(v);
    out += out.length === 1 ? prefixes[i] + text : `,${prefixes[i]}${text}`;
  }
  return `${out}}`;
}

/** A write's content hash, with the canonical texts it was made from: they are stored as the JSON columns too. */
export interface HashedContent {
  hash: string;
  /** canonicalJson of the attributes. */
  attributes: string;
  /** canonicalJson of `fields.details`, or null. */
  details: string | null;
}

const scalarJson = (v: unknown): string => JSON.stringify(v) ?? 'null';

/**
 * Hash of everything that makes a record different to a reader. The sender's
 * `updated_at` is left out on purpose: a resend with only a newer timestamp
 * is not a change, so it must not move the record in the change feed.
 */
export function hashContent(w: RecordWrite): HashedContent {
  const attributes = canonicalJson(w.attributes);
  const f = w.fields;
  const details = f.details == null ? null : canonicalJson(f.details);
  // The same text as canonicalJson(w.fields), keys in sorted order, built
  // around the details text instead of serializing the details twice.
  const fields =
    f.budget === undefined || f.email === undefined || f.name === undefined || f.sender_id === undefined || f.status === undefined || f.details === undefined
      ? canonicalJson(f)
      : `{"budget":${scalarJson(f.budget)},"details":${details ?? 'null'},"email":${scalarJson(f.email)},"name":${scalarJson(f.name)},"sender_id":${scalarJson(f.sender_id)},"status":${scalarJson(f.status)}}`;
  // The same text as canonicalJson({ s, f, a, d }), keys already in order.
  const body = `{"a":${attributes},"d":${w.deleted ? 'true' : 'false'},"f":${fields},"s":${JSON.stringify(w.source)}}`;
  return { hash: hash('sha256', `${w.type}\0${body}`, 'base64url'), attributes, details };
}

/** Deepest nesting of arrays and objects in a value, counted without recursion. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) stack.push([child, d]);
  }
  return max;
}

// U+0000 and unpaired UTF-16 surrogates: PostgreSQL refuses both in text columns.
// eslint-disable-next-line no-control-regex -- U+0000 is exactly what it looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// ES2024, in V8 since Node 20; the project's lib is ES2023.
declare global {
  interface String {
    isWellFormed(): boolean;
  }
}

/**
 * Text PostgreSQL can keep, on both engines alike: no U+0000, no unpaired
 * UTF-16 surrogate (no match of UNSTORABLE), found by two native scans
 * instead of the regex with lookarounds.
 */
export const storableText = (s: string): boolean => s.isWellFormed() && !s.includes('\u0000');

function cleanText(s: string): string {
  return storableText(s) ? s : s.replace(UNSTORABLE, (m) => (m === '\u0000' ? '' : '\ufffd'));
}

/** True when `value` holds nothing cleanValue would change: the common case, checked without copying. */
function isStorable(value: unknown): boolean {
  if (typeof value === 'string') return storableText(value);
  if (typeof value === 'number') return Number.isFinite(value);
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const v of value) if (!isStorable(v)) return false;
    return true;
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (!storableText(k) || !isStorable((value as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function cleanValue(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) return value.map(cleanValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[cleanText(k)] = cleanValue(v);
    return out;
  }
  return value;
}

/** `value` itself when it is storable already (no copy), else a cleaned copy. */
function storableValue<T>(value: T): T {
  return isStorable(value) ? value : (cleanValue(value) as T);
}

/**
 * Makes an upstream record storable on both engines: drops U+0000, replaces
 * unpaired surrogates with U+FFFD and non-finite numbers with null. Webhooks
 * refuse such input with a 422 instead; a sync cannot ask upstream to resend,
 * and one odd contact must not fail a whole run. A record that needs nothing
 * is returned as it is.
 */
export function storableWrite(w: RecordWrite): RecordWrite {
  const f = w.fields;
  const fieldsOk =
    (f.sender_id === null || Number.isSafeInteger(f.sender_id)) &&
    (f.budget === null || Number.isFinite(f.budget)) &&
    isStorable(f.name) &&
    isStorable(f.email) &&
    isStorable(f.status) &&
    isStorable(f.details);
  if (fieldsOk && isStorable(w.external_id) && isStorable(w.attributes)) return w;
  return {
    ...w,
    external_id: cleanText(w.external_id),
    fields: {
      sender_id: f.sender_id !== null && Number.isSafeInteger(f.sender_id) ? f.sender_id : null,
      name: f.name === null ? null : cleanText(f.name),
      email: f.email === null ? null : cleanText(f.email),
      status: f.status === null ? null : cleanText(f.status),
      budget: f.budget !== null && Number.isFinite(f.budget) ? f.budget : null,
      details: storableValue(f.details),
    },
    attributes: storableValue(w.attributes),
  };
}
