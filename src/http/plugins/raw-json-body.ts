import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors.js';

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
    // Bodies are not decompressed: a gzip body would otherwise be "not JSON" (400),
    // and a mislabelled plain one taken; either way the coding is what is unsupported.
    const coding = req.headers['content-encoding']?.trim().toLowerCase();
    if (coding && coding !== 'identity') {
      done(new ApiError('unsupported_media_type', `content-encoding ${coding} is not supported; send the body uncompressed`), undefined);
      return;
    }
    const raw = body as Buffer;
    req.rawBody = raw;
    parseJson(req, raw.toString('utf8'), done);
  });
}
