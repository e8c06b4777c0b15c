import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { EventFeed } from './console/event-feed.js';
import { clientErrorHandler } from './http/client-errors.js';
import { connectionCap, openFileLimit } from './http/connection-cap.js';
import { apiKeyAuth, markPublic } from './http/plugins/api-key.js';
import { AuthFailureThrottle } from './http/plugins/auth-throttle.js';
import { rawJsonBody } from './http/plugins/raw-json-body.js';
import { webhookRateLimit } from './http/plugins/webhook-rate-limit.js';
import { frameworkErrorHandler, problemHandling } from './http/problems.js';
import { dataRoutes } from './http/routes/data.js';
import { eventRoutes } from './http/routes/events.js';
import { healthRoutes, metricsRoute } from './http/routes/health.js';
import { sourcesRoutes } from './http/routes/sources.js';
import { statsRoutes } from './http/routes/stats.js';
import { syncRoutes } from './http/routes/sync.js';
import { uiRoutes } from './http/routes/ui.js';
import { webhookEventRoutes } from './http/routes/webhook-events.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { validatorCompiler } from './http/validation.js';
import { createMetrics, type Metrics } from './metrics.js';
import { loggableUrl, PROVIDERS, sourceProviders, webhookProviders } from './providers/index.js';
import { Services } from './services.js';
import type { SourceConnector } from './sources/connector.js';
import type { Store } from './store/open-store.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  metrics?: Metrics;
  /** The sources /sync can run, by name. */
  connectors?: ReadonlyMap<string, SourceConnector>;
  /** Start the task runner (default true); tests of the queue alone may leave it off. */
  runTasks?: boolean;
}

export type App = FastifyInstance & { metrics: Metrics; feed: EventFeed };

// A path parameter as sent (percent-encoded) may be this long: an external_id
// of 255 characters, each up to 3 UTF-8 bytes written as %XX. Fastify's default
// of 100 made records with longer ids unreadable.
const MAX_PARAM_LENGTH = 255 * 9;

/** TRUST_PROXY as Fastify takes it; a hop count as the function its docs describe (the types leave numbers out). */
function trustedProxies(trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}

/**
 * The HTTP app: parsing, validation and problem JSON for every route, then
 * two scopes: a public one (health, docs, the webhook routes under their
 * rate limit) and a protected one behind the API key (data, inbox, syncs,
 * metrics). The caller owns the store; the app owns the services behind the
 * routes (services.ts) and stops them on close.
 */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, store, logger } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request at 14k requests/s is its own load: requests are logged at debug instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Behind a reverse proxy every request comes from the proxy: only the peers named here may say who the client is.
    trustProxy: trustedProxies(config.trustProxy),
    return503OnClosing: true,
    // Slow clients may not hold a connection open forever.
    requestTimeout: config.requestTimeoutMs,
    // Node swaps the two timeouts when headersTimeout (default 60 s) is the longer one, and looks for
    // requests over their time every connectionsCheckingInterval (default 30 s): both follow REQUEST_TIMEOUT.
    http: {
      headersTimeout: Math.min(60_000, config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(config.requestTimeoutMs / 4))),
    },
    connectionTimeout: 60_000,
    clientErrorHandler,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrorHandler(metrics),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Idle sockets past the cap are closed on arrival, so they cannot use up the process's files and lock everyone out.
  const fileLimit = openFileLimit();
  app.server.maxConnections = connectionCap(config.maxConnections, fileLimit);
  if (app.server.maxConnections < config.maxConnections) {
    logger.warn(
      { max_connections: app.server.maxConnections, configured: config.maxConnections, open_file_limit: fileLimit },
      'MAX_CONNECTIONS lowered below the open-file limit',
    );
  }
  app.server.on('drop', () => metrics.connectionsRefused.inc());

  app.setValidatorCompiler(validatorCompiler);
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const err = new Error(`${dataVar} is not valid`) as Error & { validation: unknown };
    err.validation = errors;
    return err;
  });
  rawJsonBody(app);
  // `services` is built below; a route's error can only come once the app is ready.
  problemHandling(app, metrics, (err) => services.outage.failed('request', err));

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    req.log.debug({ method: req.method, url: loggableUrl(req.url), status: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
  });

  // At the root: a browser's preflight carries no credentials, and is answered before any scope's key check.
  if (config.corsOrigins !== null) {
    await app.register(cors, {
      origin: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
      methods: ['GET', 'POST'],
      // Headers a browser script may read besides the safelisted ones.
      exposedHeaders: ['idempotent-replayed', 'location', 'retry-after', 'allow', 'www-authenticate'],
      maxAge: 600,
    });
  }

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tributary',
        version: '0.1.0',
        description: `Webhooks in, syncs from ${PROVIDERS.map((p) => p.title).join(', ')}, one unified store of customers and campaigns, paginated data out. Errors are RFC 9457 problem JSON.`,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API_KEY, when the server sets one' } } },
      security: config.apiKeys.length > 0 ? [{ bearer: [] }] : [],
      tags: [
        { name: 'webhooks', description: 'Receiving records' },
        { name: 'data', description: 'Reading the unified store' },
        { name: 'sync', description: 'Background syncs and tasks' },
        { name: 'operations', description: 'Health, readiness, metrics' },
      ],
    },
  });

  const services = new Services({ config, store, logger, metrics, ...(deps.connectors ? { connectors: deps.connectors } : {}) });
  app.addHook('onReady', async () => services.start(deps.runTasks !== false));
  app.addHook('preClose', async () => services.stopBackground());
  // After the server has closed: every in-flight delivery has reached the writer.
  app.addHook('onClose', async () => services.flush());

  // Public: probes, the API's own documentation, and the routes senders call.
  await app.register(async (open) => {
    markPublic(open, config.apiKeys);
    await open.register(healthRoutes, { store, metrics, readiness: services.readiness });
    await open.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
    open.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    // The operator console's static files: the page holds no data, every call it makes wants the key.
    await open.register(uiRoutes);
    await open.register(async (senders) => {
      await webhookRateLimit(senders, config.webhookRateLimit);
      const providers = webhookProviders();
      const reservedKeyPrefixes = providers.map((p) => p.webhook.keyPrefix);
      await senders.register(webhookRoutes, { config, pipeline: services.pipeline, reservedKeyPrefixes });
      for (const p of providers) await senders.register(p.webhook.routes, { config, pipeline: services.pipeline, metrics });
    });
  });

  // Protected: everything else wants the API key, when one is set.
  const throttle =
    config.apiKeys.length > 0 && config.authFailureLimit ? new AuthFailureThrottle(config.authFailureLimit, logger.child({ component: 'auth' })) : null;
  if (throttle) app.addHook('onClose', async () => throttle.stop());
  await app.register(async (guarded) => {
    apiKeyAuth(guarded, config.apiKeys, throttle);
    await guarded.register(metricsRoute, { metrics });
    await guarded.register(webhookEventRoutes, { store, replayer: services.replayer, catalog: services.catalog, pageMaxBytes: config.pageMaxBytes });
    await guarded.register(dataRoutes, { store, pageMaxBytes: config.pageMaxBytes });
    await guarded.register(syncRoutes, { tasks: services.tasks, runner: services.runner, connectors: services.connectors });
    await guarded.register(sourcesRoutes, { store, connectors: services.connectors, providers: sourceProviders(config), syncIntervals: config.syncIntervals });
    await guarded.register(statsRoutes, { store });
    await guarded.register(eventRoutes, { feed: services.feed, tasks: services.tasks });
  });

  return Object.assign(app, { metrics, feed: services.feed }) as unknown as App;
}
