/**
 * The fake upstream for tests and the benchmark: a real HTTP server on
 * loopback (the sandbox fakes' server) that records what it receives and
 * answers with a handler the test gives, at start or later. The paged APIs
 * the suites share are handlers for it: `pagedItemsApi` (GET /items?after=),
 * `restApi` (a generic REST API with every paging style, for declared
 * sources) and the benchmark's `plainContactsApi`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { listenOnLoopback } from '../../src/sandbox/loopback-server.js';

/** What the fake upstream saw of one request. */
export interface SeenRequest {
  /** 1-based arrival order. */
  n: number;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** performance.now() when the request (headers and body) arrived. */
  at: number;
  /** Which TCP connection it came on (1-based). */
  connection: number;
  /** True once the client went away before the response was finished. */
  abandoned: boolean;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: SeenRequest) => void | Promise<void>;

export interface UpstreamOptions {
  /** Keep every request, body included, in `requests` (default true); the benchmark turns it off. */
  record?: boolean;
}

export interface Upstream {
  url: string;
  requests: SeenRequest[];
  /** Answers every request; a test may swap it at any time. */
  handler: Handler;
  /** The raw URLs (path and query) of the requests, in order. */
  urls(): string[];
  /** TCP connections opened so far. */
  connections(): number;
  /** The most requests that were in flight at once. */
  maxInFlight(): number;
  /** Resolves when a request abandoned by the client has been seen (or rejects after `ms`). */
  waitForAbandoned(ms?: number): Promise<SeenRequest>;
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, JSON.stringify(body) ?? '', headers);
}

/** JSON already written as text: numbers JSON.stringify could not write (past 2^53), or a body made fast. */
export function sendJsonText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** The request's URL, parsed (its origin is a placeholder). */
export function urlOf(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'http://upstream.invalid');
}

/** A real HTTP server on 127.0.0.1 that records what it receives and answers with `handler` (404 until one is set). */
export async function startUpstream(handler?: Handler, options: UpstreamOptions = {}): Promise<Upstream> {
  const requests: SeenRequest[] = [];
  let arrived = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const abandonedWaiters: Array<(seen: SeenRequest) => void> = [];

  const server = await listenOnLoopback((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const answer = (body: string) => {
      const seen: SeenRequest = {
        n: ++arrived,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: performance.now(),
        connection: server.connectionOf(req.socket),
        abandoned: false,
      };
      if (options.record !== false) requests.push(seen);
      res.on('close', () => {
        inFlight--;
        if (!res.writableFinished) {
          seen.abandoned = true;
          for (const wake of abandonedWaiters.splice(0)) wake(seen);
        }
      });
      Promise.resolve(upstream.handler(req, res, seen)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    };
    if (options.record === false) {
      // Unrecorded (the benchmark): answer at once, as a bare server would, and drop the body.
      req.resume();
      answer('');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(Buffer.concat(chunks).toString('utf8')));
  });

  const upstream: Upstream = {
    url: server.origin,
    requests,
    handler: handler ?? ((_req, res) => sendJson(res, 404, { error: 'no handler' })),
    urls: () => requests.map((r) => r.url),
    connections: () => server.connections(),
    maxInFlight: () => maxInFlight,
    waitForAbandoned(ms = 2_000) {
      const already = requests.find((r) => r.abandoned);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no abandoned request within ${ms} ms`)), ms);
        abandonedWaiters.push((seen) => {
          clearTimeout(timer);
          resolve(seen);
        });
      });
    },
    close: () => server.close(),
  };
  return upstream;
}

/** Resolves once `predicate` holds, polling every few ms (for server-side conditions). */
export async function until(predicate: () => boolean, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
