import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

for (const engine of ENGINES) {
  describe(`task store on ${engine.name}`, () => {
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

    it('allows one active task per source, even when triggered concurrently', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => tasks.enqueue('race', { full: false, trigger: 'api' })));
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      const id = created[0]?.created ? created[0].task.id : '';
      for (const r of results) if (!r.created) expect(r.active.id).toBe(id);
      const rows = await store.db.selectFrom('tasks').select('id').where('source', '=', 'race').execute();
      expect(rows).toHaveLength(1);
    });

    it('two claimers never take the same task', async () => {
      for (const s of ['c1', 'c2', 'c3', 'c4']) await tasks.enqueue(s, { full: false, trigger: 'api' });
      const otherStore = await openStore(db.config);
      const other = new TaskStore(otherStore);
      const claims = await Promise.all([
        tasks.claim('p1', 10_000),
        other.claim('p2', 10_000),
        tasks.claim('p1', 10_000),
        other.claim('p2', 10_000),
        tasks.claim('p1', 10_000),
      ]);
      const ids = claims.filter((c) => c !== undefined).map((c) => c.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBeGreaterThanOrEqual(4);
      await otherStore.close();
    });

    it('a new task for a source can be queued once the last one finished', async () => {
      const first = await tasks.enqueue('again', { full: false, trigger: 'api' });
      expect(first.created).toBe(true);
      const claimed = await tasks.claim('owner', 10_000);
      expect(claimed).toBeDefined();
      // Finish whatever was claimed; 'again' may not be first in line, so finish them all.
      let c = claimed;
      while (c) {
        await tasks.finish(c.id, 'owner', 'succeeded', null);
        c = await tasks.claim('owner', 10_000);
      }
      expect((await tasks.enqueue('again', { full: false, trigger: 'api' })).created).toBe(true);
    });

    it('heartbeats extend the lease and carry the cancel flag; an expired lease is reaped', async () => {
      const { task } = (await tasks.enqueue('lease', { full: false, trigger: 'api' })) as { created: true; task: { id: string } };
      let claimed = await tasks.claim('mortal', 50);
      while (claimed && claimed.id !== task.id) {
        await tasks.finish(claimed.id, 'mortal', 'succeeded', null);
        claimed = await tasks.claim('mortal', 50);
      }
      expect(claimed?.id).toBe(task.id);
      expect(await tasks.heartbeat(task.id, 'mortal', 50)).toEqual({ cancelRequested: false });
      expect(await tasks.heartbeat(task.id, 'someone-else', 50)).toBeUndefined();
      await new Promise((r) => setTimeout(r, 80));
      expect(await tasks.reapExpired(5)).toBe(1);
      const after = await tasks.get(task.id);
      expect(after?.status).toBe('queued');
      expect(after?.lease_owner).toBeNull();
      // The dead owner can no longer write to it.
      expect(await tasks.finish(task.id, 'mortal', 'succeeded', null)).toBe(false);
      const reclaimed = await tasks.claim('heir', 10_000);
      expect(reclaimed?.id).toBe(task.id);
      expect(reclaimed?.attempts).toBe(2);
      expect(await tasks.requestCancel(task.id)).toBe('requested');
      // A running task only gets the flag: its runner ends it.
      expect(await tasks.get(task.id)).toMatchObject({ status: 'running', cancel_requested: 1, finished_at: null });
      expect(await tasks.heartbeat(task.id, 'heir', 10_000)).toEqual({ cancelRequested: true });
      expect(await tasks.finish(task.id, 'heir', 'cancelled', null)).toBe(true);
      expect(await tasks.requestCancel(task.id)).toBe('finished');
      expect(await tasks.requestCancel('no-such-task')).toBe('unknown');
    });

    it('TASK_MAX_ATTEMPTS counts lease losses (crashes), not the claims after a park or a shutdown', async () => {
      const { task } = (await tasks.enqueue('long-load', { full: true, trigger: 'api' })) as { created: true; task: { id: string } };
      const claimIt = async (leaseMs: number) => {
        let c = await tasks.claim('x', leaseMs);
        while (c && c.id !== task.id) {
          await tasks.finish(c.id, 'x', 'succeeded', null);
          c = await tasks.claim('x', leaseMs);
        }
        expect(c?.id).toBe(task.id);
      };
      // Parked six times (a daily rate limit over a long first load), or put back by deploys.
      for (let i = 0; i < 6; i++) {
        await claimIt(10_000);
        expect(await tasks.requeue(task.id, 'x', Date.now(), 'parked')).toBe('queued');
      }
      const crash = async () => {
        await claimIt(30);
        await new Promise((r) => setTimeout(r, 60));
        expect(await tasks.reapExpired(5)).toBe(1);
        return tasks.get(task.id);
      };
      // Four crashes: taken back each time, though it was claimed ten times.
      for (let i = 1; i <= 4; i++) expect(await crash()).toMatchObject({ status: 'queued', lease_losses: i });
      // The fifth fails it: a task that keeps killing its process must not loop for ever.
      expect(await crash()).toMatchObject({ status: 'failed', lease_losses: 5, attempts: 11 });
    });

    it('a queued task is cancelled at once; a parked task is not claimed before its time', async () => {
      const q = (await tasks.enqueue('cq', { full: false, trigger: 'api' })) as { created: true; task: { id: string } };
      expect(await tasks.requestCancel(q.task.id, 1_234)).toBe('cancelled');
      expect(await tasks.get(q.task.id)).toMatchObject({ status: 'cancelled', cancel_requested: 1, finished_at: 1_234, error: 'cancelled before it started' });

      const p = (await tasks.enqueue('parked', { full: false, trigger: 'api' })) as { created: true; task: { id: string } };
      let c = await tasks.claim('x', 10_000);
      while (c && c.id !== p.task.id) {
        await tasks.finish(c.id, 'x', 'succeeded', null);
        c = await tasks.claim('x', 10_000);
      }
      expect(await tasks.requeue(p.task.id, 'x', Date.now() + 60_000, 'parked')).toBe('queued');
      expect(await tasks.claim('x', 10_000)).toBeUndefined();
      expect((await tasks.claim('x', 10_000, Date.now() + 61_000))?.id).toBe(p.task.id);
    });
  });
}
