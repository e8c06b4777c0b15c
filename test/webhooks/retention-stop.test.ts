import { pino } from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxRetention } from '../../src/ingest/inbox-retention.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

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
