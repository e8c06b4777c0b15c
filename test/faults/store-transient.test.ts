import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransientStoreError } from '../../src/store/store-errors.js';
import { expectProblem, postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { breakRecordWrites, hsEvent, HUBSPOT_SECRET, inboxRows, MAILCHIMP_SECRET, postHubspot, postMailchimp } from '../helpers/webhooks.js';
import { holdWriteLock } from './lock-holder.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('which store errors are transient', () => {
  it.each([
    'SQLITE_BUSY',
    'SQLITE_BUSY_SNAPSHOT',
    'SQLITE_BUSY_TIMEOUT',
    'SQLITE_LOCKED',
    'SQLITE_FULL',
    'SQLITE_IOERR',
    'SQLITE_IOERR_WRITE',
    'SQLITE_READONLY',
    '08006',
    '08001',
    '53100',
    '53300',
    '57P01',
    '57P02',
    '57P03',
    '40001',
    '40P01',
    '55P03',
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ETIMEDOUT',
  ])('%s is transient', (code) => {
    expect(isTransientStoreError(coded(code))).toBe(true);
  });

  it('a transient error wrapped as a cause, and a lost connection named only in the message, are transient', () => {
    expect(isTransientStoreError(new Error('wrapped', { cause: coded('SQLITE_FULL') }))).toBe(true);
    expect(isTransientStoreError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it.each([
    ['SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed: records.external_id'],
    ['SQLITE_CONSTRAINT_TRIGGER', 'simulated store failure'],
    ['SQLITE_ERROR', 'no such table: records'],
    ['SQLITE_TOOBIG', 'string or blob too big'],
    ['23505', 'duplicate key value violates unique constraint'],
    ['23502', 'null value in column violates not-null constraint'],
    ['P0001', 'simulated store failure'],
    ['22P02', 'invalid input syntax'],
    ['42P01', 'relation does not exist'],
  ])('%s (a record the store refuses) is not transient', (code, message) => {
    expect(isTransientStoreError(coded(code, message))).toBe(false);
  });

  it('an error without a code is not transient', () => {
    expect(isTransientStoreError(new Error('boom'))).toBe(false);
    expect(isTransientStoreError(null)).toBe(false);
  });
});

const MAILCHIMP_FORM = {
  type: 'subscribe',
  fired_at: '2026-03-01 10:00:00',
  'data[id]': '8a25ff1d98',
  'data[list_id]': 'a6b5da1054',
  'data[email]': 'locked@example.com',
  'data[email_type]': 'html',
  'data[merges][EMAIL]': 'locked@example.com',
};

for (const engine of ENGINES) {
  describe(`provider webhooks and replays while another connection holds the write lock, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { STORE_LOCK_WAIT: '300ms', HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET, MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    const expect503 = (res: Parameters<typeof expectProblem>[0]) => {
      expect(expectProblem(res, 503).type).toBe('/problems/unavailable');
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    };

    it('HubSpot and Mailchimp deliveries get 503 with Retry-After and keep no dead letter; their retries are stored', async () => {
      const events = [hsEvent({ eventId: 901, subscriptionType: 'contact.creation', objectId: 9001 })];
      const lock = await holdWriteLock(db);
      try {
        expect503(await postHubspot(t.app, events));
        expect503(await postMailchimp(t.app, MAILCHIMP_FORM));
      } finally {
        await lock.release();
      }
      expect(await inboxRows(t.store)).toEqual([]);
      const metrics = (await t.app.inject('/metrics')).body;
      expect(metrics).toMatch(/^tributary_store_unavailable_total\{operation="webhook_batch"\} 2$/m);

      expect((await postHubspot(t.app, events)).statusCode).toBe(200);
      expect((await postMailchimp(t.app, MAILCHIMP_FORM)).statusCode).toBe(200);
      expect((await inboxRows(t.store)).map((r) => r.status)).toEqual(['processed', 'processed']);
    });

    it('a replay gets 503 and leaves the dead letter as it was; replayed again once the lock is gone, it is processed', async () => {
      // A refused record makes a real dead letter first (202 failed): that one is permanent.
      const broken = await breakRecordWrites(t.store, 'poison%');
      const dead = await postWebhook(t.app, { customer: { external_id: 'poison_1' } }, { 'webhook-id': 'poison-1' });
      await broken.heal();
      expect(dead.statusCode, dead.body).toBe(202);
      const id = (dead.json() as { inbox_id: number }).inbox_id;

      const lock = await holdWriteLock(db);
      try {
        expect503(await t.app.inject({ method: 'POST', url: `/webhooks/events/${id}/replay` }));
      } finally {
        await lock.release();
      }
      expect((await inboxRows(t.store)).find((r) => r.id === id)?.status).toBe('failed');
      expect((await t.app.inject('/metrics')).body).toMatch(/^tributary_store_unavailable_total\{operation="webhook_replay"\} 1$/m);

      const replayed = await t.app.inject({ method: 'POST', url: `/webhooks/events/${id}/replay` });
      expect(replayed.statusCode, replayed.body).toBe(200);
      expect(replayed.json()).toMatchObject({ status: 'processed' });
    });
  });
}
