import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
