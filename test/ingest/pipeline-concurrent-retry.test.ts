import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordWrite } from '../../src/domain/records.js';
import { prepareDelivery, type DeliveryHandler, type PreparedDelivery } from '../../src/ingest/delivery.js';
import { genericDeliveryHandler } from '../../src/ingest/generic-delivery.js';
import { DeliveryPipeline, type DeliveryJob } from '../../src/ingest/pipeline.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import type { Database } from '../../src/store/schema.js';
import { getInboxRow } from '../../src/store/webhook-inbox.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/**
 * A sender retries a delivery while its first copy is still on its way into
 * the store (waiting for the write lock, or failing). The retry, on another
 * instance on the same database, commits first; the first copy must then not
 * be applied a second time, nor become a dead letter.
 */

const job = (key: string, body: string, prepared: PreparedDelivery): DeliveryJob => ({
  route: '/webhook',
  headers: {},
  receivedAt: Date.now(),
  events: [{ key, body, prepared }],
  weight: 1,
  rowIds: true,
});

/** `store`, whose `nth` write transaction waits for `gate` before it begins. */
function holdingTransaction(store: Store, nth: number, gate: Promise<void>): { store: Store; reached: Promise<void> } {
  let calls = 0;
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const db = new Proxy(store.db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return () => {
          const builder = target.transaction();
          return {
            execute: async <T>(fn: Parameters<typeof builder.execute<T>>[0]) => {
              if (++calls === nth) {
                reach();
                await gate;
              }
              return builder.execute(fn);
            },
          };
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as Kysely<Database>;
  return { store: { ...store, db }, reached };
}

for (const engine of ENGINES) {
  describe(`a retried delivery committed by the retry first, on ${engine.name}`, () => {
    let scratch: ScratchDatabase;
    let store: Store;
    const log = pino({ level: 'silent' });
    const options = { maxDelayMs: 0, maxBatchRecords: 100 };
    beforeAll(async () => {
      scratch = await engine.create();
      store = await openStore(scratch.config);
    });
    afterAll(async () => {
      await store?.close();
      await scratch?.drop();
    });

    it('is applied once, and the first copy is answered as a duplicate of the retry', async () => {
      let applied = 0;
      const counting: DeliveryHandler<RecordWrite[]> = {
        ...genericDeliveryHandler,
        plain: undefined,
        apply: async (tx, writes, d) => {
          applied++;
          return genericDeliveryHandler.apply(tx, writes, d);
        },
      };
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The first copy's transaction waits before it begins (another instance holds the lock, say).
      const held = holdingTransaction(store, 1, gate);
      const first = new DeliveryPipeline(held.store, options, createMetrics(), log);
      const retry = new DeliveryPipeline(store, options, createMetrics(), log);
      const body = JSON.stringify({ customer: { external_id: 'retried-1', name: 'Ada', email: 'ada@example.com' } });
      const prepared = () => prepareDelivery(counting, JSON.parse(body));

      const firstDone = first.submit(job('evt-1', body, prepared()));
      await held.reached;
      const [retried] = await retry.submit(job('evt-1', body, prepared()));
      expect(retried).toMatchObject({ status: 'processed' });
      release();
      const [outcome] = await firstDone;

      expect(applied).toBe(1);
      expect(outcome).toMatchObject({ status: 'duplicate', duplicate_of: retried?.inbox_id, answer: retried?.answer });
      const row = await getInboxRow(store.db, store.dialect.decodeJson, retried?.inbox_id as number);
      expect(row?.status).toBe('processed');
      expect(row?.response).toMatchObject({ status: 'stored', stored: 1 });
      await Promise.all([first.close(), retry.close()]);
    });

    it('a first copy whose store failure comes after the retry committed is a duplicate, not a dead letter', async () => {
      const failing: DeliveryHandler<RecordWrite[]> = {
        ...genericDeliveryHandler,
        plain: undefined,
        apply: async () => {
          throw new Error('the store is having a bad moment');
        },
      };
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // Transactions of the first copy: its commit (fails), then the dead letter (held).
      const held = holdingTransaction(store, 2, gate);
      const first = new DeliveryPipeline(held.store, options, createMetrics(), log);
      const retry = new DeliveryPipeline(store, options, createMetrics(), log);
      const body = JSON.stringify({ customer: { external_id: 'retried-2', name: 'Grace', email: 'grace@example.com' } });

      const firstDone = first.submit(job('evt-2', body, prepareDelivery(failing, JSON.parse(body))));
      await held.reached;
      const [retried] = await retry.submit(job('evt-2', body, prepareDelivery(genericDeliveryHandler, JSON.parse(body))));
      expect(retried).toMatchObject({ status: 'processed' });
      release();
      const [outcome] = await firstDone;
      expect(outcome).toMatchObject({ status: 'duplicate', duplicate_of: retried?.inbox_id });
      const row = await getInboxRow(store.db, store.dialect.decodeJson, retried?.inbox_id as number);
      expect(row?.status).toBe('processed');
      await Promise.all([first.close(), retry.close()]);
    });
  });
}
