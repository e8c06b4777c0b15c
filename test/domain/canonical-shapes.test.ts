import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/domain/records.js';

/** The canonical text by hand: keys sorted at every depth, undefined members left out. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const members = Object.keys(obj)
    .sort()
    .filter((k) => obj[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${reference(obj[k])}`);
  return `{${members.join(',')}}`;
}

/**
 * canonicalJson remembers the sorted order of key lists it met before: an
 * object must never get the order of another that merely starts alike, has
 * the same keys in another order, or was forgotten when the memory filled.
 */
describe('canonicalJson and the key lists it remembers', () => {
  it('objects starting with the same key, or with the same keys in another order, each get their own order', () => {
    const cases: unknown[] = [
      { id: 'a', web_id: 1, type: 'regular' },
      { id: 'a', web_id: 1, type: 'regular', extra: true },
      { id: 'a', type: 'regular', web_id: 1 },
      { id: 'a', web_id: 1 },
      { id: 'a', zz: { b: 1, a: 2 }, aa: [{ y: 1, x: 2 }] },
      { id: 'a', zz: { a: 2, b: 1 }, aa: [{ x: 2, y: 1 }] },
      { id: 'b', '1': 'index first', a: 1 },
      { id: 'b', a: 1 },
      { b: undefined, a: 1 },
    ];
    for (let round = 0; round < 3; round++) for (const c of cases) expect(canonicalJson(c)).toBe(reference(c));
    expect(canonicalJson(cases[2])).toBe(canonicalJson(cases[0]));
  });

  it('stays right past the number of key lists it keeps', () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 1_500; i++) {
        const value = { first: i, [`k${i % 700}`]: { [`n${i % 3}`]: 1, a: [i] }, b: null };
        expect(canonicalJson(value)).toBe(reference(value));
      }
    }
  });
});
