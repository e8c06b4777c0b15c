import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ApiError } from '../../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The Swagger UI and its static files: public however the UI plugin marks its routes. */
const isDocsRoute = (url: string) => url === '/docs' || url.startsWith('/docs/');

/** Public: marked `config: { public: true }`, or part of the Swagger UI. */
function isPublicRoute(route: Pick<RouteOptions, 'url' | 'config'>): boolean {
  return (route.config as { public?: boolean } | undefined)?.public === true || isDocsRoute(route.url);
}

/**
 * With API keys configured, every route not marked public wants
 * `Authorization: Bearer <key>`. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither their content nor their length leaks by timing.
 *
 * Call it before any route is registered: it also marks the public routes
 * `security: []` in the OpenAPI document (the document's default then asks
 * for the bearer key everywhere else).
 */
export function apiKeyAuth(app: FastifyInstance, keys: readonly string[]): void {
  if (keys.length === 0) return;
  const digests = keys.map(digest);

  app.addHook('onRoute', (route) => {
    if (!isPublicRoute(route) || !route.schema) return;
    route.schema = { ...route.schema, security: [] } as typeof route.schema;
  });

  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return;
    if (req.routeOptions.config.public || isDocsRoute(req.routeOptions.url ?? '')) return;
    const refuse = (detail: string) => {
      // RFC 9110: a 401 names the scheme the client should use.
      reply.header('www-authenticate', 'Bearer realm="tributary"');
      return new ApiError('unauthorized', detail);
    };
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) throw refuse('send Authorization: Bearer <API_KEY>');
    const offered = digest((m[1] as string).trim());
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, offered) || ok;
    if (!ok) throw refuse('the API key is not valid');
  });
}
