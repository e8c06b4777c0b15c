import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../helpers/databases.js';
import { freePort } from '../helpers/server-process.js';

/**
 * SIGTERM while a webhook is in flight on a keep-alive connection (what
 * HubSpot, undici/fetch and most HTTP clients use). The request is answered,
 * but the connection stays open afterwards (Fastify's keepAliveTimeout is
 * 72 s): unless shutdown closes connections as they go idle, server.close()
 * never calls back, the writer flush and store.close() never run, and the
 * 10 s force timer exits with code 1.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const engine = ENGINES[0] as (typeof ENGINES)[number];
const children = new Set<ChildProcess>();
const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of drops) await d();
});

const until = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
};

async function scenario(script: string) {
  const db = await engine.create();
  drops.push(db.drop);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  if (!(await until(() => out.includes('tributary listening'), 30_000))) throw new Error(`no start:\n${out}`);

  const body = JSON.stringify({ customer: { external_id: 'ka_1', name: 'Keep Alive' } });
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8').on('data', (d: string) => (received += d));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(
    `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nwebhook-id: ka-1\r\n\r\n`,
  );
  // The server has read the headers: the request is in flight.
  expect(await until(() => received.includes('100 Continue'), 5000)).toBe(true);
  const t0 = Date.now();
  child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  socket.write(body);
  expect(await until(() => received.includes('"status":"stored"'), 5000)).toBe(true);
  // The client keeps its idle keep-alive connection, as pooled clients do.
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(r, 15_000, 'no exit in 15 s'))]);
  const took = Date.now() - t0;
  socket.destroy();
  const lines = out.split('\n').filter((l) => /shut down|shutdown/.test(l));
  return { code, took, lines };
}

describe('shutdown with a keep-alive client', () => {
  it('src/server.ts: exits 0 soon after SIGTERM once the in-flight request is answered', async () => {
    const r = await scenario('src/server.ts');
    expect(r.code).toBe(0);
    expect(r.took).toBeLessThan(5000);
  }, 60_000);
});
