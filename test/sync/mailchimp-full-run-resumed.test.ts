/**
 * Mailchimp deletions show only on a full run (the first, or ?full=true):
 * only a walk of every campaign can tell which stored ones are gone, and the
 * runner sweeps those it did not see. Such a walk counted as complete only
 * when it began at offset 0 in the same run, so a ?full=true run interrupted
 * by a shutdown, requeued and resumed at its saved offset ended "succeeded"
 * without looking for deletions: the deleted campaign stayed live. A resumed
 * walk of every campaign now starts over from the first.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { waitFor } from '../helpers/wait.js';
import { FAST_TASKS, mailchimpConnector } from '../sync/sync-helpers.js';
import { TaskStore } from '../../src/tasks/task-store.js';

let db: ScratchDatabase | undefined;
let mc: FakeMailchimp | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await mc?.close();
  mc = undefined;
});
afterAll(async () => db?.drop());

const boot = async () => {
  t = await startApp(db!, FAST_TASKS, { connectors: new Map([['marketing', mailchimpConnector(mc!)]]) });
  return t.app;
};
const task = async (id: string) => (await t!.app.inject(`/tasks/${id}`)).json() as { status: string; progress: { pages: number }; error: string | null };

it('a ?full=true run interrupted by a shutdown and resumed still tombstones a deleted campaign', async () => {
  db = await ENGINES[0]!.create();
  mc = await startFakeMailchimp({ campaigns: 3_500 });
  let app = await boot();
  const first = (await app.inject({ method: 'POST', url: '/sync/marketing' })).json().task_id as string;
  expect(await waitFor(async () => ((await task(first)).status === 'succeeded' ? true : undefined), 'the first run')).toBe(true);

  const gone = mc.state.idAt(3_200);
  mc.state.deleteCampaign(gone);

  // A full run, slowed so that the shutdown lands after its first page.
  mc.faults.setLatency(500);
  const full = (await app.inject({ method: 'POST', url: '/sync/marketing?full=true' })).json().task_id as string;
  await waitFor(async () => ((await task(full)).progress.pages >= 1 ? true : undefined), 'a committed page of the full run');
  await t!.close(); // SIGTERM: the running sync goes back to the queue
  t = undefined;
  mc.faults.setLatency(0);

  app = await boot(); // the restart resumes it
  const done = await waitFor(async () => {
    const v = await task(full);
    return v.status === 'succeeded' || v.status === 'failed' ? v : undefined;
  }, 'the resumed full run');
  expect(done.status, done.error ?? '').toBe('succeeded');
  const row = await new TaskStore(t!.store).get(full);
  expect(row?.attempts).toBe(2); // it really was interrupted and resumed

  const res = await app.inject(`/campaigns/${gone}`);
  expect(res.statusCode, 'the campaign Mailchimp deleted is still shown as live').toBe(404);
}, 90_000);
