import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received, for signatures and the inbox copy. */
    rawBody?: Buffer;
  }
  interface FastifyContextConfig {
    /** Reachable without an API key. */
    public?: boolean;
  }
}

/**
 * JSON parsing that keeps the raw bytes. Parsing goes through Fastify's own
 * secure parser, which refuses `__proto__` and `constructor.prototype` keys.
 */
export function rawJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    parseJson(req, raw.toString('utf8'), done);
  });
}
