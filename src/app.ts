import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.js';
import { ApiError, problem, type ErrorCode, type FieldError, type ProblemBody } from './errors.js';
import { clientErrorHandler } from './http/client-errors.js';
import { apiKeyAuth } from './http/plugins/api-key.js';
import { rawJsonBody } from './http/plugins/raw-json-body.js';
import { dataRoutes } from './http/routes/data.js';
import { healthRoutes } from './http/routes/health.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { providerWebhookRoutes } from './http/routes/provider-webhooks.js';
import { webhookEventRoutes } from './http/routes/webhook-events.js';
import { webhookRateLimit } from './http/plugins/webhook-rate-limit.js';
import { createInboxProcessor } from './ingest/inbox-handlers.js';
import { InboxRetention } from './ingest/inbox-retention.js';
import { fieldErrors, validatorCompiler } from './http/validation.js';
import { BatchWriter } from './ingest/batch-writer.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { SourceConnector } from './sources/connector.js';
import type { Store } from './store/open-store.js';
import { TaskRunner } from './tasks/runner.js';
import { SyncScheduler } from './tasks/scheduler.js';
import { TaskStore } from './tasks/task-store.js';
import { syncRoutes } from './http/routes/sync.js';
import { buildConnectors } from './sources/registry.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

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

export type App = FastifyInstance & { metrics: Metrics };

// Fastify's own error codes for bad requests, mapped onto our registry.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  // Raised by the router before any route runs (see frameworkErrors below).
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
};

// A path parameter as sent (percent-encoded) may be this long: an external_id
// of 255 characters, each up to 3 UTF-8 bytes written as %XX. Fastify's default
// of 100 made records with longer ids unreadable.
const MAX_PARAM_LENGTH = 255 * 9;

// At most this many field errors are listed: a hostile 1 MiB body can hold a
// hundred thousand bad fields, and the answer must not be many times its size.
const MAX_LISTED_ERRORS = 50;
const MAX_DETAIL_PATHS = 5;

/** "invalid input at /a, /b and more": names the first few fields. */
function validationDetail(errors: FieldError[], truncated: boolean): string {
  const paths = [...new Set(errors.map((e) => e.path))];
  const more = truncated || paths.length > MAX_DETAIL_PATHS ? ' and more' : '';
  return `invalid input at ${paths.slice(0, MAX_DETAIL_PATHS).join(', ')}${more}`;
}

function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  // Serialized here so no response schema can strip a field of the problem.
  return reply.code(body.status).type('application/problem+json').send(JSON.stringify(body));
}

/** A route path (`/customers/:external_id`, `/docs/*`) as a regular expression over request paths. */
function pathPattern(url: string): RegExp {
  const segments = url.split('/').map((seg) =>
    seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  );
  return new RegExp(`^${segments.join('/')}$`);
}

function problemFor(err: FastifyError | ApiError, req: FastifyRequest): ProblemBody {
  if (err instanceof ApiError) {
    const errors = err.extra.errors;
    if (!errors || errors.length <= MAX_LISTED_ERRORS) return problem(err.code, err.message, { ...err.extra, instance: req.url });
    const detail = `${err.message} (the first ${MAX_LISTED_ERRORS} of ${errors.length} field errors are listed)`;
    return problem(err.code, detail, { ...err.extra, errors: errors.slice(0, MAX_LISTED_ERRORS), instance: req.url });
  }
  if (err.validation) {
    const errors = fieldErrors(err.validation, err.validationContext, MAX_LISTED_ERRORS + 1);
    const truncated = errors.length > MAX_LISTED_ERRORS;
    if (truncated) errors.length = MAX_LISTED_ERRORS;
    return problem('validation', validationDetail(errors, truncated), { errors, instance: req.url });
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) return problem(mapped, err.message, { instance: req.url });
  // JSON.parse failures and prototype-poisoning refusals arrive as 400 SyntaxErrors
  // (another 400, such as a static file's bad path, is a bad request below).
  if (err instanceof SyntaxError) return problem('invalid_json', err.message, { instance: req.url });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return { ...problem('bad_request', err.message, { instance: req.url }), status: err.statusCode, title: 'Request refused' };
  }
  return problem('internal', 'the server could not complete the request; it has been logged', { instance: req.url });
}

/**
 * The HTTP app: plugins in an explicit order (parsing, validation, auth,
 * metrics, docs), then routes, then one error and one not-found handler.
 * The caller owns the store; the app owns its writer and flushes it on close.
 */
/** A request URL fit for logs: the Mailchimp webhook path carries its secret, which is masked. */
export function loggableUrl(url: string): string {
  return url.replace(/^(\/webhooks\/mailchimp\/)[^/?#]*/i, '$1***');
}

/** TRUST_PROXY as Fastify takes it; a hop count as the function its docs describe (the types leave numbers out). */
function trustedProxies(trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}

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
    // A URL the router cannot decode, or an over-long parameter, is refused
    // before any route or error handler runs: answer it as problem JSON too.
    frameworkErrors: (err, req, reply) => {
      const body = problemFor(err, req);
      // No route ran, so no onResponse hook either: counted here.
      metrics.httpRequests.inc({ method: req.method, route: 'unmatched', status: String(body.status) });
      void sendProblem(reply, body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const err = new Error(`${dataVar} is not valid`) as FastifyError;
    err.validation = errors as FastifyError['validation'];
    return err;
  });
  rawJsonBody(app);

  // Every route's methods and path pattern: hasRoute() compares patterns, not
  // URLs, so `DELETE /customers/x` would be a 404 instead of a 405.
  const routes: Array<{ methods: string[]; pattern: RegExp }> = [];
  app.addHook('onRoute', (route) => {
    routes.push({ methods: [route.method].flat(), pattern: pathPattern(route.url) });
  });

  /** 404 for an unknown path, 405 (with Allow) for a known path and the wrong method. */
  const noRoute = (req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = req.url.split('?')[0] ?? '/';
    const matching = new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods));
    const allowed = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => matching.has(m));
    // A route that takes this method but found nothing (a missing Swagger UI asset) is a 404.
    if (allowed.length > 0 && !matching.has(req.method)) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(reply, problem('method_not_allowed', `${req.method} is not allowed on ${path}`, { instance: req.url }));
    }
    return sendProblem(reply, problem('not_found', `no route ${req.method} ${path}`, { instance: req.url }));
  };

  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    const body = problemFor(err, req);
    // The not-found route parses bodies too; with no route to take the body,
    // its content type, size or syntax is beside the point: say 404/405.
    if (req.is404 && body.status < 500) return noRoute(req, reply);
    if (body.status >= 500) {
      metrics.storeErrors.inc({ operation: 'request' });
      req.log.error({ err, route: req.routeOptions.url }, 'request failed');
    } else {
      req.log.debug({ status: body.status, detail: body.detail }, 'request refused');
    }
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((req, reply) => noRoute(req, reply));

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    req.log.debug({ method: req.method, url: loggableUrl(req.url), status: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
  });

  // Before the API key check: a browser's preflight carries no credentials, and is answered here.
  if (config.corsOrigins !== null) {
    await app.register(cors, {
      origin: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
      methods: ['GET', 'POST'],
      // Headers a browser script may read besides the safelisted ones.
      exposedHeaders: ['idempotent-replayed', 'location', 'retry-after', 'allow', 'www-authenticate'],
      maxAge: 600,
    });
  }

  apiKeyAuth(app, config.apiKeys);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tributary',
        version: '0.1.0',
        description:
          'Webhooks in, HubSpot and Mailchimp syncs, one unified store of customers and campaigns, paginated data out. Errors are RFC 9457 problem JSON.',
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
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  const writer = new BatchWriter(
    store,
    { maxDelayMs: config.writerMaxDelayMs, maxBatchRecords: config.writerMaxBatchRecords },
    metrics,
    logger,
  );
  app.addHook('onClose', async () => {
    await writer.close();
  });

  // Before the webhook routes: it hooks onto them as they are registered.
  await webhookRateLimit(app, config.webhookRateLimit);
  await app.register(healthRoutes, { store, metrics });
  await app.register(webhookRoutes, { config, writer });
  const inbox = createInboxProcessor(store, metrics, logger.child({ component: 'inbox' }));
  await app.register(providerWebhookRoutes, { config, processor: inbox });
  await app.register(webhookEventRoutes, { store, processor: inbox });
  const retention = new InboxRetention(
    store,
    { retentionMs: config.webhookRetentionMs, failedRetentionMs: config.webhookFailedRetentionMs, intervalMs: 3_600_000 },
    logger.child({ component: 'inbox-retention' }),
    metrics,
  );
  app.addHook('onReady', async () => retention.start());
  app.addHook('preClose', async () => retention.stop());
  await app.register(dataRoutes, { store });

  const connectors = deps.connectors ?? buildConnectors(config);
  const tasks = new TaskStore(store);
  const runner = new TaskRunner(
    store,
    tasks,
    connectors,
    { owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`, ...config.tasks },
    logger.child({ component: 'tasks' }),
    metrics,
  );
  await app.register(syncRoutes, { tasks, runner, connectors });
  for (const source of Object.keys(config.syncIntervals)) {
    if (!connectors.has(source)) {
      throw new ConfigError(`SYNC_INTERVAL_${source.toUpperCase()}`, `names no known source (known: ${[...connectors.keys()].join(', ')})`);
    }
  }
  const scheduler = new SyncScheduler(config.syncIntervals, tasks, runner, logger.child({ component: 'scheduler' }));
  if (deps.runTasks !== false) {
    app.addHook('onReady', async () => {
      runner.start();
      scheduler.start();
    });
  }
  // Runs before the writer flush above: interrupted syncs go back to the queue first.
  app.addHook('preClose', async () => {
    await scheduler.stop();
    await runner.stop();
    await Promise.all([...connectors.values()].map((c) => c.close?.()));
  });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  return Object.assign(app, { metrics }) as unknown as App;
}
