import { describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/databases.js';
import { usePagedApp } from '../helpers/paged-app.js';
import { FAST_TASKS, getTask, sleep, startSync, waitForTask } from '../helpers/sync.js';

/** A process built with runTasks false only queues syncs: a POST /sync does not start its runner. */
for (const engine of ENGINES) {
  describe(`an app that does not run tasks, on ${engine.name}`, () => {
    const fx = usePagedApp(engine, { total: 300, env: FAST_TASKS });

    it('leaves a sync it was asked for queued, with no request upstream, until a runner takes it', async () => {
      const queueOnly = await fx.boot({ runTasks: false });
      const id = await startSync(queueOnly.app, 'items');
      // Several task polls (100 ms) long: a woken runner would have claimed it by now.
      await sleep(600);
      expect((await getTask(queueOnly.app, id)).status).toBe('queued');
      expect(fx.upstream.log).toHaveLength(0);

      // The same database with a runner: the queued task runs.
      const runner = await fx.boot();
      expect((await waitForTask(runner.app, id)).status).toBe('succeeded');
      expect(fx.upstream.log.length).toBeGreaterThan(0);
    });
  });
}
