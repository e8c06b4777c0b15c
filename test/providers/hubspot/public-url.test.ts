/**
 * PUBLIC_URL: behind a proxy the Host header names the proxy's upstream, not
 * the URL HubSpot called and signed. With PUBLIC_URL the v3 signature is
 * checked against that origin plus the request path, and a refused signature
 * is logged with the URI checked and counted in /metrics.
 */
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { hsEvent, HUBSPOT_SECRET, postHubspot } from '../../helpers/webhooks.js';

const PUBLIC = 'https://crm-hooks.example.com';
/** What the service sees behind the proxy. */
const INTERNAL_HOST = '10.0.0.7:8000';

describe('PUBLIC_URL configuration', () => {
  it('takes an http(s) origin, a trailing slash dropped; unset is null', () => {
    expect(loadConfig({ PUBLIC_URL: `${PUBLIC}/` }).publicUrl).toBe(PUBLIC);
    expect(loadConfig({ PUBLIC_URL: 'http://hooks.internal:8443' }).publicUrl).toBe('http://hooks.internal:8443');
    expect(loadConfig({}).publicUrl).toBeNull();
  });

  it('refuses anything but an origin, in one line naming PUBLIC_URL', () => {
    for (const bad of [`${PUBLIC}/hooks`, `${PUBLIC}?a=1`, 'ftp://crm-hooks.example.com', 'crm-hooks.example.com', 'https://user:pw@crm-hooks.example.com']) {
      let caught: unknown;
      try {
        loadConfig({ PUBLIC_URL: bad });
      } catch (err) {
        caught = err;
      }
      expect(caught, bad).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe('PUBLIC_URL');
      expect((caught as ConfigError).message).not.toContain('\n');
    }
  });
});

for (const engine of ENGINES) {
  describe(`HubSpot signatures with PUBLIC_URL on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let app: App;
    let store: Store;
    const lines: string[] = [];
    let eventId = 1;
    const events = () => [hsEvent({ eventId: eventId++, subscriptionType: 'contact.creation', objectId: 9000 + eventId })];
    const behindProxy = { host: INTERNAL_HOST };

    beforeAll(async () => {
      db = await engine.create();
      const config = { ...loadConfig({ HUBSPOT_CLIENT_SECRET: HUBSPOT_SECRET, PUBLIC_URL: PUBLIC }), database: db.config };
      store = await openStore(config.database);
      app = await buildApp({ config, store, logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }), runTasks: false });
      await app.ready();
    });
    afterEach(() => {
      lines.length = 0;
    });
    afterAll(async () => {
      await app?.close();
      await store?.close();
      await db?.drop();
    });

    async function failures(): Promise<number> {
      const text = (await app.inject('/metrics')).body;
      const m = /^tributary_webhook_signature_failures_total\{route="\/webhooks\/hubspot"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    }

    it('takes a signature over PUBLIC_URL plus the path, whatever Host the proxy sends', async () => {
      const res = await postHubspot(app, events(), { uri: `${PUBLIC}/webhooks/hubspot`, headers: behindProxy });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ events: [{ status: 'processed' }] });
      const query = await postHubspot(app, events(), {
        url: '/webhooks/hubspot?portal=a%3Ab',
        uri: `${PUBLIC}/webhooks/hubspot?portal=a:b`,
        headers: behindProxy,
      });
      expect(query.statusCode, query.body).toBe(200);
    });

    it('refuses a signature over the URL the headers name instead, logs the URI it checked and counts it', async () => {
      const before = await failures();
      // Signed for the Host header, and for a forwarded host: neither is the public origin.
      const byHost = await postHubspot(app, events(), { uri: `https://${INTERNAL_HOST}/webhooks/hubspot`, headers: behindProxy });
      expect(byHost.statusCode).toBe(401);
      const forwarded = await postHubspot(app, events(), {
        uri: 'https://other.example.org/webhooks/hubspot',
        headers: { ...behindProxy, 'x-forwarded-host': 'other.example.org', 'x-forwarded-proto': 'https' },
      });
      expect(forwarded.statusCode).toBe(401);
      expect(await failures()).toBe(before + 2);

      const warnings = lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; signedUris?: string[] })
        .filter((l) => l.msg.includes('signature check failed'));
      expect(warnings).toHaveLength(2);
      expect(warnings[0]?.level).toBe(40);
      expect(warnings[0]?.signedUris).toEqual([`${PUBLIC}/webhooks/hubspot`]);
      // The secret is not what is logged.
      expect(lines.join('')).not.toContain(HUBSPOT_SECRET);
    });

    it('a good signature counts nothing', async () => {
      const before = await failures();
      expect((await postHubspot(app, events(), { uri: `${PUBLIC}/webhooks/hubspot`, headers: behindProxy })).statusCode).toBe(200);
      expect(await failures()).toBe(before);
    });
  });
}
