import type { FastifyInstance } from 'fastify';

/**
 * For a scope whose routes take no body (start a sync, cancel by path,
 * replay): whatever body a client sends along, in whatever content type,
 * is read and dropped, so such a request is answered as if it had none
 * rather than refused for a body the route never looks at.
 */
export function ignoreBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, payload, done) => {
    // Read to the end, so a keep-alive connection is left at the next request.
    payload.on('error', (err) => done(err, undefined));
    payload.on('end', () => done(null, undefined));
    payload.resume();
  });
}
