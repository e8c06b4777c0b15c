/**
 * The fake HubSpot builds each generated contact once for the chunks of a
 * page (it keeps the last ones built): a change made afterwards still shows,
 * the kept copy stays pristine, and every request is counted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../../src/providers/fakes.js';
import { customPropertyName } from '../../../src/providers/hubspot/fake/properties.js';

describe('the fake HubSpot with kept contacts', () => {
  let hs: FakeHubspot | undefined;
  afterEach(async () => {
    await hs?.close();
    hs = undefined;
  });

  const page = async (properties: string) => {
    const res = await fetch(`${hs!.url}/crm/v3/objects/contacts?limit=3&properties=${properties}`, { headers: { authorization: `Bearer ${hs!.token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: Array<{ id: string; properties: Record<string, string | null> }> }).results;
  };

  it('shows a change made after a page was built, keeps the built contact pristine, and counts every request', async () => {
    hs = await startFakeHubspot({ contacts: 10, customProperties: 30 });
    const custom = customPropertyName(3);
    const first = await page(`email,${custom}`);
    const before = first[0]!.properties;

    hs.state.updateContact('1001', { email: 'changed@example.com', [custom]: 'changed' });
    const second = await page(`email,${custom}`);
    expect(second[0]!.properties).toMatchObject({ email: 'changed@example.com', [custom]: 'changed' });
    // The generated contact behind the change is untouched: the same id's base is what it was.
    expect(hs.state.baseContact(0).properties.email).toBe(before.email);
    expect(hs.state.baseContact(0).properties[custom] ?? null).toBe(before[custom]);
    expect(second.slice(1)).toEqual(first.slice(1));

    const refused = await fetch(`${hs.url}/crm/v3/objects/contacts/1002`);
    expect(refused.status).toBe(401);
    expect(hs.requestCounts()).toEqual({ total: 3, byPath: { '/crm/v3/objects/contacts': 2, '/crm/v3/objects/contacts/{id}': 1 } });
  });
});
