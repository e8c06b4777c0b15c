import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { TaskRunner, type RunnerOptions } from '../../src/tasks/runner.js';
import { TaskStore, type TaskRow } from '../../src/tasks/task-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, type PagedUpstream } from '../helpers/paged-upstream.js';
import { waitFor } from '../helpers/wait.js';
import { recordWriteFault, type RecordWriteFault } from './store-faults.js';

const TOTAL = 1_000;

interface LogLine {
  msg: string;
  level: number;
  [k: string]: unknown;
}

for (const engine of ENGINES) {
  describe(`a store fault during a sync on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let upstream: PagedUpstream;
    let store: Store;
    let tasks: TaskStore;
    let fault: RecordWriteFault;
    let runner: TaskRunner | undefined;
    let lines: LogLine[];
    let source: string;
    let n = 0;

    beforeAll(async () => {
      db = await engine.create();
      store = await openStore(db.config);
      tasks = new TaskStore(store);
      fault = await recordWriteFault(db, store);
      upstream = await startPagedUpstream(TOTAL, 20);
    });
    afterEach(async () => {
      await runner?.stop();
      runner = undefined;
      await fault.off();
    });
    afterAll(async () => {
      await fault?.close();
      await upstream?.close();
      await store?.close();
      await db?.drop();
    });

    /** A runner on a fresh source (each test its own records), logging into `lines`. */
    const start = async (options: Partial<RunnerOptions> = {}): Promise<TaskRow> => {
      source = `items${++n}`;
      lines = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as LogLine);
          done();
        },
      });
      runner = new TaskRunner(
        store,
        tasks,
        new Map([[source, pagedConnector(source, upstream)]]),
        { owner: 'faults', leaseMs: 5_000, heartbeatMs: 200, pollMs: 100, maxConcurrent: 1, maxAttempts: 3, ...options },
        pino({ level: 'debug' }, sink),
      );
      const queued = await tasks.enqueue(source, { full: true, trigger: 'api' });
      if (!queued.created) throw new Error('a task was already active');
      runner.start();
      return queued.task;
    };
    const task = async (id: string) => (await tasks.get(id)) as TaskRow;
    const untilPages = (id: string, pages: number) => waitFor(async () => ((await task(id)).pages >= pages ? true : undefined), `${pages} pages`);
    const untilStatus = (id: string, statuses: string[]) =>
      waitFor(
        async () => {
          const t = await task(id);
          return statuses.includes(t.status) ? t : undefined;
        },
        `task ${id} to reach ${statuses.join('/')}`,
      );
    const stored = async () =>
      Number(
        (
          await store.db
            .selectFrom('records')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('source', '=', source)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const pageRetries = () => lines.filter((l) => l.msg.startsWith('store refused a page commit')).length;

    it('a fault of a second mid-sync: the page is retried, the sync succeeds with every record, no requeue', async () => {
      const t = await start();
      await untilPages(t.id, 2);
      await fault.on();
      await waitFor(async () => (pageRetries() >= 1 ? true : undefined), 'a page retry');
      await new Promise((r) => setTimeout(r, 300));
      await fault.off();
      const done = await untilStatus(t.id, ['succeeded', 'failed', 'queued']);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(done.attempts).toBe(1);
      expect(done.records_written).toBe(TOTAL);
      expect(await stored()).toBe(TOTAL);
      expect(lines.some((l) => l.msg === 'page committed after the store came back')).toBe(true);
    });

    it('a fault lasting past the retries requeues the task, which resumes from its checkpoint once the store is back', async () => {
      const t = await start({ pageRetryDelaysMs: [20, 20], storeFaultRequeueMs: 300 });
      await untilPages(t.id, 2);
      await fault.on();
      const requeued = await untilStatus(t.id, ['queued', 'failed', 'succeeded']);
      expect(requeued.status).toBe('queued');
      expect(requeued.lease_losses).toBe(1);
      expect(requeued.error).toMatch(/^requeued: the store refused a page commit 3 times/);
      // Not claimable before its wait is over.
      expect(requeued.run_after).toBeGreaterThan(Date.now() - 300);
      const pagesBefore = requeued.pages;
      const mark = Date.now();
      await fault.off();
      const done = await untilStatus(t.id, ['succeeded', 'failed']);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(done.attempts).toBe(2);
      expect(await stored()).toBe(TOTAL);
      // Resumed from its checkpoint: the second claim asked upstream only for the pages not yet committed.
      expect(pagesBefore).toBeGreaterThanOrEqual(2);
      const resumed = upstream.log.filter((l) => l.at >= mark);
      expect(resumed.length).toBeGreaterThan(0);
      expect(resumed.every((l) => l.after >= pagesBefore * 100)).toBe(true);
    });

    it('a fault that never passes fails the task only once TASK_MAX_ATTEMPTS attempts are spent; committed pages stay', async () => {
      const t = await start({ pageRetryDelaysMs: [10], storeFaultRequeueMs: 50, maxAttempts: 3 });
      await untilPages(t.id, 2);
      await fault.on();
      const seen = new Set<string>();
      const done = await waitFor(async () => {
        const row = await task(t.id);
        seen.add(row.status);
        return row.status === 'failed' || row.status === 'succeeded' ? row : undefined;
      }, 'the task to end');
      expect(done.status).toBe('failed');
      expect(seen.has('queued')).toBe(true);
      expect(done.attempts).toBe(3);
      expect(done.lease_losses).toBe(3);
      expect(done.error).toMatch(/^the store refused a page commit 2 times/);
      expect(await stored()).toBe(done.pages * 100);
      expect(lines.filter((l) => l.msg === 'store kept refusing a page; sync requeued')).toHaveLength(2);
    });

    if (engine.name === 'postgres') {
      it("pg_terminate_backend of the service's backend inside a page commit: the page is retried and nothing is lost", async () => {
        const t = await start();
        await untilPages(t.id, 2);
        // Each record insert now sleeps, so the commit is found in flight and its backend terminated.
        await fault.slow(0.5);
        const killed = await waitFor(async () => {
          const k = await fault.terminateSleeping();
          return k > 0 ? k : undefined;
        }, 'a backend inside a page commit');
        expect(killed).toBeGreaterThan(0);
        await fault.off();
        const done = await untilStatus(t.id, ['succeeded', 'failed']);
        expect(done.status, done.error ?? '').toBe('succeeded');
        expect(done.attempts).toBe(1);
        expect(done.records_written).toBe(TOTAL);
        expect(await stored()).toBe(TOTAL);
        expect(pageRetries()).toBeGreaterThanOrEqual(1);
      });
    }
  });
}
