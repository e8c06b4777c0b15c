/**
 * Deterministic record material for the fakes: every record is a pure
 * function of (seed, index), so a million records cost nothing until asked
 * for, and the same seed always serves the same data.
 */

/** A 32-bit hash of a seed string or number (FNV-1a), to mix into per-record hashes. */
export function seedNumber(seed: string | number): number {
  const text = String(seed);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A well-mixed unsigned 32-bit value for (seed, index, salt) (murmur3's finalizer). */
export function mix(seed: number, index: number, salt = 0): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function pick<T>(items: readonly T[], hash: number): T {
  return items[hash % items.length] as T;
}

/**
 * Record timestamps that never decrease with the index: record i is stamped
 * `start + floor(i / tieGroup) * step`. Monotonic stamps are what let a
 * generated set answer "modified since T" by binary search instead of a scan;
 * `tieGroup` > 1 makes runs of records share one stamp, the case that breaks
 * naive timestamp cursors.
 */
export class Timeline {
  constructor(
    readonly startMs: number,
    readonly stepMs: number,
    readonly tieGroup: number,
  ) {
    if (!(stepMs >= 0) || !Number.isFinite(stepMs)) throw new RangeError(`stepMs must be >= 0, got ${stepMs}`);
    if (!Number.isInteger(tieGroup) || tieGroup < 1) throw new RangeError(`tieGroup must be an integer >= 1, got ${tieGroup}`);
  }

  at(index: number): number {
    return this.startMs + Math.floor(index / this.tieGroup) * this.stepMs;
  }
}

/** The first index in [0, n) where `isPast` turns true (n when never); `isPast` must be monotonic false -> true. */
export function firstIndex(n: number, isPast: (index: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (isPast(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Milliseconds, UTC: `2019-10-30T03:30:17.883Z`. */
export function isoMillis(ms: number): string {
  return new Date(ms).toISOString();
}

/** Whole seconds with an explicit offset: `2015-10-21T15:41:36+00:00`. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/** Epoch ms from ISO 8601 or from a string of digits (epoch ms); NaN when neither. */
export function parseTime(value: string): number {
  if (/^-?\d+$/.test(value.trim())) return Number(value.trim());
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? Number.NaN : ms;
}

export const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Dennis',
  'Radia',
  'Linus',
  'Katherine',
  'Tim',
  'Hedy',
  'John',
  'Sophie',
  'Niklaus',
  'Shafi',
  'Leslie',
] as const;

export const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Ritchie',
  'Perlman',
  'Torvalds',
  'Johnson',
  'Berners-Lee',
  'Lamarr',
  'Backus',
  'Wilson',
  'Wirth',
  'Goldwasser',
  'Lamport',
] as const;

export const COMPANIES = [
  'Acme Corp',
  'Globex',
  'Initech',
  'Umbrella',
  'Hooli',
  'Stark Industries',
  'Wayne Enterprises',
  'Tyrell',
  'Cyberdyne',
  'Soylent',
] as const;

export const TOPICS = [
  'Winter Sale',
  'Spring Launch',
  'Summer Digest',
  'Autumn Picks',
  'Product Update',
  'Weekly Roundup',
  'Customer Stories',
  'Webinar Invite',
  'Holiday Offers',
  'New Arrivals',
] as const;
