/**
 * An upstream error page that echoes the request (its URL, with the API key
 * sent in the query, or the Authorization header) was quoted as it came into
 * the error, which becomes the task's `error` that GET /tasks shows to anyone
 * with access to the API. The credentials are now masked before quoting.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declaredSource, walk } from './helpers.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';

const KEY = 'k3y/with+chars=';
const TOKEN = 'tok-0123456789';
let lb: Loopback;
beforeAll(async () => {
  lb = await startLoopback();
  lb.handler = (u, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end(`forbidden: ${u.pathname}${u.search} (authorization was ${String(lb.lastAuth)})`);
  };
});
afterAll(async () => lb?.close());

for (const [name, auth, env, secret] of [
  ['an API key in the query', { kind: 'api_key', in: 'query', name: 'api_key', key_env: 'ACME_KEY' }, { ACME_KEY: KEY }, KEY],
  ['a bearer token', { kind: 'bearer', token_env: 'ACME_TOKEN' }, { ACME_TOKEN: TOKEN }, TOKEN],
] as const) {
  it(`an error body echoing ${name} is quoted without it`, async () => {
    const source = declaredSource('acme', { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, auth }, env);
    const message = await walk(source).then(
      () => 'walked',
      (e: unknown) => String(e),
    );
    await source.close();
    expect(message).toContain('403');
    expect(message).toContain('[redacted]');
    expect(message).not.toContain(secret);
    expect(message).not.toContain(encodeURIComponent(secret));
  });
}
