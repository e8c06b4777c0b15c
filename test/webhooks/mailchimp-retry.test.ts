import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { inboxRows, MAILCHIMP_SECRET, postMailchimp, record } from '../webhooks/helpers.js';
import { subscriberKey } from '../../src/providers/mailchimp/webhook.js';

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
    const rec = (await record(t.app, 'customers', subscriberKey('ann@example.com'))).json();
    const rows = (await inboxRows(t.store, '/webhooks/mailchimp')).map((r) => r.status);
    expect(rec.attributes.status, `retry answered ${retry.body}; inbox ${rows.join(',')}`).toBe('unsubscribed');
  });
});
