/**
 * A Mailchimp `GET /campaigns` page as the walk reads it: its head (what
 * paging needs), its campaigns mapped, entries without an id left out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../../src/providers/fakes.js';
import { readCampaignPage } from '../../../src/providers/mailchimp/campaign-page.js';
import { campaignFromMailchimp, type MailchimpCampaign } from '../../../src/providers/mailchimp/campaign-mapping.js';

describe('a Mailchimp campaign page', () => {
  let mc: FakeMailchimp;
  let page: { campaigns: MailchimpCampaign[]; total_items: number };
  beforeAll(async () => {
    mc = await startFakeMailchimp({ campaigns: 300 });
    const auth = `Basic ${Buffer.from(`x:${mc.apiKey}`).toString('base64')}`;
    page = (await (await fetch(`${mc.url}/campaigns?count=300&offset=0`, { headers: { authorization: auth } })).json()) as typeof page;
  });
  afterAll(async () => {
    await mc?.close();
  });

  it('counts every entry for paging, maps those with an id in order, and finds the newest create_time', () => {
    // Text the store could not keep, and an entry without an id, on top of the fake's page.
    const odd = { ...page.campaigns[0], id: 'odd-1', settings: { title: 'nul\u0000 and lone \ud800' } } as MailchimpCampaign;
    const got = readCampaignPage({ ...page, campaigns: [...page.campaigns, odd, { web_id: 7 }] }, 'marketing');
    expect(got).toMatchObject({ total: page.total_items, count: page.campaigns.length + 2, skipped: 1 });
    const campaigns = [...page.campaigns, odd];
    expect(got.records).toEqual(campaigns.map((c) => campaignFromMailchimp(c, 'marketing')));
    expect(got.newestCreated).toBe(
      campaigns
        .map((c) => c.create_time as string)
        .sort()
        .at(-1),
    );
  });

  it('refuses a body that is not a campaigns page', () => {
    for (const body of [{ items: [] }, { campaigns: [] }, { campaigns: {}, total_items: 1 }, null, 'text']) {
      expect(() => readCampaignPage(body, 'marketing')).toThrow('Mailchimp campaigns page has no campaigns array or total_items');
    }
  });
});
