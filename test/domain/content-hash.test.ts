import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashContent, recordFromPayload, storableWrite, type RecordWrite } from '../../src/domain/records.js';

/** The first, obviously correct form: every record hashed before stays the same. */
function referenceCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(referenceCanonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonical(v)}`).join(',')}}`;
}

const seed = process.env.PROPERTY_SEED === 'random' ? undefined : Number(process.env.PROPERTY_SEED ?? 20261127);
const jsonish = fc.jsonValue().chain((v) => fc.constantFrom(v, { nested: v, und: undefined, n: Number.NaN, z: -0 }));

describe('canonical JSON and the content hash', () => {
  it('gives the same text as the reference form for any JSON value (and NaN, -0, undefined members)', () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        expect(canonicalJson(v)).toBe(referenceCanonical(v));
      }),
      { seed, numRuns: 500 },
    );
  });

  it('sorts keys by UTF-16 code units at every depth, whatever the insertion order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, B: true, é: 'x', '10': 0, '9': 1 })).toBe(
      '{"10":0,"9":1,"B":true,"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1,"é":"x"}',
    );
  });

  it('keeps a __proto__ member from JSON as a member, in its sorted place', () => {
    const v = JSON.parse('{"b":1,"__proto__":{"y":[{"d":1,"c":2}],"x":1},"a":2}') as unknown;
    expect(canonicalJson(v)).toBe('{"__proto__":{"x":1,"y":[{"c":2,"d":1}]},"a":2,"b":1}');
    expect(canonicalJson(v)).toBe(referenceCanonical(v));
  });

  it('hashes as sha256 over type, NUL and the canonical record, so stored hashes stay valid', () => {
    const w = recordFromPayload('customer', { external_id: 'c1', name: 'Ada', email: 'ada@example.com', plan: { tier: 'pro', seats: 3 } }, 'webhook');
    const body = referenceCanonical({ s: w.source, f: w.fields, a: w.attributes, d: w.deleted });
    const expected = createHash('sha256').update(w.type).update('\0').update(body).digest('base64url');
    expect(hashContent(w).hash).toBe(expected);
    expect(hashContent({ ...w, attributes: { plan: { seats: 3, tier: 'pro' } } }).hash).toBe(expected);
    expect(hashContent({ ...w, deleted: true }).hash).not.toBe(expected);
  });

  it('makes the same hash as the reference form for any record, and hands back the canonical texts it used', () => {
    const scalar = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
    const record = fc.record({
      type: fc.constantFrom('customer' as const, 'campaign' as const),
      external_id: fc.string(),
      source: fc.string(),
      fields: fc.record({
        sender_id: scalar(fc.integer()),
        name: scalar(fc.string()),
        email: scalar(fc.string()),
        status: scalar(fc.string()),
        budget: scalar(fc.double()),
        details: scalar(fc.dictionary(fc.string(), fc.jsonValue())),
      }),
      attributes: fc.dictionary(fc.string(), jsonish),
      sourceUpdatedAt: scalar(fc.integer()),
      deleted: fc.boolean(),
    });
    fc.assert(
      fc.property(record, (w: RecordWrite) => {
        const body = referenceCanonical({ s: w.source, f: w.fields, a: w.attributes, d: w.deleted });
        const content = hashContent(w);
        expect(content.hash).toBe(createHash('sha256').update(w.type).update('\0').update(body).digest('base64url'));
        expect(content.attributes).toBe(referenceCanonical(w.attributes));
        expect(content.details).toBe(w.fields.details === null ? null : referenceCanonical(w.fields.details));
      }),
      { seed, numRuns: 300 },
    );
  });
});

describe('storableWrite without copies', () => {
  it('returns the very same write when nothing needs cleaning', () => {
    const w = recordFromPayload('campaign', { external_id: 'k1', name: 'Sale', budget: 5, details: { a: ['x', 1, null] }, extra: { deep: ['ok'] } }, 'crm');
    expect(storableWrite(w)).toBe(w);
  });

  it('copies when a nested attribute needs cleaning, and leaves the input as it was', () => {
    const w = recordFromPayload('customer', { external_id: 'k2', extra: { deep: ['fine', 'bad\u0000'] } }, 'crm');
    const s = storableWrite(w);
    expect(s).not.toBe(w);
    expect(s.attributes).toEqual({ extra: { deep: ['fine', 'bad'] } });
    expect(w.attributes).toEqual({ extra: { deep: ['fine', 'bad\u0000'] } });
  });

  it('finds NUL and lone surrogates exactly where the regex does, in any UTF-16 text', () => {
    const unit = fc.oneof(fc.constantFrom(0, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0x41), fc.integer({ min: 0, max: 0xffff }));
    const text = fc.array(unit, { maxLength: 12 }).map((units) => String.fromCharCode(...units));
    // eslint-disable-next-line no-control-regex -- U+0000 is what it looks for
    const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    fc.assert(
      fc.property(text, (s) => {
        const w = recordFromPayload('customer', { external_id: 'k4', note: s, [s]: 1 }, 'crm');
        expect(storableWrite(w) === w).toBe(!unstorable.test(s));
      }),
      { seed, numRuns: 1000 },
    );
  });

  it('cleans keys too', () => {
    const w = recordFromPayload('customer', { external_id: 'k3', extra: { 'a\u0000b': 1 } }, 'crm');
    expect(storableWrite(w).attributes).toEqual({ extra: { ab: 1 } });
  });
});
