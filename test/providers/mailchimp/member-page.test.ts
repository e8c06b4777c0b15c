import { describe, expect, it } from 'vitest';
import { memberFromMailchimp } from '../../../src/providers/mailchimp/member-mapping.js';
import { readAudiencePage, readMemberPage } from '../../../src/providers/mailchimp/member-page.js';

describe('Mailchimp member pages', () => {
  it('keys a member by audience and hash; name from FNAME/LNAME, else full_name; links left out', () => {
    const w = memberFromMailchimp(
      {
        id: 'abc',
        email_address: 'a@example.com',
        full_name: 'Full Name',
        status: 'pending',
        merge_fields: { FNAME: '', LNAME: '' },
        last_changed: '2024-01-02T03:04:05+00:00',
        _links: [{ rel: 'self' }],
      },
      'L1',
      'marketing',
    );
    expect(w).toMatchObject({ type: 'customer', external_id: 'L1:abc', source: 'marketing', deleted: false });
    expect(w.fields).toMatchObject({ name: 'Full Name', email: 'a@example.com', status: 'pending' });
    expect(w.attributes).toMatchObject({ status: 'pending', list_id: 'L1', last_changed: '2024-01-02T03:04:05+00:00' });
    expect(w.attributes).not.toHaveProperty('_links');
    expect(w.sourceUpdatedAt).toBe(Date.parse('2024-01-02T03:04:05Z'));
    const named = memberFromMailchimp({ id: 'x', merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' }, full_name: 'Other' }, 'L1', 'marketing');
    expect(named.fields.name).toBe('Ada Lovelace');
  });

  it('skips members without an id, keeps the newest last_changed, and refuses a page without members or total_items', () => {
    const page = readMemberPage(
      {
        members: [{ id: 'a', last_changed: '2024-01-01T00:00:09+00:00' }, null, { id: 'b', last_changed: '2024-01-01T00:00:10+00:00' }],
        total_items: 3,
      },
      'L1',
      'marketing',
    );
    expect(page).toMatchObject({ total: 3, count: 3, skipped: 1, newestChanged: '2024-01-01T00:00:10+00:00' });
    expect(page.records.map((r) => r.external_id)).toEqual(['L1:a', 'L1:b']);
    expect(() => readMemberPage({ total_items: 1 }, 'L1', 'marketing')).toThrow(/members/);
    expect(() => readAudiencePage({ lists: [] })).toThrow(/total_items/);
    expect(readAudiencePage({ lists: [{ id: 'L1' }, {}], total_items: 2 })).toEqual({ ids: ['L1'], total: 2, count: 2 });
  });
});
