import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { expectProblem, postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const BOUND = 64 * 1024;
const BODY_BYTES = 20 * 1024;

/** A delivery of about BODY_BYTES. */
const bigDelivery = (id: string) => ({ customer: { external_id: id, notes: 'n'.repeat(BODY_BYTES) } });

for (const engine of ENGINES) {
  describe(`WRITER_MAX_QUEUED_BYTES on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { WRITER_MAX_QUEUED_BYTES: '64kb' });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('while the store is stalled, bodies past the bound get 503 with Retry-After, are counted, and store nothing; it takes them again once drained', async () => {
      // A long write transaction of our own holds the write lock: every batch of the writer waits behind it.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const lockTaken = new Promise<void>((resolve) => (locked = resolve));
      const stall = inWriteTransaction(t.store, async () => {
        locked();
        await gate;
      });
      await lockTaken;

      const held = [0, 1, 2].map((i) => postWebhook(t.app, bigDelivery(`queued_${i}`), { 'webhook-id': `queued-${i}` }));
      // Give the three time to be read and queued behind the stalled store.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(3 * BODY_BYTES).toBeLessThan(BOUND);

      const refused = await postWebhook(t.app, bigDelivery('refused_0'), { 'webhook-id': 'refused-0' });
      const problem = expectProblem(refused, 503);
      expect(problem.type).toBe('/problems/unavailable');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // A small one still fits under the bound.
      const small = postWebhook(t.app, { customer: { external_id: 'small_0' } }, { 'webhook-id': 'small-0' });
      const metrics = await t.app.inject({ url: '/metrics' });
      expect(metrics.body).toMatch(/^tributary_webhook_queue_full_total 1$/m);

      release();
      await stall;
      for (const res of await Promise.all(held)) expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
      expect((await small).statusCode).toBe(200);

      // Drained: the refused delivery, sent again, is taken.
      const again = await postWebhook(t.app, bigDelivery('refused_0'), { 'webhook-id': 'refused-0' });
      expect(again.statusCode, again.body.slice(0, 300)).toBe(200);
      expect(again.headers['idempotent-replayed']).toBeUndefined();

      const rows = await t.store.db.selectFrom('webhook_inbox').select(['idempotency_key', 'status']).orderBy('id').execute();
      expect(rows).toEqual([
        ...[0, 1, 2].map((i) => ({ idempotency_key: `queued-${i}`, status: 'processed' })),
        { idempotency_key: 'small-0', status: 'processed' },
        { idempotency_key: 'refused-0', status: 'processed' },
      ]);
      expect(await t.store.db.selectFrom('webhook_inbox').select('id').where('status', '=', 'failed').execute()).toEqual([]);
    });
  });
}
