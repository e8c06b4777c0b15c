import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';
import type { AuthFailureThrottle } from './auth-throttle.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * With API keys configured, every route of this scope wants
 * `Authorization: Bearer <key>`. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither their content nor their length leaks by timing.
 * A client address past the throttle's failures is answered 429 first.
 */
export function apiKeyAuth(scope: FastifyInstance, keys: readonly string[], throttle: AuthFailureThrottle | null = null): void {
  if (keys.length === 0) return;
  const digests = keys.map(digest);
  scope.addHook('onRequest', async (req, reply) => {
    const wait = throttle?.refusal(req.ip) ?? null;
    if (wait !== null) {
      reply.header('retry-after', String(wait));
      throw new ApiError('rate_limited', `too many failed API key checks from this address; retry in ${wait} s`);
    }
    const refuse = (detail: string) => {
      throttle?.failed(req.ip);
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

/** Routes of this scope need no key: the OpenAPI document says so (its default asks for the key everywhere else). */
export function markPublic(scope: FastifyInstance, keys: readonly string[]): void {
  if (keys.length === 0) return;
  scope.addHook('onRoute', (route) => {
    if (route.schema) route.schema = { ...route.schema, security: [] } as typeof route.schema;
  });
}
