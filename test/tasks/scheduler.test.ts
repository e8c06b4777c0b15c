import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { pagedConnector, startPagedUpstream, type PagedUpstream } from '../helpers/paged-upstream.js';

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
