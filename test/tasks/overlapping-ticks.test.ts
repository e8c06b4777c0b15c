import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, walkCounter, type PagedUpstream } from '../helpers/paged-upstream.js';
import type { SourceConnector } from '../../src/sources/connector.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { TaskRunner } from '../../src/tasks/runner.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { waitFor } from '../helpers/wait.js';

for (const engine of ENGINES) {
  describe(`wake() during a tick, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let upstream: PagedUpstream;
    let store: Store;
    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      upstream = await startPagedUpstream(300, 100);
    });
    afterAll(async () => {
      await store?.close();
      await upstream?.close();
      await db?.drop();
    });

    it('never runs more than TASK_MAX_CONCURRENT tasks at once', async () => {
      const walks = walkCounter();
      const connectors = new Map<string, SourceConnector>();
      for (let i = 0; i < 6; i++) connectors.set(`s${i}`, walks.wrap(pagedConnector(`s${i}`, upstream)));
      const tasks = new TaskStore(store);
      // A database a few ms away (PostgreSQL over a network): each claim round trip takes 5 ms.
      const claim = tasks.claim.bind(tasks);
      let inClaim = 0;
      let maxInClaim = 0;
      tasks.claim = async (...args: Parameters<TaskStore['claim']>) => {
        inClaim++;
        maxInClaim = Math.max(maxInClaim, inClaim);
        try {
          await new Promise((r) => setTimeout(r, 5));
          return await claim(...args);
        } finally {
          inClaim--;
        }
      };
      for (const s of connectors.keys()) await tasks.enqueue(s, { full: true, trigger: 'api' });
      const runner = new TaskRunner(
        store,
        tasks,
        connectors,
        { owner: 'p1', leaseMs: 5_000, heartbeatMs: 200, pollMs: 1_000, maxConcurrent: 1, maxAttempts: 5 },
        pino({ level: 'silent' }),
      );
      runner.start();
      // What POST /sync/<other source> and every finishing task do: wake the runner.
      const waker = setInterval(() => runner.wake(), 1);
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(waker);
      // However many ticks the wakes caused, the one source has at most one running task.
      expect((await tasks.list(['running'], 100)).length).toBeLessThanOrEqual(1);
      await runner.stop();
      await waitFor(async () => ((await tasks.list(['running'], 100)).length === 0 ? true : undefined), 'no running rows', 10_000);
      expect(walks.maxActive).toBeLessThanOrEqual(1);
    }, 30_000);

    it('runner.stop() leaves no task running after it returns', async () => {
      const walks = walkCounter();
      const connectors = new Map<string, SourceConnector>();
      for (let i = 0; i < 20; i++) connectors.set(`t${i}`, walks.wrap(pagedConnector(`t${i}`, upstream)));
      const tasks = new TaskStore(store);
      const claim = tasks.claim.bind(tasks);
      tasks.claim = async (...args: Parameters<TaskStore['claim']>) => {
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 10)); // a database a few ms away, with jitter
        return claim(...args);
      };
      for (const s of connectors.keys()) await tasks.enqueue(s, { full: true, trigger: 'api' });
      const runner = new TaskRunner(
        store,
        tasks,
        connectors,
        { owner: 'p2', leaseMs: 5_000, heartbeatMs: 200, pollMs: 1_000, maxConcurrent: 20, maxAttempts: 5 },
        pino({ level: 'silent' }),
      );
      runner.start();
      const waker = setInterval(() => runner.wake(), 1);
      await new Promise((r) => setTimeout(r, 12));
      await runner.stop(); // SIGTERM
      clearInterval(waker);
      await new Promise((r) => setTimeout(r, 150));
      const running = await tasks.list(['running'], 100);
      expect(running.length).toBe(0);
      expect(walks.active).toBe(0);
    }, 30_000);
  });
}
