/**
 * Upstream ids sent as JSON numbers past 2^53 (64-bit ids are common) are
 * rounded by JSON.parse: two different records came out with one
 * external_id, and the second silently overwrote the first. Such a record is
 * now skipped with a reason (as `id` already refused unsafe integers), and a
 * safe numeric id still maps.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declaredSource, walk } from '../declared/helpers.js';
import { json, startLoopback, type Loopback } from '../helpers/loopback.js';

let lb: Loopback;
beforeAll(async () => {
  lb = await startLoopback();
  // Two distinct records, as the upstream sends them (raw JSON text).
  lb.handler = (_u, res) =>
    json(res, '[{"id": 9007199254740993, "name": "Ann"}, {"id": 9007199254740992, "name": "Bob"}, {"id": 9007199254740991, "name": "Cy"}]');
});
afterAll(async () => lb?.close());

it('two upstream records with distinct 64-bit numeric ids never share an external_id', async () => {
  const source = declaredSource('acme', { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id', name: 'name' } });
  const w = await walk(source);
  await source.close();
  const ids = w.records.map((r) => r.external_id);
  expect(ids).toEqual(['9007199254740991']);
});
