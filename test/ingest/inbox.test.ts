import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxRetention, sweepInbox } from '../../src/ingest/inbox-retention.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { expectProblem, postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { breakRecordWrites, hsEvent, HUBSPOT_SECRET, inboxRows, MAILCHIMP_SECRET, postHubspot, postMailchimp, record, T0 } from '../helpers/webhooks.js';

const DAY = 86_400_000;
const AUTH = { authorization: 'Bearer inbox-key-0123456789' };

interface EventItem {
  id: number;
  source: string;
  route: string;
  status: string;
  idempotency_key: string | null;
  duplicate_of: number | null;
  error: string | null;
  response_status: number | null;
  response: unknown;
  headers: Record<string, string>;
  body: string;
  received_at: string;
}

for (const engine of ENGINES) {
  describe(`webhook inbox, dead letters and replay on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    const events = async (query = '') => {
      const res = await t.app.inject({ url: `/webhooks/events${query}`, headers: AUTH });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { items: EventItem[]; limit: number; next_cursor: string | null };
    };
    const replay = (id: number | string) => t.app.inject({ method: 'POST', url: `/webhooks/events/${id}/replay`, headers: AUTH });

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { API_KEY: 'inbox-key-0123456789', HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET, MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('every delivery, generic and provider, has a raw inbox row with its status', async () => {
      const raw = '{"customer": {"external_id": "inbox_g1"}}';
      expect((await postWebhook(t.app, raw, { 'webhook-id': 'g-1' })).statusCode).toBe(200);
      expect((await postWebhook(t.app, raw, { 'webhook-id': 'g-1' })).headers['idempotent-replayed']).toBe('true');
      expect((await postWebhook(t.app, { customer: { external_id: 'inbox_g2' } })).statusCode).toBe(200);
      expect((await postHubspot(t.app, [hsEvent({ eventId: 1, subscriptionType: 'contact.creation', objectId: 1 })])).statusCode).toBe(200);
      expect(
        (await postMailchimp(t.app, { type: 'subscribe', fired_at: '2026-01-01 00:00:00', 'data[list_id]': 'a6b5da1054', 'data[email]': 'i@example.com' }))
          .statusCode,
      ).toBe(200);

      const rows = await inboxRows(t.store);
      expect(rows.map((r) => [r.route, r.status])).toEqual([
        ['/webhook', 'processed'],
        ['/webhook', 'duplicate'],
        ['/webhook', 'processed'],
        ['/webhooks/hubspot', 'processed'],
        ['/webhooks/mailchimp', 'processed'],
      ]);
      expect(rows[0]).toMatchObject({ idempotency_key: 'g-1', body: raw, duplicate_of: null });
      // The raw headers and the answer given are kept as JSON, on both engines alike.
      const first = await t.store.db
        .selectFrom('webhook_inbox')
        .select(['headers', 'response', 'response_status', 'received_at'])
        .where('id', '=', rows[0]?.id as number)
        .executeTakeFirstOrThrow();
      expect(t.store.dialect.decodeJson(first.headers)).toMatchObject({ 'webhook-id': 'g-1', 'content-type': 'application/json' });
      expect(t.store.dialect.decodeJson(first.response)).toEqual({
        status: 'stored',
        delivery_id: 'g-1',
        stored: 1,
        records: [{ type: 'customer', external_id: 'inbox_g1', result: 'created' }],
      });
      expect(first.response_status).toBe(200);
      expect(Number(first.received_at)).toBeGreaterThan(Date.now() - 60_000);
      // The repeat is recorded, not dropped: it points at the first copy, whose body it shows instead of keeping a second one.
      expect(rows[1]).toMatchObject({ idempotency_key: null, duplicate_of: rows[0]?.id, body: '' });
      const repeat = await t.app.inject({ url: `/webhooks/events/${rows[1]?.id}`, headers: AUTH });
      expect(repeat.json()).toMatchObject({ status: 'duplicate', duplicate_of: rows[0]?.id, body: raw });
    });

    it('GET /webhooks/events lists them newest first, with filters and a cursor; the API key guards it', async () => {
      const all = await events();
      expect(all.items.map((i) => i.id)).toEqual([...all.items.map((i) => i.id)].sort((a, b) => b - a));
      expect(all.items[0]).toMatchObject({ source: 'mailchimp', route: '/webhooks/mailchimp', status: 'processed', response_status: 200 });
      expect(all.items.find((i) => i.status === 'duplicate')).toMatchObject({ source: 'generic', duplicate_of: expect.any(Number) });
      expect((await events('?source=hubspot')).items.map((i) => i.source)).toEqual(['hubspot']);
      expect((await events('?status=duplicate')).items).toHaveLength(1);
      expect((await events('?status=failed')).items).toEqual([]);

      const seen: number[] = [];
      let page = await events('?limit=2');
      seen.push(...page.items.map((i) => i.id));
      while (page.next_cursor) {
        page = await events(`?limit=2&cursor=${page.next_cursor}`);
        seen.push(...page.items.map((i) => i.id));
      }
      expect(seen).toEqual(all.items.map((i) => i.id));

      for (const q of ['?status=lost', '?status=failed,', '?limit=0', '?limit=501', '?cursor=%%%', '?cursor=eyJiIjotMX0', '?source=zapier']) {
        expectProblem(await t.app.inject({ url: `/webhooks/events${q}`, headers: AUTH }), 422);
      }
      expectProblem(await t.app.inject({ url: '/webhooks/events' }), 401);
      expectProblem(await t.app.inject({ method: 'POST', url: '/webhooks/events/1/replay' }), 401);
      const one = await t.app.inject({ url: `/webhooks/events/${all.items[0]?.id}`, headers: AUTH });
      expect(one.json()).toEqual(all.items[0]);
      expectProblem(await t.app.inject({ url: '/webhooks/events/999999', headers: AUTH }), 404);
    });

    it('replay: 404 for an unknown id, 409 for a processed delivery or a duplicate', async () => {
      expectProblem(await replay(999_999), 404);
      expectProblem(await replay('abc'), 422);
      const rows = await inboxRows(t.store);
      const processed = rows.find((r) => r.status === 'processed');
      const dup = rows.find((r) => r.status === 'duplicate');
      expect(expectProblem(await replay(processed?.id as number), 409).detail).toContain('already processed');
      const p = expectProblem(await replay(dup?.id as number), 409);
      expect(p.duplicate_of).toBe(dup?.duplicate_of);
    });

    it('a generic delivery the store cannot write becomes a dead letter (202), visible at ?status=failed, and replay stores it', async () => {
      const broken = await breakRecordWrites(t.store, 'poison%');
      let healed = false;
      try {
        // A good delivery in the same group commit is not held back by the bad one.
        const [bad, good] = await Promise.all([
          postWebhook(t.app, { customer: { external_id: 'poison_1', name: 'Bad' } }, { 'webhook-id': 'dead-1' }),
          postWebhook(t.app, { customer: { external_id: 'fine_1', name: 'Good' } }, { 'webhook-id': 'fine-1' }),
        ]);
        expect(good.statusCode, good.body).toBe(200);
        expect(bad.statusCode, bad.body).toBe(202);
        const answer = bad.json();
        expect(answer).toMatchObject({ status: 'failed', delivery_id: 'dead-1', inbox_id: expect.any(Number) });
        expect(bad.body).not.toContain('simulated store failure');
        expect((await t.app.inject({ url: '/customers/poison_1', headers: AUTH })).statusCode).toBe(404);

        const failed = await events('?status=failed');
        expect(failed.items).toHaveLength(1);
        expect(failed.items[0]).toMatchObject({
          id: answer.inbox_id,
          source: 'generic',
          status: 'failed',
          idempotency_key: 'dead-1',
          error: expect.stringContaining('simulated store failure'),
          response_status: 202,
        });
        expect(JSON.parse(failed.items[0]?.body ?? '{}')).toEqual({ customer: { external_id: 'poison_1', name: 'Bad' } });

        // The sender's retry of a dead letter gets the same answer and is recorded as a duplicate.
        const again = await postWebhook(t.app, { customer: { external_id: 'poison_1', name: 'Bad' } }, { 'webhook-id': 'dead-1' });
        expect(again.statusCode).toBe(202);
        expect(again.json()).toEqual(answer);

        // Still broken: the replay fails again, answered 200 with the new error.
        const stillBroken = await replay(answer.inbox_id);
        expect(stillBroken.statusCode).toBe(200);
        expect(stillBroken.json()).toMatchObject({ id: answer.inbox_id, status: 'failed', error: expect.stringContaining('simulated store failure') });

        await broken.heal();
        healed = true;
        const fixed = await replay(answer.inbox_id);
        expect(fixed.statusCode, fixed.body).toBe(200);
        expect(fixed.json()).toEqual({
          id: answer.inbox_id,
          status: 'processed',
          records: [{ type: 'customer', external_id: 'poison_1', result: 'created' }],
          error: null,
        });
        expect((await t.app.inject({ url: '/customers/poison_1', headers: AUTH })).json().name).toBe('Bad');
        expect((await events('?status=failed')).items).toEqual([]);
        expectProblem(await replay(answer.inbox_id), 409);

        // From now on a repeat of the key gets the stored answer of the replay.
        const later = await postWebhook(t.app, { customer: { external_id: 'poison_1' } }, { 'webhook-id': 'dead-1' });
        expect(later.statusCode).toBe(200);
        expect(later.json()).toEqual({
          status: 'stored',
          delivery_id: 'dead-1',
          stored: 1,
          records: [{ type: 'customer', external_id: 'poison_1', result: 'created' }],
        });
      } finally {
        if (!healed) await broken.heal();
      }
    });

    it('an unsupported HubSpot event is a dead letter that a replay cannot fix: it stays failed', async () => {
      const res = await postHubspot(t.app, [hsEvent({ eventId: 500, subscriptionType: 'company.creation', objectId: 9 })]);
      const id = res.json().events[0].inbox_id as number;
      expect((await events('?status=failed&source=hubspot')).items.map((i) => i.id)).toEqual([id]);
      const again = await replay(id);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toMatchObject({ id, status: 'failed', error: expect.stringContaining('company.creation is not handled') });
    });

    it('two replays at once process a dead letter once', async () => {
      const broken = await breakRecordWrites(t.store, 'twice%');
      const bad = await postWebhook(t.app, { customer: { external_id: 'twice_1' } }, { 'webhook-id': 'twice-1' });
      await broken.heal();
      const id = bad.json().inbox_id as number;
      const answers = await Promise.all([replay(id), replay(id), replay(id)]);
      expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409, 409]);
    });
  });

  describe(`webhook inbox retention on ${engine.name}`, () => {
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

    it('deletes processed and duplicate rows past WEBHOOK_RETENTION, keeps dead letters (until WEBHOOK_FAILED_RETENTION, when set) and recent rows', async () => {
      await postWebhook(t.app, { customer: { external_id: 'r1' } }, { 'webhook-id': 'r-1' });
      await postWebhook(t.app, { customer: { external_id: 'r1' } }, { 'webhook-id': 'r-1' });
      await postHubspot(t.app, [hsEvent({ eventId: 1, subscriptionType: 'ticket.creation', objectId: 1 })], { secret: null });
      await postWebhook(t.app, { customer: { external_id: 'r2' } }, { 'webhook-id': 'r-2' });
      const rows = await inboxRows(t.store);
      expect(rows.map((r) => r.status)).toEqual(['processed', 'duplicate', 'failed', 'processed']);
      // The first three are 40 days old; the last one is new.
      const old = Date.now() - 40 * DAY;
      await t.store.db
        .updateTable('webhook_inbox')
        .set({ received_at: old })
        .where('id', '<=', rows[2]?.id as number)
        .execute();

      expect(await sweepInbox(t.store, { retentionMs: 30 * DAY, failedRetentionMs: null })).toEqual({ processed: 2, failed: 0 });
      expect((await inboxRows(t.store)).map((r) => r.status)).toEqual(['failed', 'processed']);
      expect(await sweepInbox(t.store, { retentionMs: 30 * DAY, failedRetentionMs: 90 * DAY })).toEqual({ processed: 0, failed: 0 });
      expect(await sweepInbox(t.store, { retentionMs: 30 * DAY, failedRetentionMs: 35 * DAY })).toEqual({ processed: 0, failed: 1 });
      expect((await inboxRows(t.store)).map((r) => r.status)).toEqual(['processed']);
      // Past the retention a key is forgotten: its repeat is stored afresh, not a duplicate.
      const again = await postWebhook(t.app, { customer: { external_id: 'r1' } }, { 'webhook-id': 'r-1' });
      expect(again.headers['idempotent-replayed']).toBeUndefined();
    });

    it('the app sweeps in the background at start', async () => {
      await postWebhook(t.app, { customer: { external_id: 'bg' } }, { 'webhook-id': 'bg-1' });
      await t.store.db
        .updateTable('webhook_inbox')
        .set({ received_at: Date.now() - 2 * DAY })
        .execute();
      const second = await startApp(db, { WEBHOOK_RETENTION: '1d' });
      try {
        const deadline = Date.now() + 10_000; // a safety limit, not a timing assertion
        while ((await inboxRows(second.store)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(await inboxRows(second.store)).toEqual([]);
      } finally {
        await second.close();
      }
    });

    it('a failing sweep is logged and counted, never thrown', async () => {
      const store = await openStore(db.config);
      await store.close(); // every query now fails
      const metrics = createMetrics();
      const retention = new InboxRetention(store, { retentionMs: DAY, failedRetentionMs: null, intervalMs: 60_000 }, pino({ level: 'silent' }), metrics);
      await expect(retention.runOnce()).resolves.toBeUndefined();
      expect((await metrics.storeErrors.get()).values.find((v) => v.labels.operation === 'inbox_retention')?.value).toBe(1);
      await retention.stop();
    });
  });
}

describe('dead letters of the generic route', () => {
  /**
   * README: a dead letter's key "answers repeats with that 202 until the replay
   * succeeds". A replay that fails again must not change what the key answers.
   */
  for (const engine of ENGINES) {
    describe(`replaying dead letters of the generic route on ${engine.name}`, () => {
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

      it('a sender retry after a failed replay still gets the 202 dead-letter answer', async () => {
        const broken = await breakRecordWrites(t.store, 'rp_poison%');
        try {
          const body = { customer: { external_id: 'rp_poison_1', name: 'Bad' } };
          const first = await postWebhook(t.app, body, { 'webhook-id': 'rp-dead-1' });
          expect(first.statusCode).toBe(202);
          const answer = first.json();

          // The operator replays while the store still refuses: it fails again.
          const replay = await t.app.inject({ method: 'POST', url: `/webhooks/events/${answer.inbox_id}/replay` });
          expect(replay.json()).toMatchObject({ status: 'failed' });

          // The sender retries the same delivery.
          const retry = await postWebhook(t.app, body, { 'webhook-id': 'rp-dead-1' });
          await t.store.db
            .selectFrom('webhook_inbox')
            .select(['status', 'response_status', 'response'])
            .where('id', '=', answer.inbox_id)
            .executeTakeFirstOrThrow();
          expect(retry.statusCode).toBe(202);
          expect(retry.json()).toEqual(answer);
        } finally {
          await broken.heal();
        }
      });

      it('a body starting with a BOM is accepted when the store works', async () => {
        const res = await postWebhook(t.app, '\uFEFF{"customer":{"external_id":"bom_ok","name":"A"}}', { 'webhook-id': 'bom-ok' });
        expect(res.statusCode, res.body).toBe(200);
      });

      it('a dead letter whose body starts with a BOM is replayed once the store heals (the replay parsed with JSON.parse, which refuses the BOM)', async () => {
        const broken = await breakRecordWrites(t.store, 'bom_dead%');
        let answer: { inbox_id: number };
        try {
          const res = await postWebhook(t.app, '\uFEFF{"customer":{"external_id":"bom_dead_1","name":"B"}}', { 'webhook-id': 'bom-dead' });
          expect(res.statusCode, res.body).toBe(202);
          answer = res.json();
        } finally {
          await broken.heal();
        }
        const replayed = await t.app.inject({ method: 'POST', url: `/webhooks/events/${answer.inbox_id}/replay` });
        expect(replayed.statusCode, replayed.body).toBe(200);
        expect(replayed.json(), replayed.body).toMatchObject({ status: 'processed', error: null });
        expect((await t.app.inject('/customers/bom_dead_1')).statusCode).toBe(200);
      });
    });
  }
});

describe('generic and provider idempotency keys', () => {
  /**
   * The generic route's webhook-id / Idempotency-Key and HubSpot's event keys
   * (`hubspot:<portal>:<sub>:<event>:<occurredAt>`) live in one unique column and
   * one lookup: a generic delivery that took a HubSpot event's key would make
   * the real event a "duplicate", never applied. The prefix is reserved.
   */
  for (const engine of ENGINES) {
    describe(`generic and HubSpot idempotency keys kept apart on ${engine.name}`, () => {
      let db: ScratchDatabase;
      let t: TestApp;
      beforeAll(async () => {
        db = await engine.create();
        t = await startApp(db, { HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET });
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('a generic delivery may not take a HubSpot event key, and the HubSpot event is applied', async () => {
        const event = hsEvent({ eventId: 77, subscriptionType: 'contact.creation', objectId: 4242, occurredAt: T0 });
        const key = `hubspot:${event.portalId}:${event.subscriptionId}:77:${T0}`;
        const generic = await postWebhook(t.app, { customer: { external_id: 'unrelated_1' } }, { 'webhook-id': key });
        expect(generic.statusCode).toBe(422);
        expect(generic.json().errors[0]).toMatchObject({ path: '/header/webhook-id' });
        expect((await record(t.app, 'customers', 'unrelated_1')).statusCode).toBe(404);

        const res = await postHubspot(t.app, [event]);
        expect(res.statusCode).toBe(200);
        expect(res.json().events[0].status).toBe('processed');
        expect((await record(t.app, 'customers', '4242')).statusCode).toBe(200);
      });
    });
  }
});

describe('provider text PostgreSQL cannot keep', () => {
  // The generic route refuses U+0000 / unpaired surrogates (422) and the syncs
  // clean them (storableWrite); the provider webhook routes did neither. On
  // PostgreSQL a raw NUL byte in a Mailchimp body made the inbox insert fail
  // (500 for bad input), and a NUL or lone surrogate inside an event value made
  // the event a dead letter no replay could fix, while SQLite stored it. Now the
  // NUL byte is a 400 and event values are cleaned as a sync cleans them.
  for (const engine of ENGINES) {
    describe(`provider webhooks with text PostgreSQL cannot keep, on ${engine.name}`, () => {
      let db: ScratchDatabase;
      let t: TestApp;
      beforeAll(async () => {
        db = await engine.create();
        t = await startApp(db, { HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET, MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
      });
      afterAll(async () => {
        await t?.close();
        await db?.drop();
      });

      it('a Mailchimp body with a raw NUL byte is a 400, not a 500', async () => {
        const payload = Buffer.concat([
          Buffer.from('type=subscribe&fired_at=2026-01-01+00:00:00&data[email]=nul@example.com&data[merges][FNAME]=A'),
          Buffer.from([0]),
          Buffer.from('B'),
        ]);
        const res = await t.app.inject({
          method: 'POST',
          url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload,
        });
        expect(res.statusCode, res.body).toBe(400);
      });

      it('a Mailchimp event with %00 in a merge field is processed, not a permanent dead letter', async () => {
        const res = await postMailchimp(t.app, {
          type: 'subscribe',
          fired_at: '2026-01-01 00:00:00',
          'data[list_id]': 'a6b5da1054',
          'data[email]': 'pct@example.com',
          'data[merges][FNAME]': 'A\u0000B',
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().events[0], res.body).toMatchObject({ status: 'processed' });
      });

      it('a HubSpot propertyChange whose value holds U+0000 is processed, not a permanent dead letter', async () => {
        const res = await postHubspot(t.app, [
          hsEvent({ eventId: 501, subscriptionType: 'contact.propertyChange', objectId: 501, propertyName: 'firstname', propertyValue: 'A\u0000B' }),
        ]);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().events[0], res.body).toMatchObject({ status: 'processed' });
      });

      it('a HubSpot propertyChange whose value is an unpaired surrogate is processed, not a permanent dead letter', async () => {
        const body = JSON.stringify([
          hsEvent({ eventId: 502, subscriptionType: 'contact.propertyChange', objectId: 502, propertyName: 'lastname', propertyValue: 'X' }),
        ]).replace('"X"', '"\\ud800"');
        const res = await postHubspot(t.app, body);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().events[0], res.body).toMatchObject({ status: 'processed' });
      });
    });
  }
});

describe('stopping retention during a big sweep', () => {
  const DAY = 86_400_000;
  const ROWS = 60_000;

  /**
   * InboxRetention.stop() (a preClose hook: SIGTERM) "waits for a running
   * sweep", and the sweep deletes its whole backlog 1,000 rows at a time
   * without ever looking at `stopped`: stop() is only as quick as the whole
   * backlog. Past the 10 s shutdown limit the process exits 1 before the writer
   * is flushed and the store closed.
   */
  for (const engine of ENGINES) {
    describe(`retention stop during a big sweep on ${engine.name}`, () => {
      let db: ScratchDatabase;
      let store: Store;
      beforeAll(async () => {
        db = await engine.create();
        store = await openStore(db.config);
        const old = Date.now() - 40 * DAY;
        // A backlog of processed rows past retention, inserted in one statement.
        if (engine.name === 'sqlite') {
          await sql
            .raw(
              `with recursive n(i) as (select 1 union all select i + 1 from n where i < ${ROWS})
             insert into webhook_inbox (received_at, route, idempotency_key, headers, body, status, response_status, response)
             select ${old}, '/webhook', 'k' || i, '{}', '{}', 'processed', 200, '{}' from n`,
            )
            .execute(store.db);
        } else {
          await sql
            .raw(
              `insert into webhook_inbox (received_at, route, idempotency_key, headers, body, status, response_status, response)
             select ${old}, '/webhook', 'k' || i, '{}', '{}', 'processed', 200, '{}' from generate_series(1, ${ROWS}) i`,
            )
            .execute(store.db);
        }
      });
      afterAll(async () => {
        await store?.close();
        await db?.drop();
      });

      it('stop() returns within a batch or two, not after the whole backlog; the sweep does not block the event loop', async () => {
        // How long the event loop goes without running a timer while the sweep runs.
        let last = Date.now();
        let maxGap = 0;
        const ticker = setInterval(() => {
          const now = Date.now();
          maxGap = Math.max(maxGap, now - last);
          last = now;
        }, 5);
        const retention = new InboxRetention(
          store,
          { retentionMs: 30 * DAY, failedRetentionMs: null, intervalMs: 3_600_000 },
          pino({ level: 'silent' }),
          createMetrics(),
        );
        retention.start();
        // Let the first batch go, then ask it to stop (SIGTERM -> preClose).
        await new Promise((r) => setTimeout(r, 20));
        const stopped = await Promise.race([retention.stop().then(() => 'stopped'), new Promise((r) => setTimeout(r, 60_000, 'stop() hung'))]);
        const left = Number(
          (
            await store.db
              .selectFrom('webhook_inbox')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
        clearInterval(ticker);
        expect(maxGap).toBeLessThan(500);
        expect(stopped).toBe('stopped');
        // A stop honoured between batches leaves most of the backlog for the next start.
        expect(left).toBeGreaterThan(ROWS / 2);
      }, 120_000);
    });
  }
});
