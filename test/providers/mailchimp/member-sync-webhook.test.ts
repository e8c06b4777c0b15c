/**
 * The members sync and the Mailchimp webhook write one row per member: the
 * real connector against the fake Mailchimp, then a webhook about a member it
 * synced; and MAILCHIMP_LISTS keeps the sync to the audiences it names.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Audience, type FakeMailchimp, startFakeMailchimp } from '../../../src/providers/fakes.js';
import { MailchimpSource, type MailchimpSourceOptions } from '../../../src/providers/mailchimp/connector.js';
import { loadConfig } from '../../../src/config.js';
import { ENGINES } from '../../helpers/databases.js';
import { allRecords, FAST_CLIENT, Harness, runSync } from '../../helpers/sync.js';
import { MAILCHIMP_SECRET, postMailchimp } from '../../helpers/webhooks.js';

function connector(mc: FakeMailchimp, options: Partial<MailchimpSourceOptions> = {}): MailchimpSource {
  return new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, ...options, client: { ...FAST_CLIENT, ...options.client } });
}

for (const engine of ENGINES) {
  describe(`Mailchimp members: sync and webhook on ${engine.name}`, () => {
    const h = new Harness(engine);
    let mc: FakeMailchimp | undefined;

    afterEach(async () => {
      await h.reset();
      await mc?.close();
      mc = undefined;
    });
    afterAll(() => h.drop());

    it('a webhook about a synced member updates that row; the sync after it keeps one row', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 40, sharedMembers: 2 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc)]]), { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const before = (await allRecords(app, 'marketing')).filter((r) => r.type === 'customer');
      expect(before).toHaveLength(80);

      // A member of both audiences, written about in one: only that audience's row changes.
      const shared = a.all().find((m) => m.status === 'subscribed' && b.all().some((o) => o.email_address === m.email_address))!;
      expect(shared).toBeDefined();
      const res = await postMailchimp(app, {
        type: 'unsubscribe',
        fired_at: '2099-01-01 00:00:00',
        'data[list_id]': a.id,
        'data[email]': shared.email_address.toUpperCase(),
        'data[reason]': 'manual',
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().events[0].records).toEqual([{ type: 'customer', external_id: `${a.id}:${shared.id}`, result: 'updated' }]);

      const after = (await allRecords(app, 'marketing')).filter((r) => r.type === 'customer');
      expect(after).toHaveLength(80);
      const inA = after.find((r) => r.external_id === `${a.id}:${shared.id}`)!;
      const inB = after.find((r) => r.external_id === `${b.id}:${shared.id}`)!;
      expect(inA.attributes).toMatchObject({ status: 'unsubscribed', list_id: a.id });
      expect(inB.attributes).toMatchObject({ list_id: b.id });
      expect((inB.attributes as { status: string }).status).not.toBe('unsubscribed');

      // A later sync of the same account adds no row.
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const again = (await allRecords(app, 'marketing')).filter((r) => r.type === 'customer');
      expect(new Set(again.map((r) => r.external_id)).size).toBe(80);
    });

    it('MAILCHIMP_LISTS: only the named audiences are listed and stored', async () => {
      mc = await startFakeMailchimp({ campaigns: 0, audiences: 2, members: 30, sharedMembers: 0 });
      const [a, b] = mc.audiences.audiences as [Audience, Audience];
      const app = await h.boot(new Map([['marketing', connector(mc, { lists: [b.id] })]]));
      expect((await runSync(app, 'marketing')).status).toBe('succeeded');
      const rows = (await allRecords(app, 'marketing')).filter((r) => r.type === 'customer');
      expect(rows).toHaveLength(30);
      expect(rows.every((r) => (r.external_id as string).startsWith(`${b.id}:`))).toBe(true);
      expect(mc.state.requests.entries.some((e) => e.path === `/3.0/lists/${a.id}/members`)).toBe(false);
    });
  });
}

describe('MAILCHIMP_LISTS and MAILCHIMP_FULL_INTERVAL', () => {
  it('parse into the audience ids and a duration; a bad id stops the start naming the variable', () => {
    const c = loadConfig({ MAILCHIMP_API_KEY: 'abc-us6', MAILCHIMP_LISTS: ' a1b2c3d4e5 , f6g7h8 ', MAILCHIMP_FULL_INTERVAL: '1d' });
    expect(c.providers.mailchimp.api.lists).toEqual(['a1b2c3d4e5', 'f6g7h8']);
    expect(c.providers.mailchimp.api.fullIntervalMs).toBe(86_400_000);
    expect(loadConfig({}).providers.mailchimp.api.lists).toBeUndefined();
    expect(() => loadConfig({ MAILCHIMP_LISTS: 'a1b2;drop' })).toThrow(/MAILCHIMP_LISTS/);
  });
});
