import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { expectProblem, postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { hsEvent, inboxRows, MAILCHIMP_SECRET, postHubspot, postMailchimp } from '../helpers/webhooks.js';

describe('configuration of the webhook limits', () => {
  it('reads the new variables, with their defaults', () => {
    const d = loadConfig({});
    expect(d).toMatchObject({
      providers: { hubspot: { clientSecrets: [] }, mailchimp: { webhookSecret: undefined } },
      webhookRetentionMs: 30 * 86_400_000,
      webhookFailedRetentionMs: null,
      webhookRateLimit: null,
      requestTimeoutMs: 30_000,
    });
    const c = loadConfig({
      HUBSPOT_CLIENT_SECRET: 'old-secret new-secret',
      MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET,
      WEBHOOK_RETENTION: '7d',
      WEBHOOK_FAILED_RETENTION: '90d',
      WEBHOOK_RATE_LIMIT: '100/1s',
      REQUEST_TIMEOUT: '10s',
    });
    expect(c).toMatchObject({
      providers: { hubspot: { clientSecrets: ['old-secret', 'new-secret'] }, mailchimp: { webhookSecret: MAILCHIMP_SECRET } },
      webhookRetentionMs: 7 * 86_400_000,
      webhookFailedRetentionMs: 90 * 86_400_000,
      webhookRateLimit: { max: 100, windowMs: 1000 },
      requestTimeoutMs: 10_000,
    });
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: '600/m' }).webhookRateLimit).toEqual({ max: 600, windowMs: 60_000 });
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: 'off' }).webhookRateLimit).toBeNull();
  });

  it('reads TRUST_PROXY as off, on, a hop count, or addresses and ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16 ::1 fd00::/8' }).trustProxy).toEqual(['10.0.0.1', '192.168.0.0/16', '::1', 'fd00::/8']);
  });

  it.each([
    ['WEBHOOK_RATE_LIMIT', '100'],
    ['WEBHOOK_RATE_LIMIT', '0/1s'],
    ['WEBHOOK_RATE_LIMIT', '100/0s'],
    ['WEBHOOK_RATE_LIMIT', 'lots/1s'],
    ['WEBHOOK_RETENTION', '30 days'],
    ['WEBHOOK_RETENTION', '0d'],
    ['WEBHOOK_FAILED_RETENTION', 'forever'],
    ['REQUEST_TIMEOUT', 'soon'],
    ['REQUEST_TIMEOUT', '2h'],
    ['TRUST_PROXY', 'yes'],
    ['TRUST_PROXY', '0'],
    ['TRUST_PROXY', '11'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.1, proxy.local'],
    ['MAILCHIMP_WEBHOOK_SECRET', 'short'],
    ['MAILCHIMP_WEBHOOK_SECRET', 'has/a/slash/in/it/0123456789'],
  ])('%s=%s stops the start with a ConfigError naming it', (name, value) => {
    let caught: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).variable).toBe(name);
    if (name === 'MAILCHIMP_WEBHOOK_SECRET') expect((caught as Error).message).not.toContain(value);
  });
});

for (const engine of ENGINES) {
  describe(`webhook rate limit on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { WEBHOOK_RATE_LIMIT: '3/1h', MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    const fromA = { remoteAddress: '10.0.0.1' };

    it('answers 429 problem JSON with Retry-After past the limit, per client, counted over every webhook route', async () => {
      const post = (n: number, remoteAddress = fromA.remoteAddress) =>
        t.app.inject({
          method: 'POST',
          url: '/webhook',
          remoteAddress,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ customer: { external_id: `rl_${remoteAddress}_${n}` } }),
        });
      expect((await post(1)).statusCode).toBe(200);
      expect((await t.app.inject({ method: 'GET', url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`, ...fromA })).statusCode).toBe(200);
      expect((await post(2)).statusCode).toBe(200);

      const refused = await post(3);
      const p = expectProblem(refused, 429);
      expect(p.type).toBe('/problems/rate-limited');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 3600).toBe(true);
      // The other webhook routes share the budget; nothing is stored for a refused request.
      const inboxBefore = (await inboxRows(t.store)).length;
      expectProblem(
        await t.app.inject({ method: 'POST', url: '/webhooks/hubspot', ...fromA, headers: { 'content-type': 'application/json' }, payload: '[]' }),
        429,
      );
      expectProblem(
        await t.app.inject({
          method: 'POST',
          url: `/webhooks/mailchimp/${MAILCHIMP_SECRET}`,
          ...fromA,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'type=subscribe',
        }),
        429,
      );
      expect((await inboxRows(t.store)).length).toBe(inboxBefore);
      expect((await t.app.inject({ url: '/customers/rl_10.0.0.1_3' })).statusCode).toBe(404);

      // Another client has its own budget, and the other routes are not limited.
      expect((await post(1, '10.0.0.2')).statusCode).toBe(200);
      const hubspot = await t.app.inject({
        method: 'POST',
        url: '/webhooks/hubspot',
        remoteAddress: '10.0.0.2',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify([hsEvent({ eventId: 1, subscriptionType: 'contact.creation', objectId: 1 })]),
      });
      expect(hubspot.statusCode).toBe(200);
      for (let i = 0; i < 5; i++) expect((await t.app.inject({ url: '/data?limit=1', ...fromA })).statusCode).toBe(200);
    });
  });

  describe(`no rate limit by default on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('takes 50 quick webhooks from one client', async () => {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0
            ? postWebhook(t.app, { customer: { external_id: `many_${i}` } })
            : postMailchimp(t.app, { type: 'subscribe', fired_at: '2026-01-01 00:00:00', 'data[list_id]': 'a6b5da1054', 'data[email]': `m${i}@example.com` }),
        ),
      );
      expect(answers.every((a) => a.statusCode === 200)).toBe(true);
      expect(answers.some((a) => a.headers['x-ratelimit-limit'] !== undefined)).toBe(false);
    });

    it('HubSpot unsigned while no secret is set (the default)', async () => {
      expect((await postHubspot(t.app, [hsEvent({ eventId: 9, subscriptionType: 'contact.creation', objectId: 9 })], { secret: null })).statusCode).toBe(200);
    });
  });

  describe(`slow clients on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let port: number;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { REQUEST_TIMEOUT: '400ms' });
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = (t.app.server.address() as net.AddressInfo).port;
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('a client trickling its body too slowly is cut off (REQUEST_TIMEOUT), and nothing is stored', async () => {
      const body = JSON.stringify({ customer: { external_id: 'slowpoke', name: 'S'.repeat(200) } });
      const socket = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('error', () => {});
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(`POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
      // One byte every 50 ms would take over 10 s; the server must end it long before.
      let sent = 0;
      const trickle = setInterval(() => {
        if (socket.destroyed || sent >= body.length) return;
        socket.write(body[sent++] as string);
      }, 50);
      const safety = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
      const outcome = await Promise.race([closed.then(() => 'closed' as const), safety]);
      clearInterval(trickle);
      socket.destroy();
      expect(outcome).toBe('closed');
      expect(sent).toBeLessThan(body.length);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(await inboxRows(t.store)).toEqual([]);
      expect((await t.app.inject('/customers/slowpoke')).statusCode).toBe(404);

      // A client that sends promptly is served by the same server.
      const res = await fetch(`http://127.0.0.1:${port}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(200);
    });
  });
}

for (const engine of ENGINES) {
  describe(`webhook rate limit behind a trusted proxy on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, { WEBHOOK_RATE_LIMIT: '2/1h', TRUST_PROXY: '10.9.0.0/16' });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    const post = (remoteAddress: string, forwardedFor: string, n: number) =>
      t.app.inject({
        method: 'POST',
        url: '/webhook',
        remoteAddress,
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        payload: JSON.stringify({ customer: { external_id: `proxied_${remoteAddress}_${forwardedFor}_${n}` } }),
      });

    it('counts each client named by the proxy on its own, and ignores the header from anyone else', async () => {
      // Through the proxy: two clients, each with its own budget of 2.
      for (const client of ['203.0.113.1', '203.0.113.2']) {
        expect((await post('10.9.0.5', client, 1)).statusCode).toBe(200);
        expect((await post('10.9.0.5', client, 2)).statusCode).toBe(200);
        expectProblem(await post('10.9.0.5', client, 3), 429);
      }
      // A peer outside TRUST_PROXY cannot pick a fresh identity by sending the header.
      expect((await post('10.0.0.1', '198.51.100.1', 1)).statusCode).toBe(200);
      expect((await post('10.0.0.1', '198.51.100.2', 2)).statusCode).toBe(200);
      expectProblem(await post('10.0.0.1', '198.51.100.3', 3), 429);
    });
  });
}
