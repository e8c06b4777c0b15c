import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, type PagedUpstream } from '../helpers/paged-upstream.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { waitFor } from '../helpers/wait.js';

const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '1s' };

for (const engine of ENGINES) {
  describe(`task runner on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let upstream: PagedUpstream;
    let t: TestApp | undefined;

    const taskStatus = async (id: string) =>
      (await t?.app.inject(`/tasks/${id}`))?.json() as {
        status: string;
        progress: { pages: number; records_fetched: number; records_written: number };
        error: string | null;
      };
    const until = (id: string, statuses: string[]) =>
      waitFor(
        async () => {
          const s = await taskStatus(id);
          return statuses.includes(s.status) ? s : undefined;
        },
        `task ${id} to reach ${statuses.join('/')}`,
      );

    beforeAll(async () => {
      db = await engine.create();
      upstream = await startPagedUpstream(1_000);
    });
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });
    afterAll(async () => {
      await upstream?.close();
      await db?.drop();
    });

    const boot = async (latencyMs = 0) => {
      upstream.latencyMs = latencyMs;
      t = await startApp(db, FAST_TASKS, { connectors: new Map([['items', pagedConnector('items', upstream)]]) });
      return t;
    };

    it('runs a sync to the end: 202, progress, every record once, then a 409-free second run', async () => {
      const { app } = await boot();
      const res = await app.inject({ method: 'POST', url: '/sync/items' });
      expect(res.statusCode).toBe(202);
      const id = res.json().task_id as string;
      const done = await until(id, ['succeeded', 'failed']);
      expect(done.status).toBe('succeeded');
      expect(done.progress).toMatchObject({ pages: 10, records_fetched: 1000, records_written: 1000, total_estimate: 1000, percent: 100 });
      const count = await app.inject('/data?source=items&limit=1');
      expect(count.json().total).toBe(1000);
      // GET is accepted too (seed-compatible); the next run starts at the saved checkpoint.
      const again = await app.inject({ method: 'GET', url: '/sync/items' });
      expect(again.statusCode).toBe(202);
      expect((await until(again.json().task_id, ['succeeded'])).progress.records_written).toBe(0);
    });

    it('a second trigger while one is active answers 409 with the active task id', async () => {
      const { app } = await boot(200);
      const first = await app.inject({ method: 'POST', url: '/sync/items?full=true' });
      const second = await app.inject({ method: 'POST', url: '/sync/items' });
      expect(second.statusCode).toBe(409);
      expect(second.json().task_id).toBe(first.json().task_id);
      const listed = (await app.inject('/tasks')).json().items as Array<{ task_id: string }>;
      expect(listed.map((x) => x.task_id)).toContain(first.json().task_id);
      await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: first.json().task_id } });
    });

    it('unknown source 404, unknown task 404, finished task cancel 409', async () => {
      const { app } = await boot();
      expect((await app.inject({ method: 'POST', url: '/sync/nope' })).statusCode).toBe(404);
      expect((await app.inject('/tasks/nope')).statusCode).toBe(404);
      expect((await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: 'nope' } })).statusCode).toBe(404);
      const all = (await app.inject('/tasks?status=succeeded')).json().items as Array<{ task_id: string }>;
      expect(all.length).toBeGreaterThan(0);
      const res = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: all[0]?.task_id } });
      expect(res.statusCode).toBe(409);
      expect((await app.inject('/tasks?status=bogus')).statusCode).toBe(422);
    });

    it('cancel stops a running sync within 2 s, no request follows, and the next run resumes from the checkpoint', async () => {
      const { app } = await boot(100);
      const start = await app.inject({ method: 'POST', url: '/sync/items?full=true' });
      const id = start.json().task_id as string;
      await waitFor(async () => ((await taskStatus(id)).progress.pages >= 2 ? true : undefined), 'two pages');
      const requestedAt = Date.now();
      const cancel = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: id } });
      const stoppedAt = Date.now();
      expect(cancel.statusCode).toBe(200);
      expect(cancel.json().status).toBe('cancelled');
      expect(stoppedAt - requestedAt).toBeLessThan(2_000);
      const pagesDone = cancel.json().progress.pages as number;
      expect(pagesDone).toBeLessThan(10);
      const requestsAtCancel = upstream.log.length;
      await new Promise((r) => setTimeout(r, 400));
      expect(upstream.log.length).toBe(requestsAtCancel);
      expect(upstream.log.filter((l) => l.at > stoppedAt)).toHaveLength(0);

      // Resume: fewer requests than a full sync, and the data is complete.
      const before = upstream.log.length;
      upstream.latencyMs = 0;
      const resume = await app.inject({ method: 'POST', url: '/sync/items' });
      expect((await until(resume.json().task_id, ['succeeded'])).status).toBe('succeeded');
      const resumedRequests = upstream.log.length - before;
      expect(resumedRequests).toBeLessThan(10);
      expect(upstream.log[before]?.after).toBe(pagesDone * 100);
      expect((await app.inject('/data?source=items&limit=1')).json().total).toBe(1000);
    });

    it('a task whose process died (lease not renewed) is recovered and finished by another', async () => {
      t = await startApp(db, FAST_TASKS, { connectors: new Map([['items', pagedConnector('items', upstream)]]), runTasks: false });
      const tasks = new TaskStore(t.store);
      const q = await tasks.enqueue('items', { full: true, trigger: 'api' });
      const id = q.created ? q.task.id : q.active.id;
      const ghost = await tasks.claim('ghost-process', 200);
      expect(ghost?.id).toBe(id);
      await t.close();
      // A new process on the same database: reaps the expired lease and runs the task.
      await boot();
      const done = await until(id, ['succeeded', 'failed']);
      expect(done.status).toBe('succeeded');
      expect((await taskStatus(id)) as unknown as { attempts: number }).toMatchObject({ attempts: 2 });
    });

    it('shutdown interrupts a running sync and puts it back in the queue', async () => {
      const { app } = await boot(150);
      const start = await app.inject({ method: 'POST', url: '/sync/items?full=true' });
      const id = start.json().task_id as string;
      await waitFor(async () => ((await taskStatus(id)).progress.pages >= 1 ? true : undefined), 'a page');
      await t?.close();
      t = await startApp(db, FAST_TASKS, { connectors: new Map([['items', pagedConnector('items', upstream)]]), runTasks: false });
      const row = await new TaskStore(t.store).get(id);
      expect(row?.status).toBe('queued');
      expect(row?.error).toMatch(/shutdown/);
    });
  });
}
