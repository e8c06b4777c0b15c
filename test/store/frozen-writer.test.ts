import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

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
