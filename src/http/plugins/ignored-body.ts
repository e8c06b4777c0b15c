import type { FastifyInstance } from 'fastify';

/**
 * For a scope whose routes take no body (start a sync, cancel by path,
 * replay): whatever body a client sends along, in whatever content type,
 * is read and dropped, so such a request is answered as if it had none
 * rather than refused for a body the route never looks at. It is still
 * read within BODY_LIMIT (413 past it): no request costs more than that.
 */
export function ignoreBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));
}
