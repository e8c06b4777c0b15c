import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import type { SourceConnector } from '../../sources/connector.js';
import type { TaskRunner } from '../../tasks/runner.js';
import { TASK_STATUSES, type TaskStatus, type TaskStore } from '../../tasks/task-store.js';
import { ignoreBodies } from '../plugins/ignored-body.js';
import { documented, NO_NUL_PATTERN, problemResponses } from '../schemas/common.js';
import { CANCELLED_TASK_EXAMPLE, STOPPING_TASK_EXAMPLE, TASK_EXAMPLE, TASK_ID_EXAMPLE } from '../schemas/examples.js';
import { SyncAccepted, TaskItem, toTaskItem } from '../schemas/tasks.js';

export interface SyncRoutesOptions {
  tasks: TaskStore;
  runner: TaskRunner;
  connectors: ReadonlyMap<string, SourceConnector>;
}

const SourceParams = Type.Object({ source: Type.String({ minLength: 1, maxLength: 100 }) });
// PostgreSQL cannot compare text holding U+0000: such an id is refused (422), not looked up (500).
const TaskId = Type.String({ minLength: 1, maxLength: 100, pattern: NO_NUL_PATTERN, description: 'The task_id that POST /sync/{source} answered' });
const SyncQuery = Type.Object(
  { full: Type.Optional(Type.Boolean({ default: false, description: 'Ignore the saved checkpoint and fetch everything' })) },
  { additionalProperties: true },
);

const CANCEL_DESCRIPTION =
  'A queued task ends at once. A running one stops within about a second wherever it runs: its in-flight upstream request is aborted, committed pages stay, and the next sync resumes from the last committed checkpoint. Answers with the task once it has stopped (or 202 if it is still stopping after a few seconds); 404 for an unknown id, 409 for a task already finished.';

const CANCEL_RESPONSES = {
  200: documented(TaskItem, 'The task, stopped', CANCELLED_TASK_EXAMPLE),
  202: documented(TaskItem, 'The task, still stopping after 5 seconds', STOPPING_TASK_EXAMPLE),
};

/** Starting syncs, listing and cancelling tasks. */
export const syncRoutes: FastifyPluginAsyncTypebox<SyncRoutesOptions> = async (app, { tasks, runner, connectors }) => {
  // Take no body: one sent along is ignored.
  await app.register(async (plain) => {
    ignoreBodies(plain);
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    for (const method of ['GET', 'POST'] as const) {
      scope.route({
        method,
        url: '/sync/:source',
        schema: {
          summary: method === 'GET' ? 'Start a background sync of a source (seed-compatible GET)' : 'Start a background sync of a source',
          description: `Answers 202 at once with the task. While a sync of that source is queued or running, answers 409 with its task_id. Sources here: ${[...connectors.keys()].join(', ')}.`,
          tags: ['sync'],
          params: SourceParams,
          querystring: SyncQuery,
          response: {
            202: documented(SyncAccepted, 'The sync is queued; follow it at task_url', {
              task_id: TASK_ID_EXAMPLE,
              source: 'acme',
              status: 'queued',
              full: false,
              task_url: `/tasks/${TASK_ID_EXAMPLE}`,
            }),
            ...problemResponses(400, 401, 404, 409, 422),
          },
        },
        handler: async (req, reply) => {
          const { source } = req.params;
          const connector = connectors.get(source);
          if (!connector) {
            throw new ApiError('not_found', `unknown source "${source}"; known: ${[...connectors.keys()].join(', ')}`);
          }
          const missing = connector.missingConfiguration();
          if (missing) {
            throw new ApiError('source_not_configured', `set ${missing} to sync ${source}`, { variable: missing });
          }
          const full = req.query.full ?? false;
          const result = await tasks.enqueue(source, { full, trigger: 'api' });
          if (!result.created) {
            throw new ApiError('conflict', `a sync of ${source} is already ${result.active.status}`, { task_id: result.active.id });
          }
          runner.wake();
          return reply
            .code(202)
            .header('location', `/tasks/${result.task.id}`)
            .send({ task_id: result.task.id, source, status: 'queued' as const, full, task_url: `/tasks/${result.task.id}` });
        },
      });
    }
  });

  app.get(
    '/tasks',
    {
      schema: {
        summary: 'Background tasks',
        description: 'Queued and running tasks by default; `status` picks others (comma-separated) or `all`. Newest first.',
        tags: ['sync'],
        querystring: Type.Object(
          {
            status: Type.Optional(Type.String({ pattern: `^(all|(${TASK_STATUSES.join('|')})(,(${TASK_STATUSES.join('|')}))*)$` })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          },
          { additionalProperties: true },
        ),
        response: {
          200: documented(Type.Object({ items: Type.Array(TaskItem) }), 'The tasks, newest first', { items: [TASK_EXAMPLE] }),
          ...problemResponses(401, 422),
        },
      },
    },
    async (req) => {
      const status = req.query.status ?? 'queued,running';
      const statuses = status === 'all' ? 'all' : (status.split(',') as TaskStatus[]);
      const rows = await tasks.list(statuses, req.query.limit ?? 100);
      return { items: rows.map(toTaskItem) };
    },
  );

  app.get(
    '/tasks/:task_id',
    {
      schema: {
        summary: 'One task',
        tags: ['sync'],
        params: Type.Object({ task_id: TaskId }),
        response: { 200: documented(TaskItem, 'The task', TASK_EXAMPLE), ...problemResponses(401, 404, 422) },
      },
    },
    async (req) => {
      const task = await tasks.get(req.params.task_id);
      if (!task) throw new ApiError('not_found', `no task "${req.params.task_id}"`);
      return toTaskItem(task);
    },
  );

  /** Cancels a task and waits briefly for it to stop; both cancel routes answer with this. */
  const cancel = async (id: string, reply: FastifyReply): Promise<FastifyReply> => {
    const outcome = await tasks.requestCancel(id);
    if (outcome === 'unknown') throw new ApiError('not_found', `no task "${id}"`);
    if (outcome === 'finished') {
      const t = await tasks.get(id);
      throw new ApiError('conflict', `task ${id} already ${t?.status ?? 'finished'}`, { task_id: id, task_status: t?.status });
    }
    runner.cancelLocal(id);
    // Wait briefly for the owner (here or in another process) to stop it.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const t = await tasks.get(id);
      if (!t) throw new ApiError('not_found', `no task "${id}"`);
      if (t.status !== 'running') return reply.code(200).send(toTaskItem(t));
      if (Date.now() > deadline) return reply.code(202).send(toTaskItem(t));
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  app.post(
    '/tasks/cancel',
    {
      schema: {
        summary: 'Cancel a task',
        description: `${CANCEL_DESCRIPTION} Wants a JSON body (content-type: application/json); POST /tasks/{task_id}/cancel does the same with no body.`,
        tags: ['sync'],
        body: Type.Object(
          { task_id: TaskId },
          {
            'x-examples': {
              example_id: {
                summary: 'A task id (an example)',
                description: 'An example of a well-formed task id; no task has it, so it answers 404. Use a task_id from POST /sync/{source} or GET /tasks.',
                value: { task_id: TASK_ID_EXAMPLE },
              },
            },
          },
        ),
        response: { ...CANCEL_RESPONSES, ...problemResponses(400, 401, 404, 409, 415, 422) },
      },
    },
    async (req, reply) => cancel(req.body.task_id, reply),
  );

  // Takes no body: one sent along is ignored.
  await app.register(async (plain) => {
    ignoreBodies(plain);
    plain.withTypeProvider<TypeBoxTypeProvider>().post(
      '/tasks/:task_id/cancel',
      {
        schema: {
          summary: 'Cancel a task by its id',
          description: `${CANCEL_DESCRIPTION} The same as POST /tasks/cancel, with the id in the path and no body.`,
          tags: ['sync'],
          params: Type.Object({ task_id: TaskId }),
          response: { ...CANCEL_RESPONSES, ...problemResponses(401, 404, 409, 422) },
        },
      },
      async (req, reply) => cancel(req.params.task_id, reply),
    );
  });
};
