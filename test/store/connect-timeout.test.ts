import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';

/** A host that accepts TCP and never says a word: a dead database behind a proxy or a load balancer. */
let blackHole: net.Server;
const sockets = new Set<net.Socket>();
beforeAll(async () => {
  blackHole = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => blackHole.close(() => r()));
});

it('opening a PostgreSQL store on a server that never answers fails after the connect timeout instead of hanging', async () => {
  const { port } = blackHole.address() as AddressInfo;
  const started = Date.now();
  const opening = openStore({ kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/tributary` }, { connectTimeoutMs: 300 }).then(
    () => 'opened',
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );
  const outcome = await Promise.race([opening, new Promise((r) => setTimeout(r, 5_000, 'still waiting after 5 s'))]);
  expect(outcome).toMatch(/timeout/i);
  expect(Date.now() - started).toBeLessThan(5_000);
});
