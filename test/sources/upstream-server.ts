import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

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

export interface Upstream {
  url: string;
  requests: SeenRequest[];
  /** TCP connections opened so far. */
  connections(): number;
  /** The most requests that were in flight at once. */
  maxInFlight(): number;
  /** Resolves when a request abandoned by the client has been seen (or rejects after `ms`). */
  waitForAbandoned(ms?: number): Promise<SeenRequest>;
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A real HTTP server on 127.0.0.1 that records what it receives and answers with `handler`. */
export async function startUpstream(handler: Handler): Promise<Upstream> {
  const requests: SeenRequest[] = [];
  const sockets = new Map<Socket, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const abandonedWaiters: Array<(seen: SeenRequest) => void> = [];

  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen: SeenRequest = {
        n: requests.length + 1,
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: performance.now(),
        connection: sockets.get(req.socket) ?? 0,
        abandoned: false,
      };
      requests.push(seen);
      res.on('close', () => {
        inFlight--;
        if (!res.writableFinished) {
          seen.abandoned = true;
          for (const wake of abandonedWaiters.splice(0)) wake(seen);
        }
      });
      Promise.resolve(handler(req, res, seen)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, sockets.size + 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => sockets.size,
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
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Resolves once `predicate` holds, polling every few ms (for server-side conditions). */
export async function until(predicate: () => boolean, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
