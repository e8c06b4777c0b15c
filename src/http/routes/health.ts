import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { Store } from '../../store/open-store.js';
import { problemResponses } from '../schemas/common.js';

export interface HealthRoutesOptions {
  store: Store;
  metrics: Metrics;
}

/** Liveness and readiness (the store answers): public, for probes. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { store, metrics }) => {
  app.get(
    '/healthz',
    {
      schema: { summary: 'Liveness: the process answers', tags: ['operations'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the store answers a query',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }), ...problemResponses(503) },
      },
    },
    async () => {
      try {
        await store.dialect.ping(store.db);
      } catch {
        metrics.storeErrors.inc({ operation: 'ping' });
        throw new ApiError('unavailable', 'the store does not answer');
      }
      return { status: 'ready' as const, database: store.dialect.name };
    },
  );
};

export interface MetricsRouteOptions {
  metrics: Metrics;
}

/** Prometheus metrics: protected like the data routes. */
export const metricsRoute: FastifyPluginAsyncTypebox<MetricsRouteOptions> = async (app, { metrics }) => {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        response: {
          // Documented as the text it is; Prometheus' own content type is set on the reply.
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } },
          ...problemResponses(401),
        },
      },
    },
    async (_req, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
