import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * With API keys configured, every route not marked public wants
 * `Authorization: Bearer <key>`. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither their content nor their length leaks by timing.
 */
export function apiKeyAuth(app: FastifyInstance, keys: readonly string[]): void {
  if (keys.length === 0) return;
  const digests = keys.map(digest);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.public || req.is404) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw new ApiError('unauthorized', 'send Authorization: Bearer <API_KEY>');
    const offered = digest((m[1] as string).trim());
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, offered) || ok;
    if (!ok) throw new ApiError('unauthorized', 'the API key is not valid');
  });
}
