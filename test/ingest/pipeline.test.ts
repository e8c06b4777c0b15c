import { type Kysely } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RecordWrite } from '../../src/domain/records.js';
import { type DeliveryHandler, type PreparedDelivery, prepareDelivery } from '../../src/ingest/delivery.js';
import { genericDeliveryHandler } from '../../src/ingest/generic-delivery.js';
import { type DeliveryJob, DeliveryPipeline } from '../../src/ingest/pipeline.js';
import { createMetrics } from '../../src/metrics.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { type Database } from '../../src/store/schema.js';
import { getInboxRow } from '../../src/store/webhook-inbox.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const job = (id: string): DeliveryJob => {
  const body = JSON.stringify({ customer: { external_id: id, name: 'Ann' } });
  return {
    route: '/webhook',
    headers: {},
    receivedAt: Date.now(),
    events: [{ key: `key-${id}`, body, prepared: prepareDelivery(genericDeliveryHandler, JSON.parse(body)) }],
    weight: 1,
    rowIds: false,
  };
};

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
    let writer: DeliveryPipeline;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      writer = new DeliveryPipeline(store, { maxDelayMs: 0, maxBatchRecords: 5000 }, createMetrics(), pino({ level: 'silent' }));
    });
    afterAll(async () => {
      await writer?.close();
      await store?.close();
      await db?.drop();
    });

    it('commits every delivery submitted in one turn of the event loop together', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `turn-${i}`);
      const outcomes = await Promise.all(ids.map((id) => writer.submit(job(id))));
      expect(outcomes.every(([o]) => o?.answer?.status === 200 && o.status === 'processed')).toBe(true);
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
      const small = new DeliveryPipeline(store, { maxDelayMs: 0, maxBatchRecords: 2 }, createMetrics(), pino({ level: 'silent' }));
      await Promise.all(['full-1', 'full-2', 'full-3'].map((id) => small.submit(job(id))));
      await new Promise((resolve) => setImmediate(resolve));
      const late = small.submit(job('full-late'));
      const stalled = new Promise((resolve) => setTimeout(resolve, 2000, 'stalled'));
      expect(await Promise.race([late.then(([o]) => o?.answer?.status), stalled])).toBe(200);
      // Only now: close() on a wedged writer would never return.
      await small.close();
      expect((await changeTimes(store, ['full-1', 'full-2', 'full-3', 'full-late'])).size).toBeGreaterThan(1);
    });

    it('close commits what was submitted and then refuses new work', async () => {
      const pending = writer.submit(job('at-close'));
      await writer.close();
      expect((await pending)[0]?.answer?.status).toBe(200);
      await expect(writer.submit(job('after-close'))).rejects.toThrow('closed');
    });
  });
}

/**
 * A delivery submitted while a drain is finishing: after commitQueued() saw an
 * empty queue but before its `finally` cleared `running`, schedule() returns
 * early ("the running drain picks new work up") and nothing ever drains it.
 * Probed by submitting the second delivery k microtask hops after the first.
 */
for (const engine of ENGINES) {
  describe(`delivery pipeline: a submit in the drain's last microtasks on ${engine.name}`, () => {
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
        const writer = new DeliveryPipeline(store, { maxDelayMs: 0, maxBatchRecords: 1 }, createMetrics(), pino({ level: 'silent' }));
        const a = writer.submit(job(`gap-a-${k}`)); // full batch: drains at once
        for (let i = 0; i < k; i++) await Promise.resolve();
        const b = writer.submit(job(`gap-b-${k}`));
        await a;
        // A stranded delivery waits for the next submit, which never comes: 3 s
        // tells it from a commit slowed by a loaded machine.
        const r = await Promise.race([b.then(() => 'ok'), new Promise((res) => setTimeout(res, 3000, 'stranded'))]);
        if (r === 'stranded') stranded.push(k);
        await Promise.race([writer.close(), new Promise((res) => setTimeout(res, 2000))]);
        if (stranded.length > 0) break;
      }
      expect(stranded).toEqual([]);
    }, 240_000);
  });
}

describe('concurrent retries of one delivery', () => {
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
});
