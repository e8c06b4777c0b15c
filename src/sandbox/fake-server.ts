/**
 * What the provider fakes share on top of the loopback server: the request
 * log, carrying out injected faults, and a close() that also wakes every
 * pending latency or trickle timer so test files exit.
 *
 * A provider supplies only what differs: how it authenticates, how it routes,
 * and what its error bodies look like.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { FaultInjector, type FaultSpec, type StatusFault } from './faults.js';
import { listenOnLoopback } from './loopback-server.js';
import { RequestLog, type RequestLogEntry } from './request-log.js';

/** A request as a provider's handlers see it, body already read. */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body text ('' when none). */
  rawBody: string;
  /** The body parsed as JSON; undefined when empty or not JSON (see `bodyIsJson`). */
  body: unknown;
  bodyIsJson: boolean;
}

/** An answer: JSON (serialized here) or raw text with its content type. */
export type FakeResponse =
  { status: number; headers?: Record<string, string>; json: unknown } | { status: number; headers?: Record<string, string>; text: string; contentType: string };

export interface FakeProvider {
  /** null lets the request through; otherwise the refusal to send (faults do not apply to it). */
  authenticate(req: FakeRequest): FakeResponse | null;
  route(req: FakeRequest): FakeResponse;
  /** The answer for an injected status fault, in the provider's error shape. */
  errorFor(fault: Readonly<StatusFault>, req: FakeRequest): FakeResponse;
  /** The record array a `missing-collection` malformation drops from a page. */
  collectionKey: string;
}

export interface FakeServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the fakes are for this machine only. */
  host?: string;
  /** Time from a request to its answer, in ms (default 0): the answer's making counts towards it. */
  latencyMs?: number;
  /** Newest requests kept in the log (default 10,000). */
  requestLogLimit?: number;
  /** Largest request head in bytes (see LoopbackServerOptions): a fake that answers over-long URLs itself takes more. */
  maxHeaderSize?: number;
  /** Requests answered at once; one more is refused with the provider's 429 (Mailchimp allows 10 connections). Default: no limit. */
  maxInFlight?: number;
}

/** Requests between arrival and answer, as the server counts them. */
export interface InFlightCount {
  now: number;
  /** The most at once since the start (or the last reset). */
  peak: number;
  /** Refused for being one too many. */
  refused: number;
  reset(): void;
}

export interface FakeServer {
  /** `http://host:port`, no trailing slash. */
  origin: string;
  faults: FaultInjector;
  requests: RequestLog;
  inFlight: InFlightCount;
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json;charset=utf-8';

export async function startFakeServer(
  makeProvider: (origin: string) => FakeProvider,
  options: FakeServerOptions = {},
  requests: RequestLog = new RequestLog(options.requestLogLimit),
): Promise<FakeServer> {
  const faults = new FaultInjector(options.latencyMs ?? 0);
  // Aborted by close(): wakes every pending latency or trickle timer so none outlives the server.
  const closing = new AbortController();
  let provider: FakeProvider | undefined;
  const inFlight: InFlightCount = {
    now: 0,
    peak: 0,
    refused: 0,
    reset() {
      this.peak = this.now;
      this.refused = 0;
    },
  };

  const server = await listenOnLoopback((req, res) => {
    if (!provider) {
      res.destroy();
      return;
    }
    inFlight.now += 1;
    inFlight.peak = Math.max(inFlight.peak, inFlight.now);
    // Counted until the answer is written or the connection goes (a hang counts until close()).
    let counted = true;
    const release = () => {
      if (counted) inFlight.now -= 1;
      counted = false;
    };
    res.once('close', release);
    res.once('finish', release);
    if (options.maxInFlight !== undefined && inFlight.now > options.maxInFlight) {
      inFlight.refused += 1;
      const p = provider;
      readRequest(req).then(
        (request) => {
          const entry = requests.add({
            method: request.method,
            path: request.path,
            query: flattenQuery(request.query),
            body: undefined,
            headers: request.headers,
            time: Date.now(),
          });
          respond(res, entry, p.errorFor({ kind: 'status', status: 429 }, request));
        },
        () => res.destroy(),
      );
      return;
    }
    handle(provider, req, res).catch((err: unknown) => {
      // A handler bug must not crash the test process; the client sees a 500 that says what broke.
      if (!res.headersSent) send(res, { status: 500, json: { message: `fake server error: ${String(err)}` } });
      else res.destroy();
    });
  }, options);

  async function handle(p: FakeProvider, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const request = await readRequest(req);
    const entry = requests.add({
      method: request.method,
      path: request.path,
      query: flattenQuery(request.query),
      body: request.rawBody === '' ? undefined : request.bodyIsJson ? request.body : request.rawBody,
      headers: request.headers,
      time: Date.now(),
    });

    const refusal = p.authenticate(request);
    if (refusal) return respond(res, entry, refusal);

    const fault = faults.take(request.path);
    if (fault) entry.fault = fault.kind;

    const latency = faults.latencyFor(request.path);
    if (fault) {
      if (latency > 0 && !(await sleep(latency, closing.signal))) return;
      return carryOut(p, fault, request, res, entry);
    }
    // The latency is the time from the request to the answer, the making of
    // the answer included, as a real API's response time is: a page of
    // 1,000 generated campaigns takes the fake ~10 ms of its own.
    const answer = p.route(request);
    const encoded = encode(answer);
    const wait = latency - (performance.now() - arrived);
    if (wait > 0 && !(await sleep(wait, closing.signal))) return;
    entry.status = answer.status;
    write(res, answer.status, encoded);
  }

  async function carryOut(p: FakeProvider, fault: Readonly<FaultSpec>, request: FakeRequest, res: ServerResponse, entry: RequestLogEntry): Promise<void> {
    switch (fault.kind) {
      case 'status':
        return respond(res, entry, p.errorFor(fault, request));
      case 'reset':
        res.socket?.destroy();
        return;
      case 'hang':
        if (fault.afterHeaders) {
          entry.status = 200;
          res.writeHead(200, { 'content-type': JSON_TYPE });
          res.flushHeaders();
        }
        return; // never answered; close() destroys the socket
      case 'malformed':
        return respond(res, entry, malform(p.route(request), fault.variant, p.collectionKey));
      case 'slow': {
        const answer = p.route(request);
        const { body, headers } = encode(answer);
        entry.status = answer.status;
        res.writeHead(answer.status, { ...headers, 'content-length': String(body.length) });
        res.flushHeaders();
        const pieces = Math.max(1, Math.min(fault.chunks ?? 10, body.length || 1));
        const size = Math.ceil(body.length / pieces);
        for (let start = 0; start < body.length; start += size) {
          if (!(await sleep(fault.chunkDelayMs ?? 100, closing.signal)) || res.destroyed) return;
          res.write(body.subarray(start, start + size));
        }
        res.end();
        return;
      }
    }
  }

  provider = makeProvider(server.origin);

  return {
    origin: server.origin,
    faults,
    requests,
    inFlight,
    close() {
      closing.abort();
      return server.close();
    },
  };
}

function respond(res: ServerResponse, entry: RequestLogEntry, answer: FakeResponse): void {
  entry.status = answer.status;
  send(res, answer);
}

function send(res: ServerResponse, answer: FakeResponse): void {
  write(res, answer.status, encode(answer));
}

function write(res: ServerResponse, status: number, { body, headers }: { body: Buffer; headers: Record<string, string> }): void {
  if (res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

function encode(answer: FakeResponse): { body: Buffer; headers: Record<string, string> } {
  if ('json' in answer) {
    return {
      body: Buffer.from(JSON.stringify(answer.json) ?? ''),
      headers: { 'content-type': JSON_TYPE, ...answer.headers },
    };
  }
  return { body: Buffer.from(answer.text), headers: { 'content-type': answer.contentType, ...answer.headers } };
}

/** Turn a good page into the kind of bad page the fault asks for. */
function malform(answer: FakeResponse, variant: 'invalid-json' | 'missing-collection' | 'empty-body', key: string): FakeResponse {
  const headers = answer.headers ?? {};
  switch (variant) {
    case 'empty-body':
      return { status: 200, headers, text: '', contentType: JSON_TYPE };
    case 'invalid-json': {
      const text = 'json' in answer ? (JSON.stringify(answer.json) ?? '') : answer.text;
      return { status: 200, headers, text: text.slice(0, Math.max(1, Math.floor(text.length / 2))), contentType: JSON_TYPE };
    }
    case 'missing-collection': {
      if (!('json' in answer) || !isPlainObject(answer.json)) return { status: 200, headers, json: {} };
      const { [key]: _dropped, ...rest } = answer.json;
      return { status: 200, headers, json: rest };
    }
  }
}

async function readRequest(req: IncomingMessage): Promise<FakeRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  let bodyIsJson = false;
  if (rawBody !== '') {
    try {
      body = JSON.parse(rawBody);
      bodyIsJson = true;
    } catch {
      body = undefined;
    }
  }
  const url = new URL(req.url ?? '/', 'http://fake.invalid');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    rawBody,
    body,
    bodyIsJson,
  };
}

function flattenQuery(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of new Set(query.keys())) out[name] = query.getAll(name).join(',');
  return out;
}

/** Resolves true after `ms`, or false as soon as the server closes. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
