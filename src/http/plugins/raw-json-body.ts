import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received, for signatures and the inbox copy. */
    rawBody?: Buffer;
  }
}

/**
 * Bodies are not decompressed: a gzip body would otherwise be "not JSON" (400),
 * and a mislabelled plain one taken; either way the coding is what is
 * unsupported. The refusal for a body with a content-encoding, or null.
 */
export function encodedBodyRefusal(req: FastifyRequest): ApiError | null {
  const coding = req.headers['content-encoding']?.trim().toLowerCase();
  return coding && coding !== 'identity'
    ? new ApiError('unsupported_media_type', `content-encoding ${coding} is not supported; send the body uncompressed`)
    : null;
}

/**
 * JSON is UTF-8 (RFC 8259), and bodies are read as UTF-8: a body declared in
 * another charset (utf-16, latin1) would be misread, so it is refused instead.
 * The refusal, or null.
 */
function charsetRefusal(req: FastifyRequest): ApiError | null {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  return charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii'
    ? new ApiError('unsupported_media_type', `charset ${charset} is not supported; send JSON in UTF-8`)
    : null;
}

/** What a refused body is told: where JSON.parse stopped, or which key was refused. */
function jsonRefusal(err: unknown): ApiError {
  const message = err instanceof Error ? err.message : String(err);
  return /prototype/i.test(message)
    ? new ApiError('invalid_json', 'the body has a "__proto__" or "constructor.prototype" key; such keys are refused wherever they are')
    : new ApiError('invalid_json', `the body is not valid JSON: ${message}`);
}

/**
 * JSON parsing that keeps the raw bytes. It parses with secure-json-parse (as
 * Fastify's own parser does), which refuses `__proto__` and
 * `constructor.prototype` keys, but says which fault it found: Fastify's
 * parser answers every fault with one sentence.
 */
export function rawJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // JSON is the one body type: Fastify's text/plain parser would hand a JSON
  // route a string, refused as the wrong shape (422) instead of the wrong type (415).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const refused = encodedBodyRefusal(req) ?? charsetRefusal(req);
    if (refused) {
      done(refused, undefined);
      return;
    }
    const raw = body as Buffer;
    req.rawBody = raw;
    // An empty body keeps Fastify's own answer.
    if (raw.length === 0) {
      parseJson(req, '', done);
      return;
    }
    let value: unknown;
    try {
      value = secureJson.parse(raw.toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (err) {
      done(jsonRefusal(err), undefined);
      return;
    }
    done(null, value);
  });
}
