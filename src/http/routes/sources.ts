import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { formatDuration } from '../../config/variables.js';
import type { SourceConnector } from '../../sources/connector.js';
import { lastTasks } from '../../store/console-queries.js';
import type { Store } from '../../store/open-store.js';
import { documented, nullable, problemResponses } from '../schemas/common.js';
import { TASK_EXAMPLE } from '../schemas/examples.js';
import { TaskItem, toTaskItem } from '../schemas/tasks.js';

export interface SourcesRoutesOptions {
  store: Store;
  connectors: ReadonlyMap<string, SourceConnector>;
  /** The provider of each source, by source name; a source it does not name is `custom`. */
  providers: ReadonlyMap<string, string>;
  /** SYNC_INTERVAL_<SOURCE>, ms by source. */
  syncIntervals: Readonly<Record<string, number>>;
}

const SourceItem = Type.Object({
  name: Type.String({ description: 'The source name POST /sync/{source} takes' }),
  provider: Type.String({ description: 'hubspot, mailchimp, declared (SOURCES_FILE)' }),
  configured: Type.Boolean({ description: 'false: a sync would be refused until `missing` is set' }),
  missing: nullable(Type.String({ description: 'The environment variable to set' })),
  record_types: Type.Array(Type.String()),
  schedule: nullable(Type.String({ description: 'SYNC_INTERVAL_<SOURCE>, when set: the sync runs this often' })),
  last_task: nullable(TaskItem),
});

/** GET /sources: every source the service knows, configured or not. */
export const sourcesRoutes: FastifyPluginAsyncTypebox<SourcesRoutesOptions> = async (app, { store, connectors, providers, syncIntervals }) => {
  app.get(
    '/sources',
    {
      schema: {
        summary: 'Sources: every source the service can sync, configured or not, with its last task',
        tags: ['sync'],
        response: {
          200: documented(Type.Object({ items: Type.Array(SourceItem) }), 'One item per source', {
            items: [
              {
                name: 'crm',
                provider: 'hubspot',
                configured: true,
                missing: null,
                record_types: ['customer'],
                schedule: '15m',
                last_task: { ...TASK_EXAMPLE, source: 'crm' },
              },
            ],
          }),
          ...problemResponses(401),
        },
      },
    },
    async () => {
      const last = await lastTasks(store.db, [...connectors.keys()]);
      return {
        items: [...connectors.values()].map((c) => {
          const missing = c.missingConfiguration();
          const interval = syncIntervals[c.name];
          const task = last.get(c.name);
          return {
            name: c.name,
            provider: providers.get(c.name) ?? 'custom',
            configured: missing === null,
            missing,
            record_types: [...(c.recordTypes ?? [c.recordType])],
            schedule: interval === undefined ? null : formatDuration(interval),
            last_task: task ? toTaskItem(task) : null,
          };
        }),
      };
    },
  );
};
