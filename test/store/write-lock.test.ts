import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDialect } from '../../src/store/dialect.js';
import { recordFromPayload } from '../../src/domain/records.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const postgres = ENGINES.find((e) => e.name === 'postgres');
const customer = (id: string) => recordFromPayload('customer', { external_id: id, name: 'Ann' }, 'webhook');

// Two stores stand for two service processes sharing one PostgreSQL database.
describe.runIf(postgres)('the write lock on PostgreSQL, across processes', () => {
  let db: ScratchDatabase;
  let a: Store;
  let b: Store;

  beforeAll(async () => {
    db = await (postgres as (typeof ENGINES)[number]).create();
    a = await openStore(db.config);
    b = await openStore(db.config);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('holds a second writer until the first commits, and its change time comes after the first one', async () => {
    const events: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = inWriteTransaction(a, async (tx) => {
      events.push('a starts');
      await gate;
      await applyRecordWrites(tx, [customer('lock-a')]);
      events.push('a ends');
      return tx.now;
    });
    while (!events.includes('a starts')) await sleep(5);
    const second = inWriteTransaction(b, async (tx) => {
      events.push('b starts');
      await applyRecordWrites(tx, [customer('lock-b')]);
      return tx.now;
    });
    await sleep(300);
    expect(events).toEqual(['a starts']);
    release();
    const [timeA, timeB] = await Promise.all([first, second]);
    expect(events).toEqual(['a starts', 'a ends', 'b starts']);
    expect(timeB).toBeGreaterThan(timeA);
  });

  it('a writer whose lock wait fails leaves its connection usable: the next transactions and reads work', async () => {
    if (db.config.kind !== 'postgres') throw new Error('unreachable');
    // Another process holds the write lock; this store gives up waiting after 200 ms.
    const holder = new pg.Client({ connectionString: db.config.url });
    await holder.connect();
    const impatientUrl = new URL(db.config.url);
    impatientUrl.searchParams.set('options', '-c lock_timeout=200');
    const impatient = await openStore({ kind: 'postgres', url: impatientUrl.toString() });
    try {
      await holder.query(postgresDialect.beginTransaction);
      await expect(inWriteTransaction(impatient, async () => 'never')).rejects.toThrow(/lock timeout/);
      await holder.query('rollback');
      for (let i = 0; i < 3; i++) {
        expect(await inWriteTransaction(impatient, async (tx) => (await applyRecordWrites(tx, [customer(`after-timeout-${i}`)]))[0]?.result)).toBe('created');
        expect((await sql<{ one: number }>`select 1 as one`.execute(impatient.db)).rows[0]?.one).toBe(1);
      }
    } finally {
      await holder.end();
      await impatient.close();
    }
  });
});
