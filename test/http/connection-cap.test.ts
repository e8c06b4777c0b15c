import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionCap, FILE_LIMIT_MARGIN, openFileLimit } from '../../src/http/connection-cap.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';

const CAP = 4;

/** Opens a TCP connection and leaves it idle. */
function idleSocket(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Connects, sends a request, and gives what came back before the server closed the connection. */
function requestOnNewConnection(port: number): Promise<{ answered: string; closed: boolean }> {
  return new Promise((resolve) => {
    let answered = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (d: Buffer) => (answered += d.toString('latin1')));
    socket.on('error', () => {}); // ECONNRESET: what a refused connection may look like from here
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answered, closed: false });
    }, 3000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ answered, closed: true });
    });
  });
}

for (const engine of ENGINES) {
  describe(`MAX_CONNECTIONS on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let port: number;
    const sockets: net.Socket[] = [];

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { MAX_CONNECTIONS: String(CAP) });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      port = (t.app.server.address() as net.AddressInfo).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await t?.close();
      await db?.drop();
    });

    const openConnections = () => new Promise<number>((resolve, reject) => t.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

    it('idle sockets up to the cap hold it; the next connection is closed unanswered; once some close, it answers again', async () => {
      expect(t.app.server.maxConnections).toBe(CAP);
      for (let i = 0; i < CAP; i++) sockets.push(await idleSocket(port));
      await waitFor(async () => ((await openConnections()) === CAP ? true : undefined), 'the idle sockets to be accepted');

      const refused = await requestOnNewConnection(port);
      expect(refused.closed).toBe(true);
      expect(refused.answered).toBe('');
      const metrics = await t.app.inject({ url: '/metrics' });
      expect(metrics.body).toMatch(/^tributary_connections_refused_total [1-9]/m);

      for (const s of sockets.splice(0, 2)) s.destroy();
      await waitFor(async () => ((await openConnections()) <= CAP - 2 ? true : undefined), 'two sockets to close');
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
    });
  });
}

describe('the cap stays below the open-file limit', () => {
  it('is lowered to the file limit less a margin when that is lower', () => {
    expect(connectionCap(4000, 1024)).toBe(1024 - FILE_LIMIT_MARGIN);
    expect(connectionCap(4000, 65536)).toBe(4000);
    expect(connectionCap(4000, null)).toBe(4000);
    expect(connectionCap(4000, 10)).toBe(1);
  });

  it("reads the process's soft limit (Linux)", () => {
    const limit = openFileLimit();
    if (process.platform !== 'linux') return;
    const shell = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
    expect(limit === null ? 'unlimited' : String(limit)).toBe(shell);
  });
});
