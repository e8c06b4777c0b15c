import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

for (const engine of ENGINES) {
  describe(`requeue after a store fault on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let store: Store;
    let tasks: TaskStore;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      tasks = new TaskStore(store);
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    /** Queues a task of `source` and claims it as `owner`, now. */
    const running = async (source: string, owner: string, now: number) => {
      await tasks.enqueue(source, { full: false, trigger: 'api', now });
      const task = await tasks.claim(owner, 10_000, now);
      if (!task || task.source !== source) throw new Error(`claimed ${task?.source ?? 'nothing'} instead of ${source}`);
      return task;
    };

    it('each fault counts one attempt and waits until run_after; the last allowed one fails the task', async () => {
      const t0 = Date.now() - 60_000;
      const task = await running('fault-count', 'p1', t0);
      const fault = { runAfter: t0 + 10_000, maxAttempts: 2, error: 'the store refused a page commit 6 times (connection lost)' };
      expect(await tasks.requeueAfterStoreFault(task.id, 'p1', fault, t0)).toBe('queued');
      expect(await tasks.get(task.id)).toMatchObject({
        status: 'queued',
        lease_losses: 1,
        run_after: t0 + 10_000,
        lease_owner: null,
        finished_at: null,
        error: 'requeued: the store refused a page commit 6 times (connection lost)',
      });
      // Not claimable before run_after.
      expect(await tasks.claim('p2', 10_000, t0 + 5_000)).toBeUndefined();
      const again = await tasks.claim('p2', 10_000, t0 + 10_000);
      expect(again).toMatchObject({ id: task.id, attempts: 2 });
      expect(await tasks.requeueAfterStoreFault(task.id, 'p2', { ...fault, runAfter: t0 + 20_000 }, t0 + 11_000)).toBe('failed');
      expect(await tasks.get(task.id)).toMatchObject({ status: 'failed', lease_losses: 2, finished_at: t0 + 11_000, error: fault.error });
    });

    it('a task cancelled meanwhile ends cancelled; one owned by another process is left alone', async () => {
      const now = Date.now();
      const task = await running('fault-cancel', 'p1', now);
      expect(await tasks.requeueAfterStoreFault(task.id, 'someone-else', { runAfter: now, maxAttempts: 5, error: 'x' }, now)).toBeNull();
      expect(await tasks.requestCancel(task.id, now)).toBe('requested');
      expect(await tasks.requeueAfterStoreFault(task.id, 'p1', { runAfter: now + 10_000, maxAttempts: 5, error: 'x' }, now)).toBe('cancelled');
      expect(await tasks.get(task.id)).toMatchObject({ status: 'cancelled', error: 'cancelled by request', finished_at: now });
    });
  });
}
