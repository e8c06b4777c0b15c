/**
 * Dot paths (`properties.email`, `items.0.id`) into upstream JSON, and the
 * mapping of one upstream record to a RecordWrite: the configured paths fill
 * the known fields, and everything else in the record is kept in attributes.
 */
import type { RecordFields, RecordType, RecordWrite } from '../../domain/records.js';
import type { MappingSpec, TimeFormat } from './schema.js';

export type Segments = readonly string[];

export function splitPath(path: string): Segments {
  return path.split('.');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at `path`, or undefined. Own properties only; a numeric segment indexes an array. */
export function getPath(value: unknown, path: string | Segments): unknown {
  let cur: unknown = value;
  for (const seg of typeof path === 'string' ? splitPath(path) : path) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return undefined;
      cur = cur[Number(seg)];
    } else if (isPlainObject(cur) && Object.hasOwn(cur, seg)) {
      cur = cur[seg];
    } else {
      return undefined;
    }
  }
  return cur;
}

/**
 * `raw` without the values at `paths`, and without any object a removal left
 * empty. Copy on write: only the objects along a removed path are copied, the
 * rest is shared with `raw`, which is never changed. Values inside arrays stay.
 */
export function withoutPaths(raw: Record<string, unknown>, paths: readonly Segments[]): Record<string, unknown> {
  const root: Record<string, unknown> = { ...raw };
  const copies = new Set<object>([root]);
  for (const segs of paths) {
    const parents: Array<Record<string, unknown>> = [];
    let cur: Record<string, unknown> = root;
    let found = true;
    for (let i = 0; i < segs.length - 1; i++) {
      const key = segs[i] as string;
      const child = Object.hasOwn(cur, key) ? cur[key] : undefined;
      if (!isPlainObject(child)) {
        found = false;
        break;
      }
      parents.push(cur);
      let copy = child;
      if (!copies.has(child)) {
        copy = { ...child };
        copies.add(copy);
        // defineProperty, not assignment: a `__proto__` key from JSON stays a plain member.
        Object.defineProperty(cur, key, { value: copy, writable: true, enumerable: true, configurable: true });
      }
      cur = copy;
    }
    const last = segs[segs.length - 1] as string;
    if (!found || !Object.hasOwn(cur, last)) continue;
    delete cur[last];
    // Prune parents the removal emptied, innermost first.
    let child = cur;
    for (let i = parents.length - 1; i >= 0; i--) {
      if (Object.keys(child).length > 0) break;
      delete (parents[i] as Record<string, unknown>)[segs[i] as string];
      child = parents[i] as Record<string, unknown>;
    }
  }
  return root;
}

/** A time in ms since the epoch, or null when the value does not read as one in `format`. */
export function parseTime(value: unknown, format: TimeFormat): number | null {
  if (format === 'iso') {
    if (typeof value !== 'string' || value.trim() === '') return null;
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : null;
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) return null;
  const ms = format === 'epoch_s' ? n * 1000 : n;
  // Past what a Date holds the time could never be shown: read it as "no time".
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? Math.floor(ms) : null;
}

/** A checkpoint time as the upstream parameter wants it; rounded down, so nothing is skipped. */
export function formatTime(ms: number, format: TimeFormat): string | number {
  if (format === 'epoch_ms') return Math.floor(ms);
  if (format === 'epoch_s') return Math.floor(ms / 1000);
  return new Date(ms).toISOString();
}

function asText(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function asNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return null;
}

function isDeletedFlag(v: unknown): boolean {
  if (v === true) return true;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.trim() !== '' && !/^(false|0|no)$/i.test(v.trim());
  return false;
}

export type MappedRecord = { ok: true; write: RecordWrite } | { ok: false; reason: string };

/** The mapping compiled once per source: paths split, defaults applied. */
export interface RecordMapper {
  map(raw: unknown): MappedRecord;
}

export function createRecordMapper(type: RecordType, mapping: MappingSpec, source: string, defaultTimeFormat: TimeFormat): RecordMapper {
  const externalId = splitPath(mapping.external_id);
  const path = (p: string | undefined) => (p === undefined ? null : splitPath(p));
  const id = path(mapping.id);
  const names = mapping.name === undefined ? [] : (Array.isArray(mapping.name) ? mapping.name : [mapping.name]).map(splitPath);
  const email = type === 'customer' ? path(mapping.email) : null;
  const status = type === 'campaign' ? path(mapping.status) : null;
  const budget = type === 'campaign' ? path(mapping.budget) : null;
  const details = type === 'campaign' && mapping.details !== undefined ? mapping.details : undefined;
  const updatedAt = path(mapping.updated_at);
  const updatedFormat = mapping.updated_at_format ?? defaultTimeFormat;
  const deleted = path(mapping.deleted);

  return {
    map(raw: unknown): MappedRecord {
      if (!isPlainObject(raw)) return { ok: false, reason: 'the record is not an object' };
      const idValue = getPath(raw, externalId);
      // JSON.parse rounds integers past 2^53 (64-bit ids are common): two records would share one key.
      if (typeof idValue === 'number' && Number.isInteger(idValue) && !Number.isSafeInteger(idValue)) {
        return {
          ok: false,
          reason: `the number at "${mapping.external_id}" is too large to read exactly (past 2^53); map a field that holds the id as a string`,
        };
      }
      const ext = typeof idValue === 'string' ? idValue : typeof idValue === 'number' && Number.isFinite(idValue) ? String(idValue) : '';
      if (ext === '') return { ok: false, reason: `no external_id at "${mapping.external_id}"` };

      // What a field took leaves the attributes; what it could not use stays there.
      const taken: Segments[] = [externalId];
      const take = <T>(segs: Segments | null, convert: (v: unknown) => T | null): T | null => {
        if (!segs) return null;
        const v = convert(getPath(raw, segs));
        if (v !== null) taken.push(segs);
        return v;
      };

      const fields: RecordFields = { sender_id: null, name: null, email: null, status: null, budget: null, details: null };
      fields.sender_id = take(id, (v) => {
        const n = asNumber(v);
        return n !== null && Number.isSafeInteger(n) ? n : null;
      });
      const nameParts: string[] = [];
      for (const segs of names) {
        const part = take(segs, asText);
        if (part !== null && part.trim() !== '') nameParts.push(part.trim());
      }
      fields.name = nameParts.length > 0 ? nameParts.join(' ') : null;
      fields.email = take(email, asText);
      fields.status = take(status, asText);
      fields.budget = take(budget, asNumber);
      if (typeof details === 'string') {
        fields.details = take(splitPath(details), (v) => (isPlainObject(v) ? v : null));
      } else if (details !== undefined) {
        const out: Record<string, unknown> = {};
        for (const [key, p] of Object.entries(details)) {
          const segs = splitPath(p);
          const v = getPath(raw, segs);
          if (v === undefined) continue;
          out[key] = v;
          taken.push(segs);
        }
        fields.details = Object.keys(out).length > 0 ? out : null;
      }
      const sourceUpdatedAt = take(updatedAt, (v) => parseTime(v, updatedFormat));

      const attributes = withoutPaths(raw, taken);

      return {
        ok: true,
        write: {
          type,
          external_id: ext,
          source,
          fields,
          attributes,
          sourceUpdatedAt,
          deleted: deleted ? isDeletedFlag(getPath(raw, deleted)) : false,
        },
      };
    },
  };
}
