import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, walkCounter, type PagedUpstream } from '../helpers/paged-upstream.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { waitFor } from '../helpers/wait.js';

const ENV = { TASK_HEARTBEAT: '500ms', TASK_POLL: '50ms', TASK_LEASE: '5s' };

for (const engine of ENGINES) {
  describe(`lease lapses while its own process is still running it, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let upstream: PagedUpstream;
    let t: TestApp | undefined;
    beforeAll(async () => {
      db = await engine.create();
      upstream = await startPagedUpstream(2_000, 100);
    });
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });
    afterAll(async () => {
      await upstream?.close();
      await db?.drop();
    });

    it('the process that re-claims its own expired task does not run it twice at once', async () => {
      const walks = walkCounter();
      const counting = walks.wrap(pagedConnector('items', upstream));
      t = await startApp(db, ENV, { connectors: new Map([['items', counting]]) });
      const tasks = new TaskStore(t.store);
      const start = await t.app.inject({ method: 'POST', url: '/sync/items?full=true' });
      const id = start.json().task_id as string;
      await waitFor(async () => ((await tasks.get(id))?.pages ?? 0) >= 2 || undefined, 'two pages');
      // The lease lapses (a stall, GC pause, DB hiccup longer than TASK_LEASE): simulated by moving its expiry into the past.
      await waitFor(
        async () => {
          await t!.store.db.updateTable('tasks').set({ lease_expires_at: 1 }).where('id', '=', id).where('status', '=', 'running').execute();
          await new Promise((r) => setTimeout(r, 120));
          const row = await tasks.get(id);
          return row && row.attempts >= 2 ? row : undefined;
        },
        'the task to be re-claimed',
        10_000,
      );
      await new Promise((r) => setTimeout(r, 1_000)); // past the old run's next heartbeat
      const afterASecond = { active: walks.active, maxActive: walks.maxActive, status: (await tasks.get(id))?.status };
      await waitFor(async () => (['succeeded', 'failed', 'cancelled'].includes((await tasks.get(id))?.status ?? '') ? true : undefined), 'end', 20_000);
      // A lapsed lease may let the old run overlap the new one until it notices, but not for a whole second (two heartbeats).
      expect(afterASecond.active).toBeLessThanOrEqual(1);
    }, 40_000);

    it('and after such a re-claim, shutdown (stop) waits for every run of the task', async () => {
      const walks = walkCounter();
      const counting = walks.wrap(pagedConnector('items2', upstream));
      t = await startApp(db, ENV, { connectors: new Map([['items2', counting]]) });
      const tasks = new TaskStore(t.store);
      const id = (await t.app.inject({ method: 'POST', url: '/sync/items2?full=true' })).json().task_id as string;
      await waitFor(async () => ((await tasks.get(id))?.pages ?? 0) >= 2 || undefined, 'two pages');
      await waitFor(
        async () => {
          await t!.store.db.updateTable('tasks').set({ lease_expires_at: 1 }).where('id', '=', id).where('status', '=', 'running').execute();
          await new Promise((r) => setTimeout(r, 120));
          return ((await tasks.get(id))?.attempts ?? 0) >= 2 ? true : undefined;
        },
        'the task to be re-claimed',
        10_000,
      );
      await t.close(); // what SIGTERM does: app.close() (runner.stop()) then store.close()
      t = undefined;
      const stillWalking = walks.active;
      await new Promise((r) => setTimeout(r, 500));
      expect(stillWalking).toBe(0);
    }, 40_000);
  });
}
