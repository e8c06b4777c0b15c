import net from 'node:net';

/**
 * A real TCP proxy between the service and a database server, to play the
 * network's faults: `freeze()` stops forwarding in both directions (a hung
 * server: connections stay open, nothing answers) until `thaw()`;
 * `drop()` cuts every open connection (a restart seen from the client).
 */
export interface TcpProxy {
  port: number;
  /** Connections opened through the proxy so far. */
  connections: number;
  freeze(): void;
  thaw(): void;
  drop(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  server: net.Socket;
  /** Bytes held while frozen, in order, per direction. */
  toServer: Buffer[];
  toClient: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let frozen = false;

  const flush = (p: Pair) => {
    for (const b of p.toServer.splice(0)) p.server.write(b);
    for (const b of p.toClient.splice(0)) p.client.write(b);
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const p: Pair = { client, server: upstream, toServer: [], toClient: [] };
    pairs.add(p);
    proxy.connections++;
    client.on('data', (b) => (frozen ? p.toServer.push(b) : upstream.write(b)));
    upstream.on('data', (b) => (frozen ? p.toClient.push(b) : client.write(b)));
    const end = () => {
      pairs.delete(p);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const proxy: TcpProxy = {
    port: (server.address() as net.AddressInfo).port,
    connections: 0,
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const p of pairs) flush(p);
    },
    drop: () => {
      for (const p of [...pairs]) {
        // A reset, as a server that went away leaves it, not a polite close.
        p.client.resetAndDestroy();
        p.server.destroy();
        pairs.delete(p);
      }
    },
    close: async () => {
      proxy.drop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** The database URL `url` with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}
