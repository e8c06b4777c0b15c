import { describe, expect, it } from 'vitest';
import { createRecordMapper, formatTime, getPath, parseTime, withoutPaths } from '../../../src/providers/declared/field-mapping.js';

describe('dot paths', () => {
  const doc = { a: { b: { c: 1 } }, list: [{ id: 'x' }, { id: 'y' }], 'odd key': 2 };
  it('reach nested fields and array items, and own properties only', () => {
    expect(getPath(doc, 'a.b.c')).toBe(1);
    expect(getPath(doc, 'list.1.id')).toBe('y');
    expect(getPath(doc, 'odd key')).toBe(2);
    expect(getPath(doc, 'a.x.c')).toBeUndefined();
    expect(getPath(doc, 'list.id')).toBeUndefined();
    expect(getPath(doc, 'a.constructor')).toBeUndefined();
    expect(getPath(doc, 'a.b.c.d')).toBeUndefined();
  });
});

describe('times', () => {
  it('read and write iso, epoch_ms and epoch_s, rounding down', () => {
    expect(parseTime('2024-03-01T00:00:00.123456Z', 'iso')).toBe(Date.parse('2024-03-01T00:00:00.123Z'));
    expect(parseTime(1_709_251_200, 'epoch_s')).toBe(1_709_251_200_000);
    expect(parseTime('1709251200123', 'epoch_ms')).toBe(1_709_251_200_123);
    expect(parseTime('yesterday', 'iso')).toBeNull();
    expect(parseTime(12, 'iso')).toBeNull();
    expect(formatTime(1_709_251_200_999, 'epoch_s')).toBe(1_709_251_200);
    expect(formatTime(1_709_251_200_999, 'epoch_ms')).toBe(1_709_251_200_999);
    expect(formatTime(1_709_251_200_999, 'iso')).toBe('2024-03-01T00:00:00.999Z');
  });
});

describe('record mapping', () => {
  it('customer: known fields from paths, everything else kept in attributes', () => {
    const mapper = createRecordMapper(
      'customer',
      { external_id: 'id', id: 'number', name: ['properties.first_name', 'properties.last_name'], email: 'properties.email', updated_at: 'updated_at' },
      'acme',
      'iso',
    );
    const raw = {
      id: 'c7',
      number: '7',
      properties: { first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', phone: '+44' },
      tags: ['vip'],
      updated_at: '2024-03-01T10:00:00Z',
    };
    const m = mapper.map(raw);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.write).toEqual({
      type: 'customer',
      external_id: 'c7',
      source: 'acme',
      fields: { sender_id: 7, name: 'Ada Lovelace', email: 'ada@example.com', status: null, budget: null, details: null },
      attributes: { properties: { phone: '+44' }, tags: ['vip'] },
      sourceUpdatedAt: Date.parse('2024-03-01T10:00:00Z'),
      deleted: false,
    });
    // The input is not changed.
    expect(raw.properties.email).toBe('ada@example.com');
  });

  it('campaign: status, budget, details (a map of paths) and a deleted flag', () => {
    const mapper = createRecordMapper(
      'campaign',
      {
        external_id: 'uid',
        name: 'title',
        status: 'state',
        budget: 'spend.amount',
        details: { discount: 'offer.discount', start_date: 'schedule.starts_on', end_date: 'schedule.ends_on' },
        updated_at: 'modified',
        updated_at_format: 'epoch_s',
        deleted: 'archived',
      },
      'promos',
      'iso',
    );
    const m = mapper.map({
      uid: 991,
      title: 'Winter Sale',
      state: 'active',
      spend: { amount: '5000.5', currency: 'EUR' },
      offer: { discount: '20%' },
      schedule: { starts_on: '2026-12-01', ends_on: '2026-12-31' },
      modified: 1_709_251_200,
      archived: true,
      owner: { team: 'growth' },
    });
    expect(m.ok && m.write).toEqual({
      type: 'campaign',
      external_id: '991',
      source: 'promos',
      fields: {
        sender_id: null,
        name: 'Winter Sale',
        email: null,
        status: 'active',
        budget: 5000.5,
        details: { discount: '20%', start_date: '2026-12-01', end_date: '2026-12-31' },
      },
      attributes: { spend: { currency: 'EUR' }, archived: true, owner: { team: 'growth' } },
      sourceUpdatedAt: 1_709_251_200_000,
      deleted: true,
    });
  });

  it('a value of the wrong kind stays in attributes instead of being lost', () => {
    const mapper = createRecordMapper('customer', { external_id: 'id', email: 'email', name: 'name' }, 'acme', 'iso');
    const m = mapper.map({ id: 'c1', email: { primary: 'a@example.com' }, name: 42 });
    expect(m.ok && m.write.fields).toMatchObject({ email: null, name: null });
    expect(m.ok && m.write.attributes).toEqual({ email: { primary: 'a@example.com' }, name: 42 });
  });

  it('a record without an external id is refused with the path named', () => {
    const mapper = createRecordMapper('customer', { external_id: 'meta.id' }, 'acme', 'iso');
    expect(mapper.map({ id: 'c1' })).toEqual({ ok: false, reason: 'no external_id at "meta.id"' });
    expect(mapper.map({ meta: { id: '' } }).ok).toBe(false);
    expect(mapper.map('c1').ok).toBe(false);
  });
});

describe('attributes without the mapped paths (copy on write)', () => {
  it('removes nested paths, prunes emptied objects, shares the rest and never changes the input', () => {
    const raw = { id: 'x', a: { b: { c: 1 }, keep: { deep: [1, 2] } }, p: { q: 2 }, list: [{ id: 1 }] };
    const before = JSON.stringify(raw);
    const out = withoutPaths(raw, [['id'], ['a', 'b', 'c'], ['p', 'q'], ['list', '0', 'id'], ['missing', 'x']]);
    expect(out).toEqual({ a: { keep: { deep: [1, 2] } }, list: [{ id: 1 }] });
    expect(JSON.stringify(raw)).toBe(before);
    // Untouched branches are shared, not copied.
    expect(out.list).toBe(raw.list);
    expect((out.a as { keep: unknown }).keep).toBe(raw.a.keep);
  });

  it('keeps a __proto__ member a plain member while copying a path through it', () => {
    const raw = JSON.parse('{"id":"x","__proto__":{"polluted":true,"email":"e"}}') as Record<string, unknown>;
    const out = withoutPaths(raw, [['__proto__', 'email']]);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"id":"x","__proto__":{"polluted":true}}');
  });
});
