import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { recordFromPayload } from '../../src/domain/records.js';
import { openStore } from '../../src/store/open-store.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';

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
