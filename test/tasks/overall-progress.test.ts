import { describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app.js';
import { ENGINES } from '../helpers/databases.js';
import { usePagedApp } from '../helpers/paged-app.js';
import { getTask, startSync, waitForTask } from '../helpers/sync.js';
import { waitFor } from '../helpers/wait.js';

const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '3s' };

interface Overall {
  records_fetched: number;
  records_written: number;
  pages: number;
  runs: number;
}

const overallOf = async (t: TestApp, id: string) =>
  ((await t.app.inject(`/tasks/${id}`)).json() as { progress: { overall: Overall; pages: number; records_fetched: number; records_written: number } }).progress;

for (const engine of ENGINES) {
  describe(`progress.overall on ${engine.name}`, () => {
    const fx = usePagedApp(engine, { total: 1_000, env: FAST_TASKS });

    it('sums the cancelled runs a sync resumed from; a fresh or full run counts only itself', async () => {
      const t = await fx.boot();
      const app = t.app;

      // First run: cancelled after a few pages.
      fx.upstream.latencyMs = 80;
      const first = await startSync(app, 'items', '?full=true');
      await waitFor(async () => ((await getTask(app, first)).progress.pages >= 2 ? true : undefined), 'two pages of the first run');
      expect((await app.inject({ method: 'POST', url: `/tasks/${first}/cancel` })).statusCode).toBe(200);
      const cancelled = await overallOf(t, first);
      expect(cancelled.pages).toBeGreaterThanOrEqual(2);
      expect(cancelled.pages).toBeLessThan(10);
      expect(cancelled.overall).toEqual({
        records_fetched: cancelled.records_fetched,
        records_written: cancelled.records_written,
        pages: cancelled.pages,
        runs: 1,
      });

      // Second run: cancelled too, resuming from the first.
      const second = await startSync(app, 'items');
      await waitFor(async () => ((await getTask(app, second)).progress.pages >= 1 ? true : undefined), 'a page of the second run');
      const running = await overallOf(t, second);
      expect(running.overall.runs).toBe(2);
      expect(running.overall.pages).toBe(cancelled.pages + running.pages);
      expect((await app.inject({ method: 'POST', url: `/tasks/${second}/cancel` })).statusCode).toBe(200);
      const secondDone = await overallOf(t, second);

      // Third run: resumes and finishes; its own counters start at 0, overall covers the whole sync.
      fx.upstream.latencyMs = 0;
      const third = await startSync(app, 'items');
      expect((await waitForTask(app, third)).status).toBe('succeeded');
      const done = await overallOf(t, third);
      expect(done.records_fetched).toBe(1_000 - cancelled.records_fetched - secondDone.records_fetched);
      expect(done.overall).toEqual({ records_fetched: 1_000, records_written: 1_000, pages: 10, runs: 3 });

      // After a success, the next run starts afresh.
      const incremental = await startSync(app, 'items');
      expect((await waitForTask(app, incremental)).status).toBe('succeeded');
      const inc = await overallOf(t, incremental);
      expect(inc.overall).toEqual({ records_fetched: inc.records_fetched, records_written: inc.records_written, pages: inc.pages, runs: 1 });

      // A full run after a cancelled one does not resume it.
      fx.upstream.latencyMs = 80;
      const interrupted = await startSync(app, 'items', '?full=true');
      await waitFor(async () => ((await getTask(app, interrupted)).progress.pages >= 1 ? true : undefined), 'a page');
      await app.inject({ method: 'POST', url: `/tasks/${interrupted}/cancel` });
      fx.upstream.latencyMs = 0;
      const full = await startSync(app, 'items', '?full=true');
      expect((await waitForTask(app, full)).status).toBe('succeeded');
      expect((await overallOf(t, full)).overall).toEqual({ records_fetched: 1_000, records_written: 0, pages: 10, runs: 1 });

      // The task listing carries it too.
      const listed = (await app.inject('/tasks?status=all')).json() as { items: Array<{ task_id: string; progress: { overall: Overall } }> };
      expect(listed.items.find((i) => i.task_id === third)?.progress.overall.runs).toBe(3);
    });
  });
}
