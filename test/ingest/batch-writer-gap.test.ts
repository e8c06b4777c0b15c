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

/**
 * A delivery submitted while a drain is finishing: after commitQueued() saw an
 * empty queue but before its `finally` cleared `running`, schedule() returns
 * early ("the running drain picks new work up") and nothing ever drains it.
 * Probed by submitting the second delivery k microtask hops after the first.
 */
for (const engine of ENGINES) {
  describe(`batch writer: a submit in the drain's last microtasks on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('every submitted delivery is committed, whatever microtask it arrives in', async () => {
      const stranded: number[] = [];
      for (let k = 0; k < 400; k += 1) {
        const writer = new BatchWriter(store, { maxDelayMs: 0, maxBatchRecords: 1 }, createMetrics(), pino({ level: 'silent' }));
        const a = writer.submit(job(`gap-a-${k}`)); // full batch: drains at once
        for (let i = 0; i < k; i++) await Promise.resolve();
        const b = writer.submit(job(`gap-b-${k}`));
        await a;
        const r = await Promise.race([b.then(() => 'ok'), new Promise((res) => setTimeout(res, 300, 'stranded'))]);
        if (r === 'stranded') stranded.push(k);
        await Promise.race([writer.close(), new Promise((res) => setTimeout(res, 2000))]);
      }
      expect(stranded).toEqual([]);
    }, 240_000);
  });
}
