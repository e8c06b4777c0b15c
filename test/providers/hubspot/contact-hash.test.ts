import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashContent } from '../../../src/domain/records.js';
import { customerFromContact, type HubspotContact } from '../../../src/providers/hubspot/contact-mapping.js';

// A contact as a sync reads it: some requested properties answered, some left
// out (stored as null), a volatile stamp, a property named like a connector
// attribute, and text JSON has to escape.
const custom = Array.from({ length: 40 }, (_, i) => `custom_imported_field_from_the_previous_crm_system_number_${String(i).padStart(4, '0')}`);
const requested = [
  'email',
  'firstname',
  'lastname',
  'phone',
  'company',
  'lifecyclestage',
  'createdate',
  'lastmodifieddate',
  'merged_into',
  'hs_merged_object_ids',
  ...custom,
];

function contact(order: 'as-sent' | 'reversed'): HubspotContact {
  const properties: Record<string, string> = {
    hs_object_id: '101',
    email: 'ada@example.com',
    firstname: 'Ada',
    lastname: 'Lovelace',
    lastmodifieddate: '2024-05-01T10:00:00.000Z',
    createdate: '2024-01-02T03:04:05.000Z',
    company: 'Analytical Engines "Ltd"\n',
    merged_into: '7',
  };
  custom.forEach((n, i) => {
    if (i % 3 === 0) properties[n] = `value ${i} é \u2028 ${'x'.repeat(i)}`;
  });
  const entries = Object.entries(properties);
  if (order === 'reversed') entries.reverse();
  return {
    id: '101',
    properties: Object.fromEntries(entries),
    createdAt: '2024-01-02T03:04:05.000Z',
    url: 'https://app.hubspot.com/contacts/1/record/0-1/101',
  };
}

const sha = (s: string) => createHash('sha256').update(s).digest('base64url');

describe('the content hash of a synced HubSpot contact', () => {
  // Stored hashes: a different value here would make every stored contact look changed on the next sync.
  const PINNED_HASH = 'h6BxgwfFTOBPEe-zMP-LU0L2w5LhgAFPwcxYLnaMpRo';
  const PINNED_ATTRIBUTES_SHA = '-8gn8vDJ9DRfHdGkgbmILZDqJuejCcFDmxwybFW5tLA';

  it('stays the value stored by earlier versions', () => {
    const content = hashContent(customerFromContact(contact('as-sent'), 'hubspot', false, requested));
    expect(content.hash).toBe(PINNED_HASH);
    expect(content.attributes.length).toBe(3593);
    expect(sha(content.attributes)).toBe(PINNED_ATTRIBUTES_SHA);
  });

  it('does not depend on the order HubSpot lists the properties in, nor on the contact hashed before', () => {
    const other = customerFromContact({ id: '9', properties: Object.fromEntries(requested.map((n) => [`${n}_other`, 'v'])) }, 'hubspot', false, []);
    hashContent(other);
    expect(hashContent(customerFromContact(contact('reversed'), 'hubspot', false, requested)).hash).toBe(PINNED_HASH);
    hashContent(other);
    expect(hashContent(customerFromContact(contact('as-sent'), 'hubspot', false, requested)).hash).toBe(PINNED_HASH);
  });

  it('stores a requested property left out of the answer as null, and leaves the volatile stamp out', () => {
    const w = customerFromContact(contact('as-sent'), 'hubspot', false, requested);
    expect(w.attributes.phone).toBeNull();
    expect(w.attributes[custom[1] as string]).toBeNull();
    expect(w.attributes.hubspot_property_merged_into).toBe('7');
    expect('lastmodifieddate' in w.attributes).toBe(false);
    expect(customerFromContact(contact('as-sent'), 'hubspot').attributes.phone).toBeUndefined();
  });
});
