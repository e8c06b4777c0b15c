import { describe, expect, it } from 'vitest';
import { expectProblem } from '../helpers/app.js';
import { ENGINES } from '../helpers/databases.js';
import { usePagedApp } from '../helpers/paged-app.js';
import { waitFor } from '../helpers/wait.js';

/** POST /tasks/{task_id}/cancel: the same answers as POST /tasks/cancel, with no body. */

const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '1s' };

interface TaskJson {
  task_id: string;
  status: string;
  progress: { pages: number };
}

/** A problem's body without the one field that names the request (instance). */
const withoutInstance = (body: string) => {
  const { instance: _instance, ...rest } = JSON.parse(body) as Record<string, unknown>;
  return rest;
};

for (const engine of ENGINES) {
  describe(`cancelling by path on ${engine.name}`, () => {
    const fx = usePagedApp(engine, { total: 2_000, env: FAST_TASKS });

    const boot = async (runTasks: boolean, latencyMs = 0) => (await fx.boot({ runTasks, latencyMs })).app;
    const startSync = async () => {
      const res = await fx.t.app.inject({ method: 'POST', url: '/sync/items?full=true' });
      expect(res.statusCode).toBe(202);
      return res.json<{ task_id: string }>().task_id;
    };

    it('stops a running sync with no body and no content-type, and answers with the stopped task', async () => {
      const app = await boot(true, 100);
      const id = await startSync();
      await waitFor(async () => ((await app.inject(`/tasks/${id}`)).json<TaskJson>().progress.pages >= 1 ? true : undefined), 'a first page');
      const res = await app.inject({ method: 'POST', url: `/tasks/${id}/cancel` });
      expect(res.statusCode).toBe(200);
      expect(res.json<TaskJson>()).toMatchObject({ task_id: id, status: 'cancelled' });
      expect((await app.inject(`/tasks/${id}`)).json<TaskJson>().status).toBe('cancelled');
    });

    it('ends a queued task at once, as the body route does', async () => {
      const app = await boot(false);
      const byPath = await startSync();
      const res = await app.inject({ method: 'POST', url: `/tasks/${byPath}/cancel` });
      expect(res.statusCode).toBe(200);
      expect(res.json<TaskJson>()).toMatchObject({ task_id: byPath, status: 'cancelled' });

      const byBody = await startSync();
      const other = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: byBody } });
      expect(other.statusCode).toBe(200);
      expect(Object.keys(other.json<object>()).sort()).toEqual(Object.keys(res.json<object>()).sort());
      expect(other.json<TaskJson>().status).toBe('cancelled');
    });

    it('answers 409 for a finished task and 404 for an unknown id, exactly as POST /tasks/cancel', async () => {
      const app = await boot(false);
      const id = await startSync();
      expect((await app.inject({ method: 'POST', url: `/tasks/${id}/cancel` })).statusCode).toBe(200);
      for (const taskId of [id, 'no-such-task']) {
        const byPath = await app.inject({ method: 'POST', url: `/tasks/${encodeURIComponent(taskId)}/cancel` });
        const byBody = await app.inject({ method: 'POST', url: '/tasks/cancel', payload: { task_id: taskId } });
        expectProblem(byPath, taskId === id ? 409 : 404);
        expect(byPath.statusCode).toBe(byBody.statusCode);
        expect(withoutInstance(byPath.body)).toEqual(withoutInstance(byBody.body));
      }
    });

    it('ignores a body sent along, whatever its content type', async () => {
      const app = await boot(false);
      const id = await startSync();
      const res = await app.inject({ method: 'POST', url: `/tasks/${id}/cancel`, headers: { 'content-type': 'text/plain' }, payload: 'please stop' });
      expect(res.statusCode).toBe(200);
      expect(res.json<TaskJson>().status).toBe('cancelled');
    });

    it('is in the OpenAPI document beside POST /tasks/cancel', async () => {
      const app = await boot(false);
      const doc = (await app.inject('/openapi.json')).json<{ paths: Record<string, Record<string, { requestBody?: unknown; responses: object }>> }>();
      const byPath = doc.paths['/tasks/{task_id}/cancel']?.post;
      expect(byPath).toBeDefined();
      expect(byPath?.requestBody).toBeUndefined();
      expect(Object.keys(byPath?.responses ?? {})).toEqual(expect.arrayContaining(['200', '202', '404', '409']));
      expect(doc.paths['/tasks/cancel']?.post).toBeDefined();
    });
  });
}
