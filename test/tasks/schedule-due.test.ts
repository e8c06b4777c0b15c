import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { openStore, type Store } from '../../src/store/open-store.js';
import type { TaskRunner } from '../../src/tasks/runner.js';
import { SyncScheduler } from '../../src/tasks/scheduler.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

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
