import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { RecordWrite } from '../../src/domain/records.js';
import { openStore } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The WAL is checkpointed into the database file by a thread of its own, not
 * by the COMMIT that crosses SQLite's threshold (4 MB by default, on the
 * event loop). Written: about 2 MB, under both SQLite's default threshold and
 * the main connection's backstop, so only that thread can have copied it.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-checkpoint-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const record = (i: number): RecordWrite => ({
  type: 'campaign',
  external_id: `c${i}`,
  source: 'test',
  fields: { sender_id: null, name: `campaign ${i}`, email: null, status: 'sent', budget: null, details: null },
  attributes: { body: 'x'.repeat(1_000), i },
  sourceUpdatedAt: null,
  deleted: false,
});

it('copies committed pages into the database file in the background, and the data reads back after a reopen', async () => {
  const file = path.join(dir, 'store.db');
  const store = await openStore({ kind: 'sqlite', path: file });
  const before = fs.statSync(file).size;
  for (let page = 0; page < 4; page++) {
    await inWriteTransaction(store, (tx) =>
      applyRecordWrites(
        tx,
        Array.from({ length: 500 }, (_, i) => record(page * 500 + i)),
      ),
    );
  }
  // Nothing written since: only the checkpointing thread can grow the file now.
  await waitFor(async () => (fs.statSync(file).size > before + 1_500_000 ? true : undefined), 'the database file to grow', 5_000);
  await store.close();
  const again = await openStore({ kind: 'sqlite', path: file });
  const { n } = await again.db
    .selectFrom('records')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  expect(Number(n)).toBe(2_000);
  await again.close();
});
