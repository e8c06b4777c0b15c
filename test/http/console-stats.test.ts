import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { recordFromPayload } from '../../src/domain/records.js';
import { sweepInbox } from '../../src/ingest/inbox-retention.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { insertInboxRow, setInboxOutcome } from '../../src/store/webhook-inbox.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES } from '../helpers/databases.js';
import { usePagedApp } from '../helpers/paged-app.js';
import { waitFor } from '../helpers/wait.js';
import { rewindMigrationsTo } from '../helpers/migrations.js';

interface Stats {
  records: Array<{ type: string; source: string; count: number; deleted: number }>;
  deliveries_per_minute: Array<{ minute: string; processed: number; duplicate: number; failed: number; received: number }>;
  writes_per_minute: Array<{ minute: string; source: string; count: number }>;
  tasks: { queued: number; running: number; failed_last_24h: number };
  dead_letters: number;
  time: string;
}

const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '3s' };
const DAY = 24 * 3_600_000;

async function stats(t: TestApp): Promise<Stats> {
  const res = await t.app.inject('/stats');
  expect(res.statusCode, res.body).toBe(200);
  return res.json<Stats>();
}

const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
const deliveries = (s: Stats, status: 'processed' | 'duplicate' | 'failed' | 'received') => sum(s.deliveries_per_minute.map((m) => m[status]));
const writes = (s: Stats, source: string) => sum(s.writes_per_minute.filter((w) => w.source === source).map((w) => w.count));

/** The inbox counters agree with a count of the rows. */
async function expectInboxCountersExact(store: Store): Promise<void> {
  const counted = await sql<{ status: string; n: number }>`select status, count(*) as n from webhook_inbox group by status`.execute(store.db);
  const kept = await store.db.selectFrom('inbox_counts').select(['status', 'n']).where('n', '<>', 0).execute();
  const asMap = (rows: Array<{ status: string; n: number | string }>) => Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  expect(asMap(kept)).toEqual(asMap(counted.rows));
}

for (const engine of ENGINES) {
  describe(`GET /stats and GET /sources on ${engine.name}`, () => {
    const fx = usePagedApp(engine, { total: 250, env: FAST_TASKS, freshDatabase: true });

    const boot = (env: Record<string, string> = {}) => fx.boot({ env });

    it('starts empty: 60 minutes of zeros, oldest first, ending with the current minute', async () => {
      const app = await boot();
      const s = await stats(app);
      expect(s.records).toEqual([]);
      expect(s.tasks).toEqual({ queued: 0, running: 0, failed_last_24h: 0 });
      expect(s.dead_letters).toBe(0);
      expect(s.writes_per_minute).toEqual([]);
      expect(s.deliveries_per_minute).toHaveLength(60);
      const minutes = s.deliveries_per_minute.map((m) => Date.parse(m.minute));
      for (let i = 1; i < minutes.length; i++) expect((minutes[i] as number) - (minutes[i - 1] as number)).toBe(60_000);
      const last = minutes[59] as number;
      expect(last % 60_000).toBe(0);
      expect(Date.parse(s.time) - last).toBeGreaterThanOrEqual(0);
      expect(Date.parse(s.time) - last).toBeLessThan(60_000);
      expect(sum(s.deliveries_per_minute.map((m) => m.processed + m.duplicate + m.failed + m.received))).toBe(0);
    });

    it('moves with webhooks: records by type and source, deliveries by outcome, writes per minute', async () => {
      const app = await boot();
      expect((await postWebhook(app.app, { customer: { external_id: 'c1', name: 'Ann' } }, { 'webhook-id': 'msg-1' })).statusCode).toBe(200);
      expect((await postWebhook(app.app, { customer: { external_id: 'c1', name: 'Ann' } }, { 'webhook-id': 'msg-1' })).statusCode).toBe(200);
      expect((await postWebhook(app.app, { customer: [{ external_id: 'c2' }, { external_id: 'c3' }], campaign: { external_id: 'k1' } })).statusCode).toBe(200);
      // Unchanged content is no write.
      expect((await postWebhook(app.app, { customer: { external_id: 'c2' } })).statusCode).toBe(200);
      const s = await stats(app);
      expect(s.records).toEqual([
        { type: 'campaign', source: 'webhook', count: 1, deleted: 0 },
        { type: 'customer', source: 'webhook', count: 3, deleted: 0 },
      ]);
      expect(deliveries(s, 'processed')).toBe(3);
      expect(deliveries(s, 'duplicate')).toBe(1);
      expect(deliveries(s, 'failed')).toBe(0);
      expect(writes(s, 'webhook')).toBe(4);
      expect(s.writes_per_minute.every((w) => w.source === 'webhook')).toBe(true);
      expect(s.writes_per_minute).toHaveLength(60);
      await expectInboxCountersExact(app.store);
    });

    it('counts tombstones as deleted, and dead letters until they are replayed or swept', async () => {
      const app = await boot();
      const write = (id: string, deleted = false) => ({ ...recordFromPayload('customer', { external_id: id }, 'crm'), deleted });
      await inWriteTransaction(app.store, (tx) => applyRecordWrites(tx, [write('a'), write('b'), write('c')]));
      await inWriteTransaction(app.store, (tx) => applyRecordWrites(tx, [write('b', true)]));
      let s = await stats(app);
      expect(s.records).toEqual([{ type: 'customer', source: 'crm', count: 2, deleted: 1 }]);
      expect(writes(s, 'crm')).toBe(4);

      const now = Date.now();
      const [fresh, old] = await inWriteTransaction(app.store, async (tx) => [
        await insertInboxRow(tx, { receivedAt: now, route: '/webhook', idempotencyKey: null, headers: {}, body: '{}', status: 'failed', error: 'boom' }),
        await insertInboxRow(tx, {
          receivedAt: now - 3 * DAY,
          route: '/webhook',
          idempotencyKey: null,
          headers: {},
          body: '{}',
          status: 'failed',
          error: 'old',
        }),
      ]);
      s = await stats(app);
      expect(s.dead_letters).toBe(2);
      // Only the fresh one arrived within the hour.
      expect(deliveries(s, 'failed')).toBe(1);

      await inWriteTransaction(app.store, (tx) =>
        setInboxOutcome(tx, fresh as number, { status: 'processed', answer: { status: 200, body: {} }, error: null }),
      );
      s = await stats(app);
      expect(s.dead_letters).toBe(1);
      expect(deliveries(s, 'failed')).toBe(0);
      expect(deliveries(s, 'processed')).toBe(1);
      await expectInboxCountersExact(app.store);

      expect(await sweepInbox(app.store, { retentionMs: 30 * DAY, failedRetentionMs: 2 * DAY })).toEqual({ processed: 0, failed: 1 });
      s = await stats(app);
      expect(s.dead_letters).toBe(0);
      expect(old).toBeGreaterThan(0);
      await expectInboxCountersExact(app.store);
    });

    it('moves with syncs: records and writes of the source, tasks, and the source list', async () => {
      const app = await boot({ SYNC_INTERVAL_ITEMS: '1h' });
      const sources = async () => (await app.app.inject('/sources')).json<{ items: Array<Record<string, unknown>> }>().items;
      const before = await sources();
      expect(before).toHaveLength(1);
      expect(before[0]).toMatchObject({ name: 'items', provider: 'custom', configured: true, missing: null, record_types: ['customer'], schedule: '1h' });

      // The schedule starts the first sync at once.
      const done = await waitFor(async () => {
        const task = (await sources())[0]?.last_task as { status: string; task_id: string } | null;
        return task?.status === 'succeeded' ? task : undefined;
      }, 'the scheduled sync to succeed');
      const s = await stats(app);
      expect(s.records).toEqual([{ type: 'customer', source: 'items', count: 250, deleted: 0 }]);
      expect(writes(s, 'items')).toBe(250);
      expect(s.tasks.running).toBe(0);
      expect(s.tasks.failed_last_24h).toBe(0);

      const after = await sources();
      expect((after[0]?.last_task as { status: string; task_id: string } | null)?.task_id).toBe(done.task_id);
    });

    it('lists the providers sources, configured or not, naming what is missing', async () => {
      // The app's own providers, not the fixture's paged source.
      const db = await engine.create();
      const t = await startApp(db);
      try {
        const res = await t.app.inject('/sources');
        expect(res.statusCode).toBe(200);
        const items = res.json<{ items: Array<{ name: string; provider: string; configured: boolean; missing: string | null; last_task: unknown }> }>().items;
        const byName = Object.fromEntries(items.map((i) => [i.name, i]));
        expect(byName.crm).toMatchObject({ provider: 'hubspot', configured: false, missing: expect.stringMatching(/^HUBSPOT_/), last_task: null });
        expect(byName.marketing).toMatchObject({ provider: 'mailchimp', configured: false, missing: expect.stringMatching(/^MAILCHIMP_/), last_task: null });
      } finally {
        await t.close();
        await db.drop();
      }
    });
  });

  describe(`migration 009 on ${engine.name}`, () => {
    it('counts what a store already held', async () => {
      const db = await engine.create();
      try {
        let store = await openStore(db.config);
        const now = Date.now();
        await inWriteTransaction(store, async (tx) => {
          await applyRecordWrites(tx, [recordFromPayload('customer', { external_id: 'x' }, 'crm'), recordFromPayload('customer', { external_id: 'y' }, 'crm')]);
          await insertInboxRow(tx, { receivedAt: now, route: '/webhook', idempotencyKey: 'k1', headers: {}, body: '{}', status: 'processed' });
          await insertInboxRow(tx, { receivedAt: now, route: '/webhook', idempotencyKey: null, headers: {}, body: '{}', status: 'failed', error: 'e' });
        });
        // As a store before 009 was: no counters.
        await rewindMigrationsTo(store.db, '008-mailchimp-member-keys');
        await store.close();
        store = await openStore(db.config);
        try {
          await expectInboxCountersExact(store);
          const minutes = await store.db.selectFrom('delivery_minutes').select(['status', 'n']).orderBy('status').execute();
          expect(minutes.map((m) => [m.status, Number(m.n)])).toEqual([
            ['failed', 1],
            ['processed', 1],
          ]);
          const written = await store.db.selectFrom('write_minutes').select(['source', 'n']).execute();
          expect(written.map((w) => [w.source, Number(w.n)])).toEqual([['crm', 2]]);
        } finally {
          await store.close();
        }
      } finally {
        await db.drop();
      }
    });
  });
}
