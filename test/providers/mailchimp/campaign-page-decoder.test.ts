/**
 * Mailchimp pages are parsed, mapped, cleaned and hashed on the decoder's
 * thread. What comes back must be exactly what the runner would have made of
 * the page itself (storableWrite, then hashContent), and read back the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFromPrepared } from '../../../src/domain/prepared-write.js';
import { hashContent, storableWrite } from '../../../src/domain/records.js';
import { startFakeMailchimp, type FakeMailchimp } from '../../../src/providers/fakes.js';
import { CampaignPageDecoder } from '../../../src/providers/mailchimp/campaign-page-decoder.js';
import { campaignFromMailchimp, type MailchimpCampaign } from '../../../src/providers/mailchimp/campaign-mapping.js';

describe('the Mailchimp campaign page decoder', () => {
  let mc: FakeMailchimp;
  let page: string;
  const decoder = new CampaignPageDecoder();
  beforeAll(async () => {
    mc = await startFakeMailchimp({ campaigns: 300 });
    const auth = `Basic ${Buffer.from(`x:${mc.apiKey}`).toString('base64')}`;
    page = await (await fetch(`${mc.url}/campaigns?count=300&offset=0`, { headers: { authorization: auth } })).text();
  });
  afterAll(async () => {
    await decoder.close();
    await mc?.close();
  });

  it('gives the head at once, then writes equal to what the runner would make, in order', async () => {
    const parsed = JSON.parse(page) as { campaigns: MailchimpCampaign[]; total_items: number };
    // Text the store could not keep, and an entry without an id, on top of the fake's page.
    const odd = { ...parsed.campaigns[0], id: 'odd-1', settings: { title: 'nul\u0000 and lone \ud800' } };
    const text = JSON.stringify({ ...parsed, campaigns: [...parsed.campaigns, odd, { web_id: 7 }] });
    const { head, body } = await decoder.decode(text, 'marketing');
    expect(head).toEqual({ ok: true, total: parsed.total_items, count: parsed.campaigns.length + 2 });
    const got = await body;
    expect(got.skipped).toBe(1);
    const campaigns = [...parsed.campaigns, odd as MailchimpCampaign];
    expect(got.writes.map((w) => w.external_id)).toEqual(campaigns.map((c) => c.id));
    expect(got.newestCreated).toBe(
      campaigns
        .map((c) => c.create_time as string)
        .sort()
        .at(-1),
    );
    campaigns.forEach((c, i) => {
      const expected = storableWrite(campaignFromMailchimp(c, 'marketing'));
      const prepared = got.writes[i]!;
      expect(prepared.content).toEqual(hashContent(expected));
      // Read back through the lazy getters: the same write.
      expect(writeFromPrepared(prepared)).toEqual(expected);
    });
  });

  it('tells a body that is not JSON, or not a campaigns page, in the head', async () => {
    expect((await decoder.decode('{"campaigns": [', 'marketing')).head).toMatchObject({ ok: false, reason: 'invalid_json' });
    expect((await decoder.decode('{"items": []}', 'marketing')).head).toMatchObject({ ok: false, reason: 'shape' });
    expect((await decoder.decode('', 'marketing')).head).toMatchObject({ ok: false, reason: 'shape' });
  });

  it('keeps answering after a close (a new thread), and pages sent together come back in order', async () => {
    await decoder.close();
    const results = await Promise.all([decoder.decode(page, 'a'), decoder.decode(page, 'b')]);
    const bodies = await Promise.all(results.map((r) => r.body));
    expect(bodies.map((b) => b.writes[0]?.source)).toEqual(['a', 'b']);
  });
});
