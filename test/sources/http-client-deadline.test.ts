/**
 * The per-request timeout covers the whole answer, body included. It was
 * undici's headersTimeout and bodyTimeout only, and bodyTimeout bounds the gap
 * between two chunks: an upstream (or proxy) that sent headers and then a byte
 * now and then kept the request, and the sync task with its source's one
 * active slot, alive for good, never timed out nor retried.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseSourcesText } from '../../src/providers/declared/load-sources-file.js';
import { DeclaredSource } from '../../src/providers/declared/connector.js';
import { createSourceClient } from '../../src/sources/http-client.js';
import { silent } from '../declared/helpers.js';
import { startLoopback, type Loopback } from '../helpers/loopback.js';

let lb: Loopback;
beforeAll(async () => {
  lb = await startLoopback();
  lb.handler = (_u, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('[');
    const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 200);
    res.on('close', () => clearInterval(timer));
  };
});
afterAll(async () => lb?.close());

async function settlesWithin<T>(p: Promise<T>, ms: number): Promise<string> {
  const settled = p.then(
    () => 'resolved',
    (e: unknown) => `rejected: ${String(e)}`,
  );
  return Promise.race([settled, new Promise<string>((r) => setTimeout(() => r(`still running after ${ms} ms`), ms))]);
}

it('the client: a request with timeoutMs 500 ends within a few seconds even when the body trickles', async () => {
  const c = createSourceClient({ name: 'acme', baseUrl: lb.url, timeoutMs: 500, maxRetries: 0 });
  const ac = new AbortController();
  try {
    const outcome = await settlesWithin(c.request({ path: '/v1/items', signal: ac.signal }), 5_000);
    expect(outcome).toMatch(/^rejected: .*timed out after 500 ms/);
  } finally {
    ac.abort();
    await c.close();
  }
}, 20_000);

it('a declared source with timeout_seconds: 0.5 and max_retries: 0 does not hang on a trickling page', async () => {
  const [config] = parseSourcesText(
    JSON.stringify({
      sources: { acme: { type: 'customer', base_url: lb.url, path: '/v1/items', mapping: { external_id: 'id' }, timeout_seconds: 0.5, max_retries: 0 } },
    }),
    'sources.json',
  );
  const source = new DeclaredSource(config!);
  const ac = new AbortController();
  const run = (async () => {
    for await (const _page of source.pages({ signal: ac.signal, checkpoint: null, full: true, log: silent })) void _page;
  })();
  try {
    const outcome = await settlesWithin(run, 5_000);
    expect(outcome).toMatch(/^rejected: .*timed out after 500 ms/);
  } finally {
    ac.abort();
    await run.catch(() => {});
    await source.close();
  }
}, 20_000);
