import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, problem, type ErrorCode, type FieldError, type ProblemBody } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { isStoreError } from '../store/is-store-error.js';
import { StoreUnavailable } from '../store/store-errors.js';
import { fieldErrors } from './validation.js';

// Fastify's own error codes for bad requests, mapped onto our registry.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  // Raised by the router before any route runs (see frameworkErrors).
  FST_ERR_BAD_URL: 'bad_request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
};

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

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  // Serialized here so no response schema can strip a field of the problem.
  return reply.code(body.status).type('application/problem+json').send(JSON.stringify(body));
}

/** A route path (`/customers/:external_id`, `/docs/*`) as a regular expression over request paths. */
function pathPattern(url: string): RegExp {
  const segments = url.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}$`);
}

/** Body types some route takes; a 415 names those the request's route does. */
const BODY_TYPES = ['application/json', 'application/x-www-form-urlencoded'];

/** "content-type text/plain is not accepted here; send application/json": what to send instead. */
function mediaTypeDetail(req: FastifyRequest): string {
  const sent = req.headers['content-type']?.split(';')[0]?.trim();
  const taken = BODY_TYPES.filter((type) => req.server.hasContentTypeParser(type));
  const what = sent ? `content-type ${sent} is not accepted here` : 'a body without a content-type is not accepted here';
  return `${what}; send the body as ${taken.length > 0 ? taken.join(' or ') : 'application/json'} (header content-type: ${taken[0] ?? 'application/json'})`;
}

/** Any error a request can end in, as RFC 9457 problem details. */
export function problemFor(err: FastifyError | ApiError | StoreUnavailable, req: FastifyRequest): ProblemBody {
  if (err instanceof StoreUnavailable) return problem('unavailable', err.message, { instance: req.url });
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
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return problem('unsupported_media_type', mediaTypeDetail(req), { instance: req.url });
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
 * For Fastify's `frameworkErrors`: a URL the router cannot decode, or an
 * over-long parameter, is refused before any route or error handler runs.
 */
export function frameworkErrorHandler(metrics: Metrics) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    const body = problemFor(err, req);
    // No route ran, so no onResponse hook either: counted here.
    metrics.httpRequests.inc({ method: req.method, route: 'unmatched', status: String(body.status) });
    void sendProblem(reply, body);
  };
}

/**
 * Every error as problem JSON: one error handler, and one not-found handler
 * that answers 405 (with Allow) for a known path and the wrong method. Call
 * before the routes are registered: it learns their paths as they come.
 */
/**
 * `classifyStoreFailure` turns a transient store error that reached a route
 * other than the webhook routes and replays (which classify their own) into
 * a StoreUnavailable, counted in the outage it belongs to; any other error
 * comes back as it was.
 */
export function problemHandling(app: FastifyInstance, metrics: Metrics, classifyStoreFailure: (err: unknown) => unknown = (err) => err): void {
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

  app.setErrorHandler((raised: FastifyError | ApiError | StoreUnavailable, req, reply) => {
    const err = raised instanceof ApiError || raised instanceof StoreUnavailable ? raised : storeFailure(raised);
    const body = problemFor(err, req);
    if (err instanceof StoreUnavailable) {
      // Logged once per outage by StoreOutage, not once per request.
      reply.header('retry-after', String(err.retryAfterSeconds));
      return sendProblem(reply, body);
    }
    // The not-found route parses bodies too; with no route to take the body,
    // its content type, size or syntax is beside the point: say 404/405.
    if (req.is404 && body.status < 500) return noRoute(req, reply);
    if (body.status >= 500) {
      // Only the database's own failures: a bug in a route is not a store error.
      if (isStoreError(err)) metrics.storeErrors.inc({ operation: 'request' });
      req.log.error({ err, route: req.routeOptions.url }, 'request failed');
    } else {
      req.log.debug({ status: body.status, detail: body.detail }, 'request refused');
    }
    return sendProblem(reply, body);
  });
  function storeFailure(err: FastifyError): FastifyError | StoreUnavailable {
    const classified = classifyStoreFailure(err);
    return classified instanceof StoreUnavailable ? classified : err;
  }
  app.setNotFoundHandler((req, reply) => noRoute(req, reply));
}
