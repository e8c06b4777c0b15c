/** A tiny loopback HTTP server whose answers each test sets; records every raw request URL. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Loopback {
  url: string;
  seen: string[];
  /** The Authorization header of the last request, if any. */
  lastAuth?: string;
  handler: (u: URL, res: http.ServerResponse) => void;
  close(): Promise<void>;
}

export async function startLoopback(): Promise<Loopback> {
  const lb: Loopback = { url: '', seen: [], handler: (_u, res) => res.end(), close: async () => {} };
  const server = http.createServer((req, res) => {
    lb.seen.push(req.url ?? '');
    lb.lastAuth = req.headers.authorization;
    lb.handler(new URL(req.url ?? '/', 'http://x'), res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  lb.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  lb.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return lb;
}

export function json(res: http.ServerResponse, body: string | unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}
