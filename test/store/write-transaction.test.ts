import { sql } from 'kysely';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromPayload } from '../../src/domain/records.js';
import { postgresDialect } from '../../src/store/dialect.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { type PagePosition, readPage } from '../../src/store/record-queries.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A PostgreSQL server (or database) whose default isolation is repeatable
 * read: a write transaction's snapshot would be taken by the statement that
 * waits for the write lock, before the lock is granted, so the change clock
 * it reads next could miss a commit made meanwhile (change times repeating
 * or out of commit order, a feed reader skipping records), and concurrent
 * updates of one row would fail to serialize. Write transactions ask for
 * read committed themselves.
 */
const postgres = ENGINES.filter((e) => e.name === 'postgres');
describe.skipIf(postgres.length > 0)('writers under a repeatable-read default (PostgreSQL only)', () => {
  it.skip('needs TEST_DATABASE_URL', () => {});
});
for (const engine of postgres) {
  describe(`writers on a database whose default isolation is repeatable read, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    const stores: Store[] = [];
    beforeAll(async () => {
      db = await engine.create();
      const admin = await openStore(db.config);
      const { rows } = await sql<{ name: string }>`select current_database() as name`.execute(admin.db);
      await sql.raw(`alter database "${rows[0]!.name}" set default_transaction_isolation = 'repeatable read'`).execute(admin.db);
      await admin.close();
      for (let i = 0; i < 3; i++) stores.push(await openStore(db.config));
    });
    afterAll(async () => {
      for (const s of stores) await s.close();
      await db?.drop();
    });

    it('every write commits, and a reader following its bookmark sees every last version', async () => {
      const reader = stores[0]!;
      const { rows: iso } = await sql<{ level: string }>`select current_setting('default_transaction_isolation') as level`.execute(reader.db);
      expect(iso[0]?.level).toBe('repeatable read');
      let bookmark: PagePosition | undefined;
      const seen = new Map<string, number>();
      let stop = false;
      const poll = async () => {
        for (;;) {
          const p = await readPage(reader, {
            includeDeleted: true,
            limit: 7,
            offset: 0,
            after: bookmark,
            order: 'change',
            updatedSince: bookmark ? undefined : 0,
          });
          for (const r of p.records) seen.set(r.external_id, r.updatedAt);
          if (p.next) bookmark = p.next;
          if (!p.next || p.records.length < 7) return;
        }
      };
      const reading = (async () => {
        while (!stop) {
          await poll();
          await sleep(1);
        }
      })();
      let n = 0;
      const writer = async (s: Store) => {
        for (let i = 0; i < 25; i++) {
          await inWriteTransaction(s, async (tx) => {
            await sleep(Math.random() * 4);
            const writes = Array.from({ length: 3 }, () =>
              recordFromPayload('customer', { external_id: `k${Math.floor(Math.random() * 30)}`, name: `n${n++}` }, 'webhook'),
            );
            await applyRecordWrites(tx, writes);
            await sleep(Math.random() * 4);
          });
        }
      };
      const results = await Promise.allSettled(stores.flatMap((s) => [writer(s), writer(s)]));
      stop = true;
      await reading;
      await poll();
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      const rows = await reader.db.selectFrom('records').select(['external_id', 'updated_at']).execute();
      for (const r of rows) expect(seen.get(r.external_id), r.external_id).toBe(r.updated_at);
    }, 60_000);
  });
}

describe('the PostgreSQL write lock across processes', () => {
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
      const impatient = await openStore(db.config, { lockWaitMs: 200 });
      try {
        await holder.query(postgresDialect.beginTransaction(60_000));
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
});

describe('two SQLite writer processes', () => {
  const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

  /**
   * Two processes writing one SQLite file (two instances started by mistake,
   * or a one-off script beside the service). A transaction reads the change
   * clock before its first write; opened with a plain BEGIN, it held no write
   * lock yet, so another process could commit in between, and its first write
   * then failed at once with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
   */
  describe('two processes writing one SQLite file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-writers-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('the writer that comes second waits for the first instead of failing, and the change clock keeps their order', async () => {
      const file = path.join(dir, 'warehouse.db');
      const flag = path.join(dir, 'go');
      const store = await openStore({ kind: 'sqlite', path: file }, { checkpointThread: false });
      try {
        const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/write-once-child.ts', file, flag, 'from-child'], {
          cwd: ROOT,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
        for (let i = 0; i < 600 && !out.includes('ready'); i++) await sleep(50);
        expect(out).toContain('ready');

        // Our transaction has read the clock; the other process now tries to write, and we write last.
        const mine = await inWriteTransaction(store, async (tx) => {
          fs.writeFileSync(flag, '');
          await sleep(500);
          return applyRecordWrites(tx, [recordFromPayload('customer', { external_id: 'from-parent' }, 'webhook')]);
        });
        expect(mine.map((w) => w.result)).toEqual(['created']);
        await exited;
        expect(out.trim().split('\n')).toEqual(['ready', 'ok']);

        const rows = await store.db.selectFrom('records').select(['external_id', 'updated_at']).orderBy('updated_at').execute();
        expect(rows.map((r) => r.external_id)).toEqual(['from-parent', 'from-child']);
      } finally {
        await store.close();
      }
    }, 60_000);
  });
});

describe('a writer frozen in its transaction', () => {
  /**
   * Two instances on one PostgreSQL. One freezes inside a write transaction
   * (as a stopped or paused process would): it holds the write lock. The other
   * must be able to write again once the server has ended the idle session,
   * not wait for as long as the first stays frozen.
   */
  const postgres = ENGINES.filter((e) => e.name === 'postgres');
  // Without TEST_DATABASE_URL there is no PostgreSQL: a file with no suite at all would fail the run.
  describe.skipIf(postgres.length > 0)('a writer frozen inside its transaction (PostgreSQL only)', () => {
    it.skip('needs TEST_DATABASE_URL', () => {});
  });
  for (const engine of postgres) {
    describe(`a writer frozen inside its transaction, on ${engine.name}`, () => {
      let scratch: ScratchDatabase;
      let frozen: Store;
      let other: Store;
      beforeAll(async () => {
        scratch = await engine.create();
        frozen = await openStore(scratch.config, { idleInTransactionTimeoutMs: 500 });
        other = await openStore(scratch.config, { idleInTransactionTimeoutMs: 500 });
      });
      afterAll(async () => {
        await frozen?.close();
        await other?.close();
        await scratch?.drop();
      });

      it('stops holding the write lock once idle past the timeout; its transaction fails and writes nothing', async () => {
        let thawed!: () => void;
        const thaw = new Promise<void>((resolve) => (thawed = resolve));
        let entered!: () => void;
        const inside = new Promise<void>((resolve) => (entered = resolve));
        const frozenTx = inWriteTransaction(frozen, async (tx) => {
          await tx.trx.insertInto('sync_state').values({ source: 'frozen', checkpoint: null, updated_at: 0, last_success_at: null }).execute();
          entered();
          await thaw;
          await tx.trx.insertInto('sync_state').values({ source: 'frozen-2', checkpoint: null, updated_at: 0, last_success_at: null }).execute();
        }).then(
          () => 'committed',
          () => 'failed',
        );
        await inside;
        const wrote = inWriteTransaction(other, async (tx) => {
          await tx.trx.insertInto('sync_state').values({ source: 'other', checkpoint: null, updated_at: 0, last_success_at: null }).execute();
          return 'written';
        });
        const outcome = await Promise.race([wrote, new Promise((r) => setTimeout(r, 5_000, 'still waiting after 5 s'))]);
        expect(outcome).toBe('written');
        thawed();
        expect(await frozenTx).toBe('failed');
        const sources = (await other.db.selectFrom('sync_state').select('source').execute()).map((r) => r.source);
        expect(sources).toEqual(['other']);
      });
    });
  }
});
