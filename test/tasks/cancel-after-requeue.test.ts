import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, type PagedUpstream } from '../helpers/paged-upstream.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { waitFor } from '../helpers/wait.js';

// Heartbeat slower than the test, so a cancel flag set by "another process" is not yet seen
// when this process shuts down (any cancel arriving less than one heartbeat before SIGTERM).
const ENV = { TASK_HEARTBEAT: '5s', TASK_POLL: '50ms', TASK_LEASE: '15s' };

for (const engine of ENGINES) {
  describe(`cancel requested, then shutdown requeue, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let upstream: PagedUpstream;
    let t: TestApp | undefined;
    beforeAll(async () => {
      db = await engine.create();
      upstream = await startPagedUpstream(1_000, 150);
    });
    afterAll(async () => {
      await t?.close();
      await upstream?.close();
      await db?.drop();
    });

    it('a task whose cancel was requested ends cancelled, not failed', async () => {
      const connectors = () => new Map([['items', pagedConnector('items', upstream)]]);
      t = await startApp(db, ENV, { connectors: connectors() });
      const start = await t.app.inject({ method: 'POST', url: '/sync/items?full=true' });
      const id = start.json().task_id as string;
      const other = new TaskStore(t.store); // stands for another process sharing the database
      await waitFor(async () => ((await other.get(id))?.pages ?? 0) >= 1 || undefined, 'a page');
      expect(await other.requestCancel(id)).toBe('requested');
      await t.close(); // SIGTERM before the next heartbeat
      t = undefined;

      t = await startApp(db, ENV, { connectors: connectors() });
      const store = new TaskStore(t.store);
      const row = await waitFor(
        async () => {
          const r = await store.get(id);
          return r && !['queued', 'running'].includes(r.status) ? r : undefined;
        },
        'the task to end',
        10_000,
      );
      expect(row.status).toBe('cancelled');
    }, 30_000);
  });
}
