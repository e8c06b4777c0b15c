import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/**
 * Errors Node's HTTP parser raises before Fastify routes the request (an
 * over-long URL or header, a malformed request, REQUEST_TIMEOUT) go to the
 * server's clientError handler. The README promises RFC 9457 problem JSON for
 * every error, and lists the 408 explicitly.
 */
async function raw(port: number, request: string, trickle = false): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answer = '';
  socket.on('data', (c) => (answer += c.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  if (trickle)
    socket.write(request); // headers never finished
  else socket.end(request);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000).unref())]);
  socket.destroy();
  return answer;
}

function contentTypeOf(answer: string): string {
  return /\r\ncontent-type:\s*([^\r\n]*)/i.exec(answer)?.[1] ?? '(none)';
}

describe('client errors outside the router', () => {
  let db: ScratchDatabase;
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    db = await ENGINES[0]!.create();
    t = await startApp(db, { REQUEST_TIMEOUT: '400ms' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('a 20 KB URL: 431 (or 414) as problem JSON', async () => {
    const answer = await raw(port, `GET /data?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 4(14|31) /);
    expect(contentTypeOf(answer)).toMatch(/^application\/problem\+json/);
  });

  it('a 20 KB header: 431 as problem JSON', async () => {
    const answer = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(contentTypeOf(answer)).toMatch(/^application\/problem\+json/);
  });

  it('a malformed request line: 400 as problem JSON', async () => {
    const answer = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(contentTypeOf(answer)).toMatch(/^application\/problem\+json/);
  });

  it('headers slower than REQUEST_TIMEOUT: 408 as problem JSON', async () => {
    const answer = await raw(port, `POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`, true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(contentTypeOf(answer)).toMatch(/^application\/problem\+json/);
  });
});
