/**
 * HUBSPOT_PROPERTIES end to end: `all` reads the property definitions and
 * asks for every property, in chunks that keep each URL short, merged by
 * contact id; a list asks for those names; a cleared value clears; a
 * definition added between runs is asked for by the next run. On every engine.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import type { HubspotContact } from '../../../src/providers/hubspot/contact-mapping.js';
import { customPropertyName } from '../../../src/providers/hubspot/fake/properties.js';
import { URL_LIMIT } from '../../../src/providers/hubspot/fake/server.js';
import { chunkProperties, mergeChunks, PROPERTIES_PARAM_MAX } from '../../../src/providers/hubspot/properties.js';
import { ENGINES } from '../../helpers/databases.js';
import { allRecords, contactIds, expectExactly, Harness, runSync, since } from '../../helpers/sync.js';

const CONTACTS = '/crm/v3/objects/contacts';
const DEFINITIONS = '/crm/v3/properties/contacts';
// Stamps live in source_updated_at, not in attributes (see contact-mapping.ts).
const VOLATILE = new Set(['lastmodifieddate', 'hs_lastmodifieddate']);

describe('the fake HubSpot serves properties as HubSpot does', () => {
  let hs: FakeHubspot | undefined;
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
  });

  const get = async (path: string) => {
    const res = await fetch(`${hs!.url}${path}`, { headers: { authorization: `Bearer ${hs!.token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('lists a few hundred custom definitions with long names, answers only the asked-for properties with a url, and 414s an over-long URL', async () => {
    hs = await startFakeHubspot({ contacts: 3, customProperties: 300 });
    const defs = await get(DEFINITIONS);
    expect(defs.status).toBe(200);
    const names = (defs.body.results as Array<{ name: string }>).map((d) => d.name);
    expect(names.length).toBeGreaterThanOrEqual(309);
    expect(names).toContain(customPropertyName(299));
    expect(customPropertyName(0).length).toBeGreaterThan(50);

    const one = await get(`${CONTACTS}?limit=1&properties=email,phone`);
    const contact = (one.body.results as Array<{ properties: Record<string, unknown>; url: string; id: string }>)[0]!;
    expect(Object.keys(contact.properties).sort()).toEqual(['createdate', 'email', 'hs_object_id', 'lastmodifieddate', 'phone']);
    expect(contact.url).toMatch(new RegExp(`^https://app\\.hubspot\\.com/contacts/\\d+/record/0-1/${contact.id}$`));

    const all = await get(`${CONTACTS}?limit=1&properties=${names.join(',')}`);
    expect(all.status).toBe(414);
    expect(`${CONTACTS}?limit=1&properties=${names.join(',')}`.length).toBeGreaterThan(URL_LIMIT);
  });
});

describe('HUBSPOT_PROPERTIES', () => {
  it('is all by default, takes a list, and refuses a name HubSpot could not have, naming the variable', () => {
    expect(loadConfig({}).providers.hubspot.api.properties).toBe('all');
    expect(loadConfig({ HUBSPOT_PROPERTIES: 'ALL' }).providers.hubspot.api.properties).toBe('all');
    expect(loadConfig({ HUBSPOT_PROPERTIES: 'company, hs_lead_status,custom_x' }).providers.hubspot.api.properties).toEqual([
      'company',
      'hs_lead_status',
      'custom_x',
    ]);
    expect(() => loadConfig({ HUBSPOT_PROPERTIES: 'company,drop table;' })).toThrow(/HUBSPOT_PROPERTIES/);
  });
});

describe('property chunks', () => {
  it('cuts a long list into chunks of at most the limit, the mapped properties first, every name once', () => {
    const names = [...Array.from({ length: 500 }, (_, i) => customPropertyName(i)), 'email', 'lastmodifieddate'];
    const chunks = chunkProperties(names);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(encodeURIComponent(c.join(',')).length).toBeLessThanOrEqual(PROPERTIES_PARAM_MAX);
    expect(chunks[0]!.slice(0, 2)).toEqual(['email', 'lastmodifieddate']);
    expect(chunks.flat().sort()).toEqual([...names].sort());
  });

  it('merges chunks by id, not by position, and names a contact a later chunk lacks', () => {
    const c = (id: string, properties: Record<string, string | null>): HubspotContact => ({ id, properties });
    const chunks = [['a'], ['b']];
    const { contacts, missing } = mergeChunks(
      [{ results: [c('1', { a: 'a1' }), c('2', { a: 'a2' }), c('3', { a: 'a3' })] }, { results: [c('2', { b: 'b2', a: 'wrong' }), c('1', { b: 'b1' })] }],
      chunks,
    );
    expect(contacts).toEqual([c('1', { a: 'a1', b: 'b1' }), c('2', { a: 'a2', b: 'b2' }), c('3', { a: 'a3' })]);
    expect(missing).toEqual([{ id: '3', names: ['b'] }]);
  });
});

for (const engine of ENGINES) {
  describe(`HUBSPOT_PROPERTIES on ${engine.name}`, () => {
    const h = new Harness(engine);
    let hs: FakeHubspot | undefined;

    afterEach(async () => {
      await h.reset();
      await hs?.close();
      hs = undefined;
    });
    afterAll(() => h.drop());

    const boot = (env: Record<string, string> = {}) => h.bootFromEnv({ HUBSPOT_BASE_URL: hs!.url, HUBSPOT_ACCESS_TOKEN: hs!.token, ...env });
    const definedNames = () => hs!.state.properties.list().map((d) => d.name);
    const listGets = (from = 0) => since(hs!.state.requests.entries, from).filter((e) => e.method === 'GET' && e.path === CONTACTS);
    const definitionGets = (from = 0) => since(hs!.state.requests.entries, from).filter((e) => e.path === DEFINITIONS);

    /** The stored attributes hold every defined property as the fake has it now (null when unset). */
    const expectAsUpstream = (record: Record<string, unknown>, names: readonly string[]) => {
      const upstream = hs!.state.getContact(record.external_id as string)!;
      const attributes = record.attributes as Record<string, unknown>;
      const want: Record<string, unknown> = {};
      const got: Record<string, unknown> = {};
      for (const n of names) {
        if (VOLATILE.has(n)) continue;
        want[n] = upstream.properties[n] ?? null;
        got[n] = attributes[n];
      }
      expect(got).toEqual(want);
    };

    it('all (the default): reads the definitions, asks for every property in URL-sized chunks, and merges each contact whole', async () => {
      hs = await startFakeHubspot({ contacts: 250, customProperties: 300 });
      const app = await boot();
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');

      expect(definitionGets()).toHaveLength(1);
      const gets = listGets();
      expect(gets.every((e) => e.status === 200)).toBe(true);
      for (const e of gets) expect(encodeURIComponent(e.query.properties ?? '').length).toBeLessThanOrEqual(PROPERTIES_PARAM_MAX);
      // 3 live pages and 1 archived page, each asked in every chunk.
      const chunkCount = new Set(gets.map((e) => e.query.properties)).size;
      expect(chunkCount).toBeGreaterThan(1);
      expect(gets).toHaveLength(4 * chunkCount);
      const asked = new Set(gets.flatMap((e) => (e.query.properties ?? '').split(',')));
      // Every definition, and the merge list, which every read asks for.
      expect([...asked].sort()).toEqual([...new Set([...definedNames(), 'hs_merged_object_ids'])].sort());

      const records = await expectExactly(app, 'crm', contactIds(250));
      for (const r of records) expectAsUpstream(r, definedNames());
      // The generated values name their contact: a property from another contact would not match above.
      const one = await app.inject('/customers/1007');
      const attrs = (one.json() as { attributes: Record<string, unknown> }).attributes;
      const set = Object.entries(attrs).filter(([k, v]) => k.startsWith('custom_') && v !== null);
      expect(set.length).toBeGreaterThan(50);
      for (const [, v] of set) expect(v).toMatch(/ of 1007$/);
      expect(attrs.email).toBe(hs.state.getContact('1007')!.properties.email);
    });

    it('a list: asks for those names and the mapped ones, no definitions, one request a page', async () => {
      hs = await startFakeHubspot({ contacts: 150, customProperties: 300 });
      const chosen = [customPropertyName(1), customPropertyName(2), 'company'];
      const app = await boot({ HUBSPOT_PROPERTIES: chosen.join(',') });
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(definitionGets()).toHaveLength(0);
      expect(listGets()).toHaveLength(3); // 2 live pages, 1 archived
      const names = [...chosen, 'email', 'firstname', 'lastname', 'phone', 'lifecyclestage', 'createdate'];
      const records = await expectExactly(app, 'crm', contactIds(150));
      for (const r of records) {
        expectAsUpstream(r, names);
        expect(
          Object.keys(r.attributes as object)
            .filter((k) => k.startsWith('custom_'))
            .sort(),
        ).toEqual(chosen.slice(0, 2).sort());
      }
    });

    it('a custom property cleared upstream is cleared here; a definition added between runs is asked for by the next run', async () => {
      hs = await startFakeHubspot({ contacts: 20, customProperties: 300 });
      const app = await boot();
      expect((await runSync(app, 'crm')).status).toBe('succeeded');

      const id = '1003';
      const name = definedNames().find((n) => n.startsWith('custom_') && hs!.state.getContact(id)!.properties[n])!;
      const before = await app.inject(`/customers/${id}`);
      expect((before.json() as { attributes: Record<string, unknown> }).attributes[name]).toBe(`value ${Number(name.slice(-4))} of ${id}`);

      hs.state.updateContact(id, { [name]: null });
      hs.state.properties.define('favourite_colour', 'Favourite colour');
      hs.state.updateContact('1004', { favourite_colour: 'teal' });
      const mark = hs.state.requests.entries.length;
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(definitionGets(mark)).toHaveLength(1);

      const cleared = (await app.inject(`/customers/${id}`)).json() as { attributes: Record<string, unknown> };
      expect(name in cleared.attributes).toBe(true);
      expect(cleared.attributes[name]).toBeNull();
      expect(cleared.attributes.favourite_colour).toBeNull();
      const added = (await app.inject('/customers/1004')).json() as { attributes: Record<string, unknown> };
      expect(added.attributes.favourite_colour).toBe('teal');
      for (const r of await allRecords(app, 'crm')) {
        if (r.external_id === id || r.external_id === '1004') expectAsUpstream(r, definedNames());
      }
    });
  });
}
