import net from 'node:net';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { sseFrame, type EventFeed, type FeedClient } from '../../console/event-feed.js';
import type { TaskStore } from '../../tasks/task-store.js';
import { problemResponses } from '../schemas/common.js';
import { TASK_EXAMPLE } from '../schemas/examples.js';
import { toTaskItem } from '../schemas/tasks.js';

export interface EventRoutesOptions {
  feed: EventFeed;
  tasks: TaskStore;
}

/** A stream whose client reads slower than this much text piles up is dropped, not buffered without end. */
const MAX_BUFFERED_BYTES = 1 << 20;

const EVENTS_EXAMPLE = [
  'event: hello',
  `data: ${JSON.stringify({ time: '2026-12-01T09:31:00.000Z' })}`,
  '',
  'event: task',
  `data: ${JSON.stringify({ ...TASK_EXAMPLE, status: 'running', finished_at: null })}`,
  '',
  'event: deliveries',
  `data: ${JSON.stringify({ received: 0, processed: 12, duplicate: 1, failed: 0, time: '2026-12-01T09:31:00.300Z' })}`,
  '',
  'event: dead_letter',
  `data: ${JSON.stringify({ id: 42, route: '/webhook', error: 'the store refused the records', received_at: '2026-12-01T09:31:00.250Z' })}`,
  '',
  ': ping',
  '',
  '',
].join('\n');

const DESCRIPTION = `Server-sent events (text/event-stream). Read it with fetch() and the Authorization header (EventSource cannot send one).
On connect: \`hello\` \`{"time"}\`, then one \`task\` event per queued or running task. Then, as they happen:
\`task\` (a task was created, made progress or changed status; a finished task once, when it finishes; the same object as GET /tasks/{task_id}),
\`deliveries\` \`{"received","processed","duplicate","failed","time"}\` (webhook deliveries since the previous such event, by status; sent only when one is non-zero),
\`dead_letter\` \`{"id","route","error","received_at"}\` (a delivery kept as failed; replay it with POST /webhooks/events/{id}/replay).
A \`: ping\` comment every 15 s keeps proxies from closing the stream. Behind every stream is one shared read of the store every 300 ms, so a task running on another instance shows its progress too.
\`once=true\` ends the answer after the hello and the current tasks (for curl and tests); so does a request that does not come over a network connection (Fastify's inject()), which could not read an endless answer.`;

/** GET /events: the console's live feed. */
export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { feed, tasks }) => {
  app.get(
    '/events',
    {
      schema: {
        summary: 'Live events: task progress, webhook delivery counts, dead letters (server-sent events)',
        description: DESCRIPTION,
        tags: ['operations'],
        querystring: Type.Object(
          { once: Type.Optional(Type.Boolean({ default: false, description: 'Send the hello and the current tasks, then end' })) },
          { additionalProperties: true },
        ),
        response: {
          200: { description: 'An event stream', content: { 'text/event-stream': { schema: Type.String(), example: EVENTS_EXAMPLE } } },
          ...problemResponses(401, 422),
        },
      },
    },
    async (req, reply) => {
      const hello = sseFrame('hello', { time: new Date().toISOString() });
      // In-process requests (inject) are answered whole: nothing could read them while they last. So is HEAD, which has no body to stream.
      if (req.query.once === true || req.method === 'HEAD' || !(req.raw.socket instanceof net.Socket)) {
        const active = await tasks.list(['queued', 'running'], 1000);
        reply.header('cache-control', 'no-cache').type('text/event-stream; charset=utf-8');
        return (
          hello +
          [...active]
            .reverse()
            .map((t) => sseFrame('task', toTaskItem(t)))
            .join('')
        );
      }

      const res = reply.raw;
      // Until the head is written, events wait here (a poll may land between subscribing and writing it).
      let pending: string[] | null = [];
      const client: FeedClient = {
        send: (chunk) => {
          if (res.destroyed) return false;
          if (pending) {
            pending.push(chunk);
            return true;
          }
          if (res.writableLength > MAX_BUFFERED_BYTES) {
            res.destroy();
            return false;
          }
          res.write(chunk);
          return true;
        },
        end: () => res.end(),
      };
      const subscription = await feed.subscribe(client);
      // Dropped at once when the client goes: no timer or listener of its own is left.
      res.once('close', subscription.unsubscribe);
      if (res.destroyed) {
        subscription.unsubscribe();
        return reply.hijack();
      }
      reply.hijack();
      // Headers set by hooks (CORS) go out with the stream's own.
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx would otherwise hold the events back in its buffer.
        'x-accel-buffering': 'no',
        // A stream ended by the server (on shutdown) takes its connection along, rather than leaving it idle in keep-alive.
        connection: 'close',
      });
      const initial = hello + subscription.tasks.map((t) => sseFrame('task', toTaskItem(t))).join('');
      const queued = pending;
      pending = null;
      res.write(initial + queued.join(''));
    },
  );
};
