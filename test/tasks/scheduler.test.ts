import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { type TaskRunner } from '../../src/tasks/runner.js';
import { SyncScheduler } from '../../src/tasks/scheduler.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { startApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, type PagedUpstream, startPagedUpstream } from '../helpers/paged-upstream.js';

interface TaskJson {
  task_id: string;
  status: string;
  trigger: string;
}

for (const engine of ENGINES) {
  describe(`sync schedules on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let upstream: PagedUpstream;

    beforeAll(async () => {
      db = await engine.create();
      upstream = await startPagedUpstream(300);
    });
    afterAll(async () => {
      await upstream?.close();
      await db?.drop();
    });

    it('without a schedule no sync starts on its own', async () => {
      const t = await startApp(db, { TASK_POLL: '50ms' }, { connectors: new Map([['items', pagedConnector('items', upstream)]]) });
      await new Promise((r) => setTimeout(r, 600));
      const all = (await t.app.inject('/tasks?status=all')).json().items as TaskJson[];
      expect(all).toHaveLength(0);
      expect(upstream.log).toHaveLength(0);
      await t.close();
    });

    it('SYNC_INTERVAL_<SOURCE> runs the source repeatedly through the task system', async () => {
      const t = await startApp(
        db,
        { TASK_POLL: '50ms', TASK_HEARTBEAT: '100ms', SYNC_INTERVAL_ITEMS: '400ms' },
        { connectors: new Map([['items', pagedConnector('items', upstream)]]) },
      );
      const deadline = Date.now() + 15_000;
      let done: TaskJson[] = [];
      while (Date.now() < deadline) {
        done = ((await t.app.inject('/tasks?status=succeeded')).json().items as TaskJson[]).filter((x) => x.trigger === 'schedule');
        if (done.length >= 2) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(done.length).toBeGreaterThanOrEqual(2);
      // The second scheduled run found nothing new past the checkpoint, so the data is exact.
      expect((await t.app.inject('/data?source=items&limit=1')).json().total).toBe(300);
      await t.close();
    });

    it('an interval naming no source stops the start', async () => {
      await expect(startApp(db, { SYNC_INTERVAL_NOPE: '1m' }, { connectors: new Map() })).rejects.toThrow(/SYNC_INTERVAL_NOPE/);
    });
  });
}

describe('queued only when due', () => {
  /**
   * A schedule decides "due" and queues in one statement. Decided first and
   * queued after (two statements), two checks that overlap (two processes, or
   * one slow check) could both find the source due; if the first run ended
   * before the second check queued, the one-active index let a second run in.
   */
  for (const engine of ENGINES) {
    describe(`a scheduled sync is queued only when due, on ${engine.name}`, () => {
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

      it('queues once per interval, even after the first run has already ended', async () => {
        const interval = 60_000;
        const t0 = 1_800_000_000_000;
        const first = await tasks.enqueueIfDue('items', interval, t0);
        expect(first).toMatchObject({ source: 'items', status: 'queued', trigger: 'schedule' });
        // Active: a second check queues nothing.
        expect(await tasks.enqueueIfDue('items', interval, t0 + 10)).toBeUndefined();
        // The run ends quickly; a check that was already under way must still queue nothing in this interval.
        await store.db
          .updateTable('tasks')
          .set({ status: 'succeeded', finished_at: t0 + 20 })
          .where('id', '=', first!.id)
          .execute();
        expect(await tasks.enqueueIfDue('items', interval, t0 + 30)).toBeUndefined();
        expect((await tasks.list('all', 10)).filter((t) => t.source === 'items')).toHaveLength(1);
        // The next interval queues again.
        const next = await tasks.enqueueIfDue('items', interval, t0 + interval + 1);
        expect(next?.id).toBeDefined();
        expect(next?.id).not.toBe(first!.id);
      });

      it('stop() waits for a check under way, so nothing is queued after it returns (the store closes next)', async () => {
        const slow = new TaskStore(store);
        const enqueue = slow.enqueueIfDue.bind(slow);
        let settled = false;
        slow.enqueueIfDue = async (...args: Parameters<TaskStore['enqueueIfDue']>) => {
          await new Promise((r) => setTimeout(r, 200)); // a database a little way off
          const task = await enqueue(...args);
          settled = true;
          return task;
        };
        const runner = { wake: () => {} } as unknown as TaskRunner;
        const scheduler = new SyncScheduler({ stopping: 60_000 }, slow, runner, pino({ level: 'silent' }));
        scheduler.start();
        await scheduler.stop();
        expect(settled).toBe(true);
      });

      it('two checks at once queue one task', async () => {
        const interval = 60_000;
        const at = 1_900_000_000_000;
        const both = await Promise.all([tasks.enqueueIfDue('other', interval, at), tasks.enqueueIfDue('other', interval, at)]);
        expect(both.filter((t) => t !== undefined)).toHaveLength(1);
      });
    });
  }
});
