import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboxCatalog } from '../../src/ingest/inbox-catalog.js';
import { genericDeliveryHandler, InboxProcessor, type DeliveryHandler } from '../../src/ingest/inbox-processing.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import type { Database } from '../../src/store/schema.js';
import { getInboxRow } from '../../src/store/webhook-inbox.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/**
 * A provider retries an event while the first delivery is still between its
 * receipt (stored `received`) and its processing. The retry, on this
 * instance or another one on the same database, finds the first copy
 * `received` and processes it; the first delivery must then not apply it a
 * second time.
 */

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
  describe(`a retried event processed by the retry first, on ${engine.name}`, () => {
    let scratch: ScratchDatabase;
    let store: Store;
    beforeAll(async () => {
      scratch = await engine.create();
      store = await openStore(scratch.config);
    });
    afterAll(async () => {
      await store?.close();
      await scratch?.drop();
    });

    it('is applied once, and the first delivery reports what the retry did', async () => {
      let applied = 0;
      const counting: DeliveryHandler = async (tx, d) => {
        applied++;
        return genericDeliveryHandler(tx, d);
      };
      const handlers = new InboxCatalog([{ source: 'test', routes: ['test'], handler: counting }]);
      const log = pino({ level: 'silent' });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // The first delivery's second transaction (processing) waits; its receipt commits.
      const held = holdingTransaction(store, 2, gate);
      const first = new InboxProcessor(held.store, handlers, createMetrics(), log);
      const retry = new InboxProcessor(store, handlers, createMetrics(), log);
      const body = JSON.stringify({ customer: { external_id: 'retried-1', name: 'Ada', email: 'ada@example.com' } });

      const firstDone = first.receive('test', {}, [{ key: 'evt-1', body }]);
      await held.reached;
      const retried = await retry.receive('test', {}, [{ key: 'evt-1', body }]);
      expect(retried[0]).toMatchObject({ status: 'duplicate' });
      expect(applied).toBe(1);
      release();
      const outcomes = await firstDone;

      expect(applied).toBe(1);
      expect(outcomes[0]).toMatchObject({ status: 'processed', duplicate_of: null });
      const row = await getInboxRow(store.db, store.dialect.decodeJson, outcomes[0]?.inbox_id as number);
      expect(row?.status).toBe('processed');
      expect(row?.response).toMatchObject({ status: 'stored', stored: 1 });
    });

    it('a first request whose processing failed does not mark failed an event its retry has processed meanwhile', async () => {
      const log = pino({ level: 'silent' });
      const failing: DeliveryHandler = async () => {
        throw new Error('the store is having a bad moment');
      };
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // Transactions of the first request: receipt, all together, one by one, then the dead letter (held).
      const held = holdingTransaction(store, 4, gate);
      const first = new InboxProcessor(held.store, new InboxCatalog([{ source: 'test', routes: ['test'], handler: failing }]), createMetrics(), log);
      const retry = new InboxProcessor(store, new InboxCatalog([{ source: 'test', routes: ['test'], handler: genericDeliveryHandler }]), createMetrics(), log);
      const body = JSON.stringify({ customer: { external_id: 'retried-2', name: 'Grace', email: 'grace@example.com' } });

      const firstDone = first.receive('test', {}, [{ key: 'evt-2', body }]);
      await held.reached;
      expect((await retry.receive('test', {}, [{ key: 'evt-2', body }]))[0]).toMatchObject({ status: 'duplicate' });
      release();
      const outcomes = await firstDone;
      const row = await getInboxRow(store.db, store.dialect.decodeJson, outcomes[0]?.inbox_id as number);
      expect(row?.status).toBe('processed');
      expect(outcomes[0]).toMatchObject({ status: 'processed' });
    });
  });
}
