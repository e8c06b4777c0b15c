/**
 * A cancel requested from another process (its flag reaches the owner with
 * the next heartbeat) that lands just before the running sync hits HubSpot's
 * DAILY 429: the park must end the task as cancelled, not put it back in the
 * queue until the next full hour (holding the source's one active slot, so
 * every new sync of it was a 409 meanwhile).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/providers/fakes.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';
import { getTask, hubspotConnector, startSync } from '../sync/sync-helpers.js';

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
