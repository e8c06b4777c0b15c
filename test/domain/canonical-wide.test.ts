import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/domain/records.js';

/** The first, obviously correct form (as in content-hash.test.ts). */
function referenceCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(referenceCanonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonical(v)}`).join(',')}}`;
}

const seed = process.env.PROPERTY_SEED === 'random' ? undefined : Number(process.env.PROPERTY_SEED ?? 20261206);
const member = fc.oneof(fc.constant(null), fc.constant(undefined), fc.string(), fc.double(), fc.boolean(), fc.jsonValue());
/** Objects wide enough for the remembered-order path: a synced contact's hundreds of properties. */
const wide = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('10', '9', '__proto__', 'é', 'B', 'a')), member, { minKeys: 64, maxKeys: 120 });

describe('canonical JSON of wide objects', () => {
  it('gives the reference text for any wide object, hashed one after another', () => {
    fc.assert(
      fc.property(fc.array(wide, { minLength: 1, maxLength: 4 }), (objects) => {
        for (const o of objects) expect(canonicalJson(o)).toBe(referenceCanonical(o));
      }),
      { seed, numRuns: 200 },
    );
  });

  it('does not reuse the order of the previous object when the keys differ but their count does not', () => {
    const names = Array.from({ length: 100 }, (_, i) => `property_${String(i).padStart(3, '0')}`);
    const a = Object.fromEntries(names.map((n, i) => [n, i]));
    const b = Object.fromEntries(names.map((n, i) => [i === 50 ? 'zz_other' : i === 51 ? '0_first' : n, i]));
    const reversed = Object.fromEntries(Object.entries(a).reverse());
    for (const o of [a, b, reversed, a, reversed, b]) expect(canonicalJson(o)).toBe(referenceCanonical(o));
    // A remembered key present but not enumerable is not a member.
    const hidden = { ...b };
    Object.defineProperty(hidden, 'property_050', { value: 'x', enumerable: false });
    canonicalJson(a);
    expect(canonicalJson(hidden)).toBe(referenceCanonical(hidden));
  });

  it('keeps nested objects, arrays, undefined and non-finite members as the narrow path does', () => {
    const o: Record<string, unknown> = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, `v${i}`]));
    Object.assign(o, { nested: { b: [1, { d: 2, c: Number.NaN }], a: -0 }, gone: undefined, inf: Infinity, '7': 'seven' });
    expect(canonicalJson(o)).toBe(referenceCanonical(o));
    expect(canonicalJson({ x: o })).toBe(referenceCanonical({ x: o }));
  });
});
