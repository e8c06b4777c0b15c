import { type AddressInfo, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeclaredSource } from '../../src/providers/declared/connector.js';
import { parseSourcesText } from '../../src/providers/declared/load-sources-file.js';
import { createSourceClient, type RetryReason, type SourceClient, type SourceClientOptions } from '../../src/sources/http-client.js';
import {
  RateLimitParkedError,
  UpstreamHttpError,
  UpstreamInvalidJsonError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../src/sources/upstream-errors.js';
import { silent } from '../providers/declared/helpers.js';
import { type Handler, sendJson, startUpstream, until, type Upstream } from '../helpers/upstream.js';

const TOKEN = 'pat-na1-secret-token';

const upstreams: Upstream[] = [];
const clients: SourceClient[] = [];

afterEach(async () => {
  // Servers first: closing them ends any hanging response, so the clients close at once.
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function upstream(handler: Handler): Promise<Upstream> {
  const u = await startUpstream(handler);
  upstreams.push(u);
  return u;
}

function client(baseUrl: string, options: Partial<SourceClientOptions> = {}): SourceClient {
  const c = createSourceClient({
    name: 'crm',
    baseUrl,
    headers: { Authorization: `Bearer ${TOKEN}` },
    baseDelayMs: 10,
    maxDelayMs: 50,
    timeoutMs: 2_000,
    ...options,
  });
  clients.push(c);
  return c;
}

/** The rejection of `promise`, failing the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** Answers the n-th request with statuses[n-1] (an empty body), then 200 {ok: true}. */
function failFirst(statuses: number[], headers: Record<string, string> = {}): Handler {
  return (_req, res, seen) => {
    const status = statuses[seen.n - 1];
    if (status === undefined) return sendJson(res, 200, { ok: true, n: seen.n });
    sendJson(res, status, { message: `failure ${seen.n}` }, headers);
  };
}

const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('source HTTP client: requests and responses', () => {
  it('sends default and request headers and parses the JSON body', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, { results: [{ id: '1' }] }, { 'x-page': '1' }));
    const c = client(u.url);
    const res = await c.request<{ results: Array<{ id: string }> }>({
      path: '/crm/v3/objects/contacts',
      headers: { 'X-Trace': 'abc' },
    });

    expect(res.status).toBe(200);
    expect(res.body.results[0]?.id).toBe('1');
    expect(res.headers['x-page']).toBe('1');
    const [seen] = u.requests;
    expect(seen?.method).toBe('GET');
    expect(seen?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen?.headers.accept).toBe('application/json');
    expect(seen?.headers['x-trace']).toBe('abc');
  });

  it('posts a JSON body; a request header overrides a default one whatever its case', async () => {
    const u = await upstream((_req, res, seen) => sendJson(res, 200, { echo: JSON.parse(seen.body) as unknown }));
    const c = client(u.url);
    const res = await c.request({
      method: 'POST',
      path: '/crm/v3/objects/contacts/search',
      body: { filterGroups: [], limit: 100 },
      headers: { authorization: 'Bearer other' },
    });

    expect(res.body).toEqual({ echo: { filterGroups: [], limit: 100 } });
    const [seen] = u.requests;
    expect(seen?.method).toBe('POST');
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.headers.authorization).toBe('Bearer other');
  });

  it('answers null for an empty body', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const res = await client(u.url).request({ path: '/nothing' });
    expect(res).toMatchObject({ status: 204, body: null });
  });

  it('encodes the query, leaves out undefined values and keeps a base path prefix', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    const c = client(`${u.url}/3.0/`);
    await c.request({
      path: '/lists/abc/members',
      query: { q: 'a b&c=d/é', count: 1000, archived: false, since: undefined, 'odd key': 'x+y' },
    });
    await c.request({ path: 'campaigns?fields=id', query: { offset: 10 } });

    expect(u.requests[0]?.url).toBe('/3.0/lists/abc/members?q=a%20b%26c%3Dd%2F%C3%A9&count=1000&archived=false&odd%20key=x%2By');
    expect(u.requests[1]?.url).toBe('/3.0/campaigns?fields=id&offset=10');
    const params = new URL(u.requests[0]?.url ?? '', u.url).searchParams;
    expect(params.get('q')).toBe('a b&c=d/é');
    expect(params.get('odd key')).toBe('x+y');
  });

  it('follows an absolute paging link on its own origin and refuses another origin', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    const c = client(u.url);
    await c.request({ path: `${u.url}/crm/v3/objects/contacts?after=42` });
    expect(u.requests[0]?.url).toBe('/crm/v3/objects/contacts?after=42');

    const error = await rejection(c.request({ path: 'http://evil.example/steal' }));
    expect(error).toBeInstanceOf(TypeError);
    expect(u.requests).toHaveLength(1);
  });

  it('keeps connections alive between requests', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    const single = client(u.url, { concurrency: 1 });
    for (let i = 0; i < 8; i++) await single.request({ path: '/page' });
    expect(u.connections()).toBe(1);

    // With room for more, undici's pool may alternate between two sockets, but opens no new one per request.
    const pooled = client(u.url);
    for (let i = 0; i < 8; i++) await pooled.request({ path: '/page' });
    expect(u.requests).toHaveLength(16);
    expect(u.connections()).toBeLessThanOrEqual(3);
  });

  it('reports every response to onResponse and accepts a pino logger', async () => {
    const u = await upstream(failFirst([503]));
    const seen: Array<[number, number]> = [];
    const c = client(u.url, {
      logger: pino({ level: 'silent' }),
      hooks: { onResponse: (status, ms) => seen.push([status, ms]) },
    });
    await c.request({ path: '/x' });
    expect(seen.map(([status]) => status)).toEqual([503, 200]);
    for (const [, ms] of seen) expect(ms).toBeGreaterThanOrEqual(0);
  });
});

describe('source HTTP client: retries', () => {
  it('honours Retry-After: 1 on a 429, then succeeds', async () => {
    const u = await upstream(failFirst([429], { 'retry-after': '1' }));
    const retries: Array<[number, RetryReason, number]> = [];
    const c = client(u.url, { hooks: { onRetry: (attempt, reason, delayMs) => retries.push([attempt, reason, delayMs]) } });

    const res = await c.request({ path: '/contacts' });

    expect(res.body).toEqual({ ok: true, n: 2 });
    expect(u.requests).toHaveLength(2);
    const gap = (u.requests[1]?.at ?? 0) - (u.requests[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(5_000);
    expect(retries).toEqual([[1, 'http_429', 1_000]]);
  });

  it('retries a burst of 500, 503, 502 and 504, then succeeds', async () => {
    const u = await upstream(failFirst([500, 503, 502, 504]));
    const reasons: RetryReason[] = [];
    const c = client(u.url, { hooks: { onRetry: (_attempt, reason) => reasons.push(reason) } });

    const res = await c.request({ path: '/contacts' });

    expect(res.body).toEqual({ ok: true, n: 5 });
    expect(u.requests).toHaveLength(5);
    expect(reasons).toEqual(['http_500', 'http_503', 'http_502', 'http_504']);
  });

  it('throws UpstreamHttpError with the attempt count after the last retry', async () => {
    const u = await upstream((_req, res) => sendJson(res, 503, { message: 'down for maintenance' }));
    const c = client(u.url, { maxRetries: 2 });

    const error = await rejection(c.request({ path: '/contacts' }));

    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect(error).toMatchObject({
      status: 503,
      attempts: 3,
      source: 'crm',
      method: 'GET',
      path: '/contacts',
      code: 'UPSTREAM_HTTP',
      name: 'UpstreamHttpError',
    });
    expect((error as UpstreamHttpError).bodyExcerpt).toContain('down for maintenance');
    expect(u.requests).toHaveLength(3);
  });

  it('retries a reset connection', async () => {
    const u = await upstream((req, res, seen) => {
      if (seen.n === 1) {
        req.socket.destroy();
        return;
      }
      sendJson(res, 200, { ok: true });
    });
    const reasons: RetryReason[] = [];
    const c = client(u.url, { hooks: { onRetry: (_attempt, reason) => reasons.push(reason) } });

    const res = await c.request({ path: '/contacts' });

    expect(res.body).toEqual({ ok: true });
    expect(u.requests).toHaveLength(2);
    expect(reasons).toEqual(['network']);
  });

  it('retries a refused connection, then throws UpstreamUnavailableError with the cause', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const reasons: RetryReason[] = [];
    const c = client(`http://127.0.0.1:${port}`, { maxRetries: 2, hooks: { onRetry: (_a, reason) => reasons.push(reason) } });

    const error = await rejection(c.request({ path: '/contacts' }));

    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ attempts: 3, networkCode: 'ECONNREFUSED', code: 'UPSTREAM_UNAVAILABLE' });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(reasons).toEqual(['network', 'network']);
  });

  it('times out a hanging request, retries it, and succeeds when the server recovers', async () => {
    const u = await upstream((_req, res, seen) => {
      if (seen.n === 1) return; // never answers
      sendJson(res, 200, { ok: true });
    });
    const reasons: RetryReason[] = [];
    const c = client(u.url, { timeoutMs: 200, hooks: { onRetry: (_a, reason) => reasons.push(reason) } });

    const res = await c.request({ path: '/contacts' });

    expect(res.body).toEqual({ ok: true });
    expect(u.requests).toHaveLength(2);
    expect(u.requests[0]?.abandoned).toBe(true);
    expect(reasons).toEqual(['timeout']);
    const gap = (u.requests[1]?.at ?? 0) - (u.requests[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(180);
  });

  it('throws UpstreamTimeoutError once every attempt timed out', async () => {
    const u = await upstream(() => undefined);
    const c = client(u.url, { timeoutMs: 100, maxRetries: 1 });

    const error = await rejection(c.request({ path: '/contacts' }));

    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ attempts: 2, timeoutMs: 100, code: 'UPSTREAM_TIMEOUT', networkCode: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(u.requests).toHaveLength(2);
  });

  it('does not retry a 404, and its error names the call but not the credentials', async () => {
    const u = await upstream((_req, res) => sendJson(res, 404, { status: 'error', message: 'resource not found' }));
    const c = client(u.url);

    const error = await rejection(c.request({ path: '/crm/v3/objects/contacts/9', query: { hapikey: 'query-secret' } }));

    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect(error).toMatchObject({ status: 404, attempts: 1, method: 'GET', path: '/crm/v3/objects/contacts/9' });
    const message = (error as Error).message;
    expect(message).toContain('GET /crm/v3/objects/contacts/9');
    expect(message).toContain('404');
    expect(message).toContain('resource not found');
    const everything = `${message} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain('query-secret');
    await sleepMs(100);
    expect(u.requests).toHaveLength(1);
  });

  it('retries a malformed JSON body and succeeds when it heals', async () => {
    const u = await upstream((_req, res, seen) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(seen.n === 1 ? '{"results": [' : '{"results": []}');
    });
    const reasons: RetryReason[] = [];
    const c = client(u.url, { hooks: { onRetry: (_a, reason) => reasons.push(reason) } });

    const res = await c.request({ path: '/contacts' });

    expect(res.body).toEqual({ results: [] });
    expect(reasons).toEqual(['invalid_json']);
  });

  it('gives up on malformed JSON after maxInvalidJsonRetries with UpstreamInvalidJsonError', async () => {
    const u = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy error</html>');
    });
    const c = client(u.url, { maxRetries: 5, maxInvalidJsonRetries: 2 });

    const error = await rejection(c.request({ path: '/contacts' }));

    expect(error).toBeInstanceOf(UpstreamInvalidJsonError);
    expect(error).toMatchObject({ status: 200, attempts: 3, code: 'UPSTREAM_INVALID_JSON', bodyExcerpt: '<html>proxy error</html>' });
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    expect(u.requests).toHaveLength(3);
  });
});

describe('source HTTP client: abort', () => {
  it('aborts an in-flight request at once and sends nothing more', async () => {
    const u = await upstream(() => undefined);
    const c = client(u.url, { timeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = rejection(c.request({ path: '/contacts', signal: controller.signal }));

    await until(() => u.requests.length === 1);
    const abortedAt = performance.now();
    controller.abort();
    const error = await pending;

    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect((error as Error).name).toBe('AbortError');
    await u.waitForAbandoned(); // the server saw the connection go
    await sleepMs(200);
    expect(u.requests).toHaveLength(1);
  });

  it('rejects with the signal reason when it is an error', async () => {
    const u = await upstream(() => undefined);
    const c = client(u.url);
    const controller = new AbortController();
    const reason = new Error('task cancelled');
    const pending = rejection(c.request({ path: '/contacts', signal: controller.signal }));
    await until(() => u.requests.length === 1);
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });

  it('aborts a backoff sleep', async () => {
    const u = await upstream(failFirst([503, 503], { 'retry-after': '5' }));
    const c = client(u.url);
    const controller = new AbortController();
    const pending = rejection(c.request({ path: '/contacts', signal: controller.signal }));

    await until(() => u.requests.length === 1);
    await sleepMs(50); // now in the 5 s sleep
    const abortedAt = performance.now();
    controller.abort();
    const error = await pending;

    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect((error as Error).name).toBe('AbortError');
    await sleepMs(200);
    expect(u.requests).toHaveLength(1);
  });

  it('aborts a wait in the rate-limit queue', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    const c = client(u.url, { rateLimit: { requests: 1, perMs: 10_000 } });
    await c.request({ path: '/first' });
    const controller = new AbortController();
    const pending = rejection(c.request({ path: '/second', signal: controller.signal }));

    await sleepMs(50);
    const abortedAt = performance.now();
    controller.abort();
    const error = await pending;

    expect(performance.now() - abortedAt).toBeLessThan(500);
    expect((error as Error).name).toBe('AbortError');
    expect(u.requests.map((r) => r.url)).toEqual(['/first']);
  });

  it('makes no request when the signal is already aborted', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    const error = await rejection(client(u.url).request({ path: '/x', signal: AbortSignal.abort() }));
    expect((error as Error).name).toBe('AbortError');
    await sleepMs(50);
    expect(u.requests).toHaveLength(0);
  });
});

describe('source HTTP client: rate limit and concurrency', () => {
  it('starts at most `requests` in any window of `perMs`', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    // A window long beside the scheduling jitter of a loaded CI machine (arrivals seen 80+ ms late).
    const c = client(u.url, { rateLimit: { requests: 5, perMs: 500 }, concurrency: 5 });
    // Warm up: open the 5 sockets first, so no arrival in the burst is late by a connect
    // (which would squeeze the gaps the server sees).
    await Promise.all(Array.from({ length: 5 }, () => c.request({ path: '/warm-up' })));
    await sleepMs(550);
    u.requests.length = 0;

    await Promise.all(Array.from({ length: 15 }, (_, i) => c.request({ path: `/r/${i}` })));

    const at = u.requests.map((r) => r.at).sort((a, b) => a - b);
    expect(at).toHaveLength(15);
    // Any 6 consecutive arrivals span at least one window (less a margin for loopback jitter).
    for (let i = 0; i + 5 < at.length; i++) {
      expect((at[i + 5] ?? 0) - (at[i] ?? 0)).toBeGreaterThanOrEqual(500 - 150);
    }
  });

  it('keeps at most `concurrency` requests in flight, on as many connections', async () => {
    const u = await upstream((_req, res) => {
      setTimeout(() => sendJson(res, 200, {}), 50);
    });
    const c = client(u.url, { concurrency: 3 });

    await Promise.all(Array.from({ length: 12 }, (_, i) => c.request({ path: `/r/${i}` })));

    expect(u.requests).toHaveLength(12);
    expect(u.maxInFlight()).toBe(3);
    expect(u.connections()).toBeLessThanOrEqual(3);
  });

  it('does not hold a concurrency slot while sleeping in backoff', async () => {
    const u = await upstream((_req, res, seen) => {
      if (seen.n === 1) return sendJson(res, 503, {}, { 'retry-after': '1' });
      sendJson(res, 200, {});
    });
    const c = client(u.url, { concurrency: 1 });
    const flaky = c.request({ path: '/flaky' });
    await until(() => u.requests.length === 1);
    const started = performance.now();
    await c.request({ path: '/other' });
    expect(performance.now() - started).toBeLessThan(500);
    await flaky;
  });
});

describe('source HTTP client: parking', () => {
  const hubspotDaily = (status: number, _headers: unknown, body: unknown) =>
    typeof body === 'object' && body !== null && (body as { policyName?: unknown }).policyName === 'DAILY'
      ? { park: true as const, retryAt: Date.parse('2030-01-02T00:00:00Z'), reason: 'HubSpot daily limit' }
      : ('retry' as const);

  it('parks on a 429 the connector classifies, without retrying', async () => {
    const u = await upstream((_req, res) => sendJson(res, 429, { status: 'error', message: 'You have reached your daily limit.', policyName: 'DAILY' }));
    const calls: Array<[number, unknown]> = [];
    const c = client(u.url, {
      classifyRateLimit: (status, headers, body) => {
        calls.push([status, body]);
        expect(headers['content-type']).toBe('application/json');
        return hubspotDaily(status, headers, body);
      },
    });

    const error = await rejection(c.request({ path: '/crm/v3/objects/contacts' }));

    expect(error).toBeInstanceOf(RateLimitParkedError);
    expect(error).toMatchObject({
      status: 429,
      retryAt: Date.parse('2030-01-02T00:00:00Z'),
      reason: 'HubSpot daily limit',
      attempts: 1,
      code: 'UPSTREAM_RATE_LIMIT_PARKED',
      name: 'RateLimitParkedError', // the task runner matches on the name
    });
    expect(calls).toEqual([[429, { status: 'error', message: 'You have reached your daily limit.', policyName: 'DAILY' }]]);
    await sleepMs(100);
    expect(u.requests).toHaveLength(1);
  });

  it('retries a 429 the connector classifies as retry', async () => {
    const u = await upstream((_req, res, seen) => {
      if (seen.n === 1) return sendJson(res, 429, { policyName: 'TEN_SECONDLY_ROLLING' });
      sendJson(res, 200, { ok: true });
    });
    const c = client(u.url, { classifyRateLimit: hubspotDaily });
    const res = await c.request({ path: '/crm/v3/objects/contacts' });
    expect(res.body).toEqual({ ok: true });
    expect(u.requests).toHaveLength(2);
  });

  it('parks on a Retry-After longer than maxRetryAfterMs', async () => {
    const u = await upstream((_req, res) => sendJson(res, 429, {}, { 'retry-after': '120' }));
    const c = client(u.url, { maxRetryAfterMs: 60_000 });

    const before = Date.now();
    const error = await rejection(c.request({ path: '/lists' }));

    expect(error).toBeInstanceOf(RateLimitParkedError);
    const { retryAt, status } = error as RateLimitParkedError;
    expect(status).toBe(429);
    expect(retryAt).toBeGreaterThanOrEqual(before + 120_000);
    expect(retryAt).toBeLessThan(before + 125_000);
    await sleepMs(100);
    expect(u.requests).toHaveLength(1);
  });

  it('parks on a Retry-After HTTP date beyond the limit, also on a 503', async () => {
    const later = new Date(Date.now() + 3_600_000).toUTCString();
    const u = await upstream((_req, res) => sendJson(res, 503, {}, { 'retry-after': later }));
    const c = client(u.url);

    const error = await rejection(c.request({ path: '/lists' }));

    expect(error).toBeInstanceOf(RateLimitParkedError);
    expect(error).toMatchObject({ status: 503 });
    expect(Math.abs((error as RateLimitParkedError).retryAt - Date.parse(later))).toBeLessThan(2_000);
    expect(u.requests).toHaveLength(1);
  });
});

describe('source HTTP client: close', () => {
  it('refuses requests after close', async () => {
    const u = await upstream((_req, res) => sendJson(res, 200, {}));
    const c = client(u.url);
    await c.request({ path: '/x' });
    await c.close();
    await c.close(); // idempotent

    const error = await rejection(c.request({ path: '/y' }));
    expect((error as Error).message).toContain('closed');
    expect(u.requests).toHaveLength(1);
  });
});

/**
 * The per-request timeout covers the whole answer, body included. It was
 * undici's headersTimeout and bodyTimeout only, and bodyTimeout bounds the gap
 * between two chunks: an upstream (or proxy) that sent headers and then a byte
 * now and then kept the request, and the sync task with its source's one
 * active slot, alive for good, never timed out nor retried.
 */
describe('one deadline for the whole answer', () => {
  let lb: Upstream;
  beforeAll(async () => {
    lb = await startUpstream();
    lb.handler = (_req, res) => {
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
});

/**
 * A response body is read whole into memory with no size limit and no overall
 * deadline (timeoutMs only bounds the gap between chunks): an upstream (or a
 * proxy) that keeps streaming holds the call forever while memory grows.
 */
describe('an endless body', () => {
  const ups: Upstream[] = [];
  const clients: SourceClient[] = [];
  afterEach(async () => {
    await Promise.all(ups.splice(0).map((u) => u.close()));
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  it('an endless body is cut off (size limit or total deadline) instead of being buffered forever', async () => {
    let sent = 0;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const u = await startUpstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.write('<html>');
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(chunk);
        sent += chunk.length;
      }, 10);
      res.on('close', () => clearInterval(timer));
    });
    ups.push(u);
    const c = createSourceClient({ name: 'crm', baseUrl: u.url, timeoutMs: 1_000, maxRetries: 0 });
    clients.push(c);
    const controller = new AbortController();
    const call = c.request({ path: '/x', signal: controller.signal }).then(
      () => 'resolved',
      (e: unknown) => `rejected: ${String(e)}`,
    );
    const settled = await Promise.race([call, new Promise((r) => setTimeout(() => r('still reading'), 6_000))]);
    controller.abort();
    await call;
    expect(settled, `${Math.round(sent / 1e6)} MB streamed and buffered so far`).toMatch(/^rejected/);
  }, 20_000);
});
