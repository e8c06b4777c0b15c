import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { problem } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { Store } from '../../store/open-store.js';
import type { StoreReadiness } from '../../store/readiness.js';
import { sendProblem } from '../problems.js';
import { documented, problemResponses } from '../schemas/common.js';

/** How long a probe that found the service not ready is told to wait before asking again. */
const NOT_READY_RETRY_AFTER_SECONDS = 5;

export interface HealthRoutesOptions {
  store: Store;
  metrics: Metrics;
  readiness: StoreReadiness;
}

/** Liveness and readiness (the store takes writes): public, for probes. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { store, metrics, readiness }) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: { 200: documented(Type.Object({ status: Type.Literal('ok') }), 'The process answers', { status: 'ok' }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the last webhook writes did not all fail, and the store answers `select 1` within 1.5 s',
        tags: ['operations'],
        response: {
          200: documented(
            Type.Object({ status: Type.Literal('ready'), database: Type.String() }),
            'Ready: recent webhook writes succeeded and the store answers',
            {
              status: 'ready',
              database: 'sqlite',
            },
          ),
          ...problemResponses(503),
        },
      },
    },
    async (req, reply) => {
      const r = await readiness.check();
      if (r.ready) return { status: 'ready' as const, database: store.dialect.name };
      if (r.by === 'probe') metrics.storeErrors.inc({ operation: 'ping' });
      // An answer, not a failure of the request: a probe asks again, and nothing is logged as an error.
      req.log.debug({ reason: r.reason }, 'not ready');
      reply.header('retry-after', String(NOT_READY_RETRY_AFTER_SECONDS));
      return sendProblem(reply, problem('unavailable', `not ready: ${r.reason}`, { instance: req.url }));
    },
  );
};

export interface MetricsRouteOptions {
  metrics: Metrics;
}

const METRICS_EXAMPLE = [
  '# HELP tributary_store_errors_total Store operations that failed, by operation',
  '# TYPE tributary_store_errors_total counter',
  'tributary_store_errors_total{operation="webhook_batch"} 0',
  '',
].join('\n');

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
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String(), example: METRICS_EXAMPLE } } },
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
