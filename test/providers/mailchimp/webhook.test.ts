import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignFromMailchimp } from '../../../src/providers/mailchimp/campaign-mapping.js';
import { memberKey } from '../../../src/providers/mailchimp/member-key.js';
import { applyRecordWrites } from '../../../src/store/record-writes.js';
import { inWriteTransaction } from '../../../src/store/write-transaction.js';
import { expectProblem, startApp, storedSnapshot, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { form, inboxRows, MAILCHIMP_SECRET, postMailchimp, record } from '../../helpers/webhooks.js';

const LIST = 'a6b5da1054';
/** The member's key in that audience: `<list_id>:<MD5 of the lower-case email>`. */
const memberId = (email: string) => memberKey(LIST, email);

const subscribe = (email: string, extra: Record<string, string> = {}) => ({
  type: 'subscribe',
  fired_at: '2026-03-01 10:00:00',
  'data[id]': '8a25ff1d98',
  'data[list_id]': 'a6b5da1054',
  'data[email]': email,
  'data[email_type]': 'html',
  'data[merges][EMAIL]': email,
  'data[merges][FNAME]': 'Mail',
  'data[merges][LNAME]': 'Chimp',
  'data[merges][INTERESTS]': 'Group1,Group2',
  'data[ip_opt]': '10.20.10.30',
  'data[ip_signup]': '10.20.10.30',
  ...extra,
});

for (const engine of ENGINES) {
  describe(`Mailchimp webhooks on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET, BODY_LIMIT: '64kb' });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    describe('the URL and its secret', () => {
      it("answers Mailchimp's GET check of the URL with 200", async () => {
        const res = await t.app.inject(`/webhooks/mailchimp/${MAILCHIMP_SECRET}`);
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ status: 'ok' });
      });

      it('refuses another secret with 401 problem JSON, before reading the body, storing nothing', async () => {
        const before = await storedSnapshot(t.store);
        for (const secret of ['wrong', `${MAILCHIMP_SECRET}x`, MAILCHIMP_SECRET.slice(0, -1), MAILCHIMP_SECRET.toUpperCase()]) {
          const p = expectProblem(await t.app.inject(`/webhooks/mailchimp/${secret}`), 401);
          expect(p.detail).toContain('MAILCHIMP_WEBHOOK_SECRET');
          expectProblem(await postMailchimp(t.app, subscribe('nope@example.com'), secret), 401);
        }
        // Not even a form parser runs: a malformed body with a wrong secret is still a 401.
        expectProblem(await postMailchimp(t.app, 'data[__proto__]=x', 'wrong'), 401);
        expect(await storedSnapshot(t.store)).toBe(before);
      });

      it('refuses what is not a Mailchimp form: 415, 400, 422, 413', async () => {
        const before = await storedSnapshot(t.store);
        expectProblem(
          await t.app.inject({
            method: 'POST',
            url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
            headers: { 'content-type': 'application/json' },
            payload: '{"type":"subscribe"}',
          }),
          415,
        );
        expectProblem(await postMailchimp(t.app, 'type=subscribe&data[__proto__][x]=1'), 400);
        expectProblem(await postMailchimp(t.app, 'type=subscribe&data[constructor][prototype]=1'), 400);
        const p = expectProblem(await postMailchimp(t.app, 'fired_at=2026-01-01+00%3A00%3A00'), 422);
        expect(p.errors).toEqual([{ path: '/body/type', message: 'is required' }]);
        expectProblem(await postMailchimp(t.app, form({ type: 'profile', 'data[email]': 'big@example.com', 'data[merges][X]': 'x'.repeat(70 * 1024) })), 413);
        expect(await storedSnapshot(t.store)).toBe(before);
      });
    });

    describe('events', () => {
      it('subscribe creates the customer keyed <list_id>:<MD5 of the lower-case email>, source marketing', async () => {
        const res = await postMailchimp(t.app, subscribe('Ann.Sub@Example.com'));
        expect(res.statusCode, res.body).toBe(200);
        const key = memberId('ann.sub@example.com');
        expect(res.json()).toMatchObject({
          status: 'received',
          events: [{ type: 'subscribe', status: 'processed', records: [{ type: 'customer', external_id: key, result: 'created' }] }],
        });
        const c = (await record(t.app, 'customers', key)).json();
        expect(c).toMatchObject({ source: 'marketing', name: 'Mail Chimp', email: 'Ann.Sub@Example.com' });
        expect(c.attributes).toMatchObject({
          status: 'subscribed',
          id: '8a25ff1d98',
          list_id: 'a6b5da1054',
          email_type: 'html',
          merges: { FNAME: 'Mail', LNAME: 'Chimp', INTERESTS: 'Group1,Group2' },
        });
        expect(c.source_updated_at).toBe('2026-03-01T10:00:00.000Z');
      });

      it('profile updates the same customer and keeps its status', async () => {
        const key = memberId('ann.sub@example.com');
        await postMailchimp(t.app, {
          type: 'profile',
          fired_at: '2026-03-01 11:00:00',
          'data[id]': '8a25ff1d98',
          'data[list_id]': LIST,
          'data[email]': 'ann.sub@example.com',
          'data[merges][FNAME]': 'Annie',
          'data[merges][LNAME]': 'Sub',
        });
        const c = (await record(t.app, 'customers', key)).json();
        expect(c).toMatchObject({ name: 'Annie Sub' });
        expect(c.attributes).toMatchObject({ status: 'subscribed', merges: { FNAME: 'Annie', LNAME: 'Sub' } });
      });

      it('an older event than the stored one changes nothing (out of order)', async () => {
        const key = memberId('ann.sub@example.com');
        const res = await postMailchimp(t.app, { ...subscribe('ann.sub@example.com'), fired_at: '2026-02-01 00:00:00', 'data[merges][FNAME]': 'Stale' });
        expect(res.json().events[0].records[0].result).toBe('stale');
        expect((await record(t.app, 'customers', key)).json().name).toBe('Annie Sub');
      });

      it('unsubscribe marks attributes.status and keeps the customer visible; action=delete leaves a tombstone', async () => {
        await postMailchimp(t.app, subscribe('leave@example.com'));
        await postMailchimp(t.app, {
          type: 'unsubscribe',
          fired_at: '2026-03-02 10:00:00',
          'data[action]': 'unsub',
          'data[reason]': 'manual',
          'data[id]': '8a25ff1d98',
          'data[email]': 'leave@example.com',
          'data[list_id]': LIST,
          'data[campaign_id]': 'cb398d21d2',
        });
        const c = (await t.app.inject(`/customers/${memberId('leave@example.com')}`)).json();
        expect(c.attributes).toMatchObject({ status: 'unsubscribed', reason: 'manual', action: 'unsub', campaign_id: 'cb398d21d2' });

        await postMailchimp(t.app, subscribe('deleted@example.com'));
        await postMailchimp(t.app, {
          type: 'unsubscribe',
          fired_at: '2026-03-02 10:00:00',
          'data[action]': 'delete',
          'data[email]': 'deleted@example.com',
          'data[list_id]': LIST,
        });
        expect((await t.app.inject(`/customers/${memberId('deleted@example.com')}`)).statusCode).toBe(404);
        const gone = (await record(t.app, 'customers', memberId('deleted@example.com'))).json();
        expect(gone.deleted_at).not.toBeNull();
        expect(gone.attributes.status).toBe('unsubscribed');
      });

      it('a new subscribe clears the old unsubscribe reason', async () => {
        await postMailchimp(t.app, { ...subscribe('leave@example.com'), fired_at: '2026-03-03 10:00:00' });
        const c = (await t.app.inject(`/customers/${memberId('leave@example.com')}`)).json();
        expect(c.attributes.status).toBe('subscribed');
        expect(c.attributes.reason).toBeUndefined();
      });

      it('cleaned marks attributes.status = cleaned with the reason (it carries only the email)', async () => {
        await postMailchimp(t.app, subscribe('bounce@example.com'));
        await postMailchimp(t.app, {
          type: 'cleaned',
          fired_at: '2026-03-04 10:00:00',
          'data[list_id]': 'a6b5da1054',
          'data[campaign_id]': '4fjk2ma9xd',
          'data[reason]': 'hard',
          'data[email]': 'bounce@example.com',
        });
        const c = (await t.app.inject(`/customers/${memberId('bounce@example.com')}`)).json();
        expect(c).toMatchObject({ name: 'Mail Chimp', email: 'bounce@example.com', deleted_at: null });
        expect(c.attributes).toMatchObject({ status: 'cleaned', reason: 'hard' });
      });

      it('upemail moves the customer to the new address: the new key takes its fields, the old one is a tombstone naming it', async () => {
        await postMailchimp(t.app, subscribe('old@example.com'));
        const res = await postMailchimp(t.app, {
          type: 'upemail',
          fired_at: '2026-03-05 10:00:00',
          'data[list_id]': 'a6b5da1054',
          'data[new_id]': '51da8c3259',
          'data[new_email]': 'new@example.com',
          'data[old_email]': 'old@example.com',
        });
        expect(res.json().events[0].status).toBe('processed');
        const moved = (await t.app.inject(`/customers/${memberId('new@example.com')}`)).json();
        expect(moved).toMatchObject({ email: 'new@example.com', name: 'Mail Chimp' });
        expect(moved.attributes).toMatchObject({ status: 'subscribed', id: '51da8c3259', previous_email: 'old@example.com' });
        expect((await t.app.inject(`/customers/${memberId('old@example.com')}`)).statusCode).toBe(404);
        const old = (await record(t.app, 'customers', memberId('old@example.com'))).json();
        expect(old.deleted_at).not.toBeNull();
        expect(old.attributes).toMatchObject({ moved_to: memberId('new@example.com'), new_email: 'new@example.com' });
      });

      it('campaign updates the synced campaign (same external_id, one row): status and subject', async () => {
        const synced = campaignFromMailchimp(
          {
            id: '4fjk2ma9xd',
            web_id: 77,
            type: 'regular',
            status: 'sending',
            settings: { title: 'Spring', subject_line: 'Hello spring' },
            recipients: { list_id: 'a6b5da1054' },
          },
          'marketing',
        );
        await inWriteTransaction(t.store, (tx) => applyRecordWrites(tx, [synced]));
        const res = await postMailchimp(t.app, {
          type: 'campaign',
          fired_at: '2026-03-06 10:00:00',
          'data[id]': '4fjk2ma9xd',
          'data[subject]': 'Hello spring!',
          'data[status]': 'sent',
          'data[reason]': '',
          'data[list_id]': 'a6b5da1054',
        });
        expect(res.json().events[0].records).toEqual([{ type: 'campaign', external_id: '4fjk2ma9xd', result: 'updated' }]);
        const c = (await t.app.inject('/campaigns/4fjk2ma9xd')).json();
        expect(c).toMatchObject({ source: 'marketing', name: 'Spring', status: 'sent', id: 77 });
        expect(c.details).toMatchObject({ subject_line: 'Hello spring!', type: 'regular', list_id: 'a6b5da1054' });
        const rows = await t.store.db.selectFrom('records').select('row_id').where('type', '=', 'campaign').where('external_id', '=', '4fjk2ma9xd').execute();
        expect(rows).toHaveLength(1);
        // A campaign never synced is created from what the event carries.
        await postMailchimp(t.app, {
          type: 'campaign',
          fired_at: '2026-03-06 10:00:00',
          'data[id]': 'newcamp01',
          'data[subject]': 'Fresh',
          'data[status]': 'sent',
        });
        expect((await t.app.inject('/campaigns/newcamp01')).json()).toMatchObject({ name: 'Fresh', status: 'sent', details: { subject_line: 'Fresh' } });
      });

      it('an unknown type, or an event missing what it needs, is kept as a dead letter (200, status failed)', async () => {
        const res = await postMailchimp(t.app, { type: 'merge', fired_at: '2026-03-07 10:00:00', 'data[email]': 'x@example.com' });
        expect(res.statusCode).toBe(200);
        expect(res.json().events[0]).toMatchObject({ type: 'merge', status: 'failed', error: expect.stringContaining('merge is not handled') });
        const noEmail = await postMailchimp(t.app, { type: 'subscribe', fired_at: '2026-03-07 10:00:00' });
        expect(noEmail.json().events[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('data[email]') });
      });

      it('keeps every delivery raw in the inbox under /webhooks/mailchimp, the secret nowhere', async () => {
        const rows = await inboxRows(t.store, '/webhooks/mailchimp');
        expect(rows.length).toBeGreaterThanOrEqual(10);
        expect(rows.every((r) => r.status === 'processed' || r.status === 'failed')).toBe(true);
        const raw = await t.store.db.selectFrom('webhook_inbox').selectAll().where('route', '=', '/webhooks/mailchimp').execute();
        expect(JSON.stringify(raw)).not.toContain(MAILCHIMP_SECRET);
        expect(rows[0]?.body).toBe(form(subscribe('Ann.Sub@Example.com')));
      });
    });
  });

  describe(`Mailchimp webhooks without MAILCHIMP_WEBHOOK_SECRET on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('answers 404 problem JSON saying to set it, for GET and POST', async () => {
      const get = expectProblem(await t.app.inject(`/webhooks/mailchimp/${MAILCHIMP_SECRET}`), 404);
      expect(get.detail).toContain('MAILCHIMP_WEBHOOK_SECRET');
      const post = expectProblem(await postMailchimp(t.app, subscribe('x@example.com')), 404);
      expect(post.detail).toContain('MAILCHIMP_WEBHOOK_SECRET');
      expect(await inboxRows(t.store)).toEqual([]);
    });
  });
}

describe('a retried delivery', () => {
  const engine = ENGINES[0]!;

  describe(`Mailchimp retries on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('a retried delivery (same body) is not applied again over a later event of the same second', async () => {
      const subscribe = { type: 'subscribe', fired_at: '2026-05-01 10:00:00', 'data[email]': 'ann@example.com', 'data[list_id]': 'L1' };
      const unsubscribe = {
        type: 'unsubscribe',
        fired_at: '2026-05-01 10:00:00',
        'data[email]': 'ann@example.com',
        'data[list_id]': 'L1',
        'data[reason]': 'manual',
        'data[action]': 'unsub',
      };
      expect((await postMailchimp(t.app, subscribe)).statusCode).toBe(200);
      expect((await postMailchimp(t.app, unsubscribe)).statusCode).toBe(200);
      // Mailchimp retries the subscribe (our first answer was too slow for it): the very same body.
      const retry = await postMailchimp(t.app, subscribe);
      expect(retry.statusCode).toBe(200);
      const rec = (await record(t.app, 'customers', memberKey('L1', 'ann@example.com'))).json();
      const rows = (await inboxRows(t.store, '/webhooks/mailchimp')).map((r) => r.status);
      expect(rec.attributes.status, `retry answered ${retry.body}; inbox ${rows.join(',')}`).toBe('unsubscribed');
    });
  });
});
