import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload } from '../../src/domain/records.js';
import { BatchWriter, type DeliveryJob } from '../../src/ingest/batch-writer.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const job = (id: string): DeliveryJob => ({
  writes: [recordFromPayload('customer', { external_id: id, name: 'Ann' }, 'webhook')],
  delivery: { receivedAt: Date.now(), route: '/webhook', idempotencyKey: `key-${id}`, headers: {}, body: '{}' },
  answer: (applied) => ({ status: 200, body: { stored: applied.length } }),
});

/** One transaction gives every row it writes the same change time. */
async function changeTimes(store: Store, ids: string[]): Promise<Set<number>> {
  const rows = await store.db.selectFrom('records').select('updated_at').where('external_id', 'in', ids).execute();
  expect(rows).toHaveLength(ids.length);
  return new Set(rows.map((r) => Number(r.updated_at)));
}

for (const engine of ENGINES) {
  describe(`group commit without a delay (WRITER_MAX_DELAY_MS=0) on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    let writer: BatchWriter;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      writer = new BatchWriter(store, { maxDelayMs: 0, maxBatchRecords: 5000 }, createMetrics(), pino({ level: 'silent' }));
    });
    afterAll(async () => {
      await writer?.close();
      await store?.close();
      await db?.drop();
    });

    it('commits every delivery submitted in one turn of the event loop together', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `turn-${i}`);
      const outcomes = await Promise.all(ids.map((id) => writer.submit(job(id))));
      expect(outcomes.every((o) => o.answer.status === 200 && !o.duplicate)).toBe(true);
      expect((await changeTimes(store, ids)).size).toBe(1);
    });

    it('a delivery that arrives while a batch commits goes into the next batch, and none is lost', async () => {
      const first = Array.from({ length: 10 }, (_, i) => `first-${i}`);
      const later = Array.from({ length: 10 }, (_, i) => `later-${i}`);
      const a = first.map((id) => writer.submit(job(id)));
      // After this turn the first batch is committing; these come in the next turns.
      await new Promise((resolve) => setImmediate(resolve));
      const b = later.map((id) => writer.submit(job(id)));
      await Promise.all([...a, ...b]);
      const firstTimes = await changeTimes(store, first);
      const laterTimes = await changeTimes(store, later);
      expect(firstTimes.size).toBe(1);
      expect(Math.min(...laterTimes)).toBeGreaterThan(Math.max(...firstTimes));
    });

    it('keeps taking deliveries after a full batch commits before the turn ends', async () => {
      // A batch that fills up commits at once; the end-of-turn drain scheduled
      // before it then finds nothing to do. It must not leave the writer
      // marked busy, or every later delivery would wait forever.
      const small = new BatchWriter(store, { maxDelayMs: 0, maxBatchRecords: 2 }, createMetrics(), pino({ level: 'silent' }));
      await Promise.all(['full-1', 'full-2', 'full-3'].map((id) => small.submit(job(id))));
      await new Promise((resolve) => setImmediate(resolve));
      const late = small.submit(job('full-late'));
      const stalled = new Promise((resolve) => setTimeout(resolve, 2000, 'stalled'));
      expect(await Promise.race([late.then((o) => o.answer.status), stalled])).toBe(200);
      // Only now: close() on a wedged writer would never return.
      await small.close();
      expect((await changeTimes(store, ['full-1', 'full-2', 'full-3', 'full-late'])).size).toBeGreaterThan(1);
    });

    it('close commits what was submitted and then refuses new work', async () => {
      const pending = writer.submit(job('at-close'));
      await writer.close();
      expect((await pending).answer.status).toBe(200);
      await expect(writer.submit(job('after-close'))).rejects.toThrow('closed');
    });
  });
}
