/**
 * The one HTTP server every fake upstream runs on: the sandbox's provider
 * fakes, the tests' upstreams and the benchmark's. It listens on loopback,
 * numbers the connections it accepts, and its close() really ends everything
 * (keep-alive, hanging and trickling connections included) so test files and
 * the sandbox exit.
 */
import http, { type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LoopbackServerOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the fakes are for this machine only. */
  host?: string;
  /** Largest request head in bytes (Node's default, 16 KiB, when unset): past it the socket is dropped, unanswered. */
  maxHeaderSize?: number;
}

export interface LoopbackServer {
  /** `http://host:port`, no trailing slash. */
  origin: string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** The 1-based number of the connection a socket came on (0 if unknown). */
  connectionOf(socket: Socket): number;
  /** Idempotent; resolves once the server and every connection are closed. */
  close(): Promise<void>;
}

export async function listenOnLoopback(listener: RequestListener, options: LoopbackServerOptions = {}): Promise<LoopbackServer> {
  const open = new Set<Socket>();
  const numbers = new WeakMap<Socket, number>();
  let accepted = 0;
  const server = http.createServer(options.maxHeaderSize === undefined ? {} : { maxHeaderSize: options.maxHeaderSize }, listener);
  server.on('connection', (socket) => {
    numbers.set(socket, ++accepted);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  // Clients that vanish mid-request must not raise unhandled errors here.
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    origin: `http://${host}:${address.port}`,
    connections: () => accepted,
    connectionOf: (socket) => numbers.get(socket) ?? 0,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hanging and keep-alive connections would hold close() open forever.
        for (const socket of open) socket.destroy();
      });
      return closed;
    },
  };
}
