import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeHubspot, startFakeHubspot } from '../../src/providers/fakes.js';
import { type SourceConnector } from '../../src/sources/connector.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { TaskRunner } from '../../src/tasks/runner.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, type PagedUpstream, startPagedUpstream, walkCounter } from '../helpers/paged-upstream.js';
import { usePagedApp } from '../helpers/paged-app.js';
import { waitFor } from '../helpers/wait.js';
import { getTask, hubspotConnector, startSync } from '../helpers/sync.js';

const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '1s' };

for (const engine of ENGINES) {
  describe(`task runner on ${engine.name}`, () => {
    const fx = usePagedApp(engine, { total: 1_000, env: FAST_TASKS });

    const taskStatus = async (id: string) =>
      (await fx.t.app.inject(`/tasks/${id}`)).json() as {
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

    const boot = (latencyMs = 0) => fx.boot({ latencyMs });

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
      const requestsAtCancel = fx.upstream.log.length;
      await new Promise((r) => setTimeout(r, 400));
      expect(fx.upstream.log.length).toBe(requestsAtCancel);
      expect(fx.upstream.log.filter((l) => l.at > stoppedAt)).toHaveLength(0);

      // Resume: fewer requests than a full sync, and the data is complete.
      const before = fx.upstream.log.length;
      fx.upstream.latencyMs = 0;
      const resume = await app.inject({ method: 'POST', url: '/sync/items' });
      expect((await until(resume.json().task_id, ['succeeded'])).status).toBe('succeeded');
      const resumedRequests = fx.upstream.log.length - before;
      expect(resumedRequests).toBeLessThan(10);
      expect(fx.upstream.log[before]?.after).toBe(pagesDone * 100);
      expect((await app.inject('/data?source=items&limit=1')).json().total).toBe(1000);
    });

    it('a task whose process died (lease not renewed) is recovered and finished by another', async () => {
      const t = await fx.boot({ runTasks: false });
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
      await fx.t.close();
      const after = await fx.boot({ runTasks: false });
      const row = await new TaskStore(after.store).get(id);
      expect(row?.status).toBe('queued');
      expect(row?.error).toMatch(/shutdown/);
    });
  });
}

describe('wake() during a tick', () => {
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
});

describe('a lease lapsing under its own process', () => {
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
});

describe('cancel, then a shutdown requeue', () => {
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
});

/**
 * A cancel requested from another process (its flag reaches the owner with
 * the next heartbeat) that lands just before the running sync hits HubSpot's
 * DAILY 429: the park must end the task as cancelled, not put it back in the
 * queue until the next full hour (holding the source's one active slot, so
 * every new sync of it was a 409 meanwhile).
 */
describe('cancel, then a DAILY 429 park', () => {
  const CONTACTS = '/crm/v3/objects/contacts';
  // A slow heartbeat: the flag set by "another process" is not yet read when the 429 comes.
  const ENV = { TASK_HEARTBEAT: '20s', TASK_LEASE: '60s', TASK_POLL: '50ms' };

  for (const engine of ENGINES) {
    describe(`cancel, then a DAILY 429 park, on ${engine.name}`, () => {
      let db: ScratchDatabase;
      let hs: FakeHubspot | undefined;
      let t: TestApp | undefined;
      beforeAll(async () => {
        db = await engine.create();
      });
      afterEach(async () => {
        await t?.close();
        await hs?.close();
        t = undefined;
        hs = undefined;
      });
      afterAll(async () => {
        await db?.drop();
      });

      it('a task whose cancel was requested ends cancelled, not parked for an hour', async () => {
        hs = await startFakeHubspot({ contacts: 2_000, latencyMs: 100 });
        t = await startApp(db, ENV, { connectors: new Map([['crm', hubspotConnector(hs)]]) });
        const { app } = t;
        const id = await startSync(app, 'crm');
        await waitFor(async () => ((await getTask(app, id)).progress.pages >= 1 ? true : undefined), 'a committed page');

        const other = new TaskStore(t.store); // stands for another process sharing the database
        expect(await other.requestCancel(id)).toBe('requested');
        hs.faults.rateLimit({ policyName: 'DAILY', times: Infinity, pathPrefix: CONTACTS });

        const ended = await waitFor(async () => {
          const task = await getTask(app, id);
          return task.status !== 'running' ? task : undefined;
        }, 'the task to stop running');
        expect({ status: ended.status, error: ended.error, run_after: ended.run_after }).toMatchObject({ status: 'cancelled', error: 'cancelled by request' });
        const again = await app.inject({ method: 'POST', url: '/sync/crm' });
        expect(again.statusCode, again.body).toBe(202);
      });
    });
  }
});
