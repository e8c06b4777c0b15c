import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { deliveryMinutesSince, inboxCounts, minuteOf, MINUTE_MS, recordCountsByTypeAndSource, writeMinutesSince } from '../../store/console-counters.js';
import { taskCounts } from '../../store/console-queries.js';
import type { Store } from '../../store/open-store.js';
import { documented, problemResponses } from '../schemas/common.js';

export interface StatsRoutesOptions {
  store: Store;
}

const MINUTES = 60;
const DAY_MS = 24 * 3_600_000;
const Count = Type.Integer({ minimum: 0 });
const Minute = Type.String({ format: 'date-time', description: 'The start of the minute' });

const Stats = Type.Object({
  records: Type.Array(
    Type.Object({
      type: Type.String(),
      source: Type.String(),
      count: Type.Integer({ description: 'Records not deleted' }),
      deleted: Type.Integer({ description: 'Deleted records (tombstones)' }),
    }),
  ),
  deliveries_per_minute: Type.Array(
    Type.Object({ minute: Minute, processed: Type.Integer(), duplicate: Type.Integer(), failed: Type.Integer(), received: Type.Integer() }),
    { description: 'The last 60 minutes, oldest first, every minute present: deliveries by the minute they arrived and their status now' },
  ),
  writes_per_minute: Type.Array(Type.Object({ minute: Minute, source: Type.String(), count: Type.Integer() }), {
    description: 'Records created, changed or deleted in each of the last 60 minutes, by source; every minute of each source that wrote in them, oldest first',
  }),
  tasks: Type.Object({ queued: Count, running: Count, failed_last_24h: Count }),
  dead_letters: Type.Integer({ description: 'Deliveries kept as failed, waiting for a replay' }),
  time: Type.String({ format: 'date-time' }),
});

const EXAMPLE_MINUTE = '2026-12-01T09:31:00.000Z';

/** GET /stats: the console's overview, from counters kept with the writes. */
export const statsRoutes: FastifyPluginAsyncTypebox<StatsRoutesOptions> = async (app, { store }) => {
  app.get(
    '/stats',
    {
      schema: {
        summary: 'Overview: records by type and source, deliveries and writes per minute, tasks, dead letters',
        description:
          'Read from counters the writes keep in their own transactions (records by type and source, inbox rows by status, per-minute buckets), so its cost does not grow with the number of records.',
        tags: ['operations'],
        response: {
          200: documented(Stats, 'The figures now', {
            records: [{ type: 'customer', source: 'crm', count: 1250, deleted: 3 }],
            deliveries_per_minute: [{ minute: EXAMPLE_MINUTE, processed: 40, duplicate: 2, failed: 0, received: 0 }],
            writes_per_minute: [{ minute: EXAMPLE_MINUTE, source: 'crm', count: 1000 }],
            tasks: { queued: 0, running: 1, failed_last_24h: 0 },
            dead_letters: 0,
            time: '2026-12-01T09:31:12.000Z',
          }),
          ...problemResponses(401),
        },
      },
    },
    async () => {
      const now = Date.now();
      const first = minuteOf(now) - (MINUTES - 1) * MINUTE_MS;
      const minutes = Array.from({ length: MINUTES }, (_, i) => first + i * MINUTE_MS);
      const deliveries = new Map(minutes.map((m) => [m, { minute: new Date(m).toISOString(), processed: 0, duplicate: 0, failed: 0, received: 0 }]));
      for (const b of await deliveryMinutesSince(store.db, first)) {
        const row = deliveries.get(b.minute);
        if (row && (b.status === 'processed' || b.status === 'duplicate' || b.status === 'failed' || b.status === 'received')) row[b.status] += b.n;
      }
      const written = await writeMinutesSince(store.db, first);
      const sources = [...new Set(written.map((w) => w.source))].sort();
      const byKey = new Map(written.map((w) => [`${w.minute}|${w.source}`, w.n]));
      const tasks = await taskCounts(store.db, now - DAY_MS);
      return {
        records: await recordCountsByTypeAndSource(store.db),
        deliveries_per_minute: [...deliveries.values()],
        writes_per_minute: minutes.flatMap((m) =>
          sources.map((source) => ({ minute: new Date(m).toISOString(), source, count: byKey.get(`${m}|${source}`) ?? 0 })),
        ),
        tasks: { queued: tasks.queued, running: tasks.running, failed_last_24h: tasks.failed },
        dead_letters: (await inboxCounts(store.db)).get('failed') ?? 0,
        time: new Date(now).toISOString(),
      };
    },
  );
};
