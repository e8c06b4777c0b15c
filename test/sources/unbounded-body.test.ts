/**
 * A response body is read whole into memory with no size limit and no overall
 * deadline (timeoutMs only bounds the gap between chunks): an upstream (or a
 * proxy) that keeps streaming holds the call forever while memory grows.
 */
import { afterEach, expect, it } from 'vitest';
import { createSourceClient, type SourceClient } from '../../src/sources/http-client.js';
import { startUpstream, type Upstream } from '../sources/upstream-server.js';

const ups: Upstream[] = [];
const clients: SourceClient[] = [];
afterEach(async () => {
  await Promise.all(ups.splice(0).map((u) => u.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

it('an endless body is cut off (size limit or total deadline) instead of being buffered forever', async () => {
  let sent = 0;
  const chunk = Buffer.alloc(256 * 1024, 0x20);
  const u = await startUpstream((_req, res) => {
    res.writeHead(503, { 'content-type': 'text/html' });
    res.write('<html>');
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(chunk);
      sent += chunk.length;
    }, 10);
    res.on('close', () => clearInterval(timer));
  });
  ups.push(u);
  const c = createSourceClient({ name: 'crm', baseUrl: u.url, timeoutMs: 1_000, maxRetries: 0 });
  clients.push(c);
  const controller = new AbortController();
  const call = c.request({ path: '/x', signal: controller.signal }).then(
    () => 'resolved',
    (e: unknown) => `rejected: ${String(e)}`,
  );
  const settled = await Promise.race([call, new Promise((r) => setTimeout(() => r('still reading'), 6_000))]);
  controller.abort();
  await call;
  expect(settled, `${Math.round(sent / 1e6)} MB streamed and buffered so far`).toMatch(/^rejected/);
}, 20_000);
