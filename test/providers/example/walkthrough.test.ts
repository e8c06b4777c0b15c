/**
 * Runs the worked example of docs/adding-a-provider.md: its connector syncs
 * through the real task runner against a loopback upstream, resumes from
 * its checkpoint, and its webhook route writes through the one pipeline.
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { prepareStored } from '../../../src/ingest/delivery.js';
import { DeliveryPipeline } from '../../../src/ingest/pipeline.js';
import { createMetrics } from '../../../src/metrics.js';
import { findRecord } from '../../../src/store/record-queries.js';
import { startApp, type TestApp } from '../../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { sendJson, startUpstream, type Upstream, urlOf } from '../../helpers/upstream.js';
import { waitFor } from '../../helpers/wait.js';
import { HELPDESK_SOURCE, helpdeskHandler, helpdeskProvider, helpdeskSection, readHelpdeskSettings, type Person } from './provider.js';

const TOKEN = 'helpdesk-token-0123456789';

/** The helpdesk's API: people in pages of 2, behind a cursor, for one token. */
function startHelpdesk(people: Person[]): Promise<Upstream> {
  return startUpstream((req, res) => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    const at = Number(urlOf(req).searchParams.get('cursor') ?? 0);
    const next = at + 2 < people.length ? String(at + 2) : null;
    sendJson(res, 200, { people: people.slice(at, at + 2), next_cursor: next });
  });
}

const person = (id: number): Person => ({ id, name: `Person ${id}`, email: `p${id}@example.com`, updated_at: '2026-01-01T00:00:00Z', plan: 'pro' });

describe('the provider walkthrough', () => {
  it('reads its settings from one section, with defaults and a clear error', () => {
    expect(readHelpdeskSettings({ HELPDESK_TOKEN: TOKEN })).toMatchObject({
      token: TOKEN,
      baseUrl: 'https://api.helpdesk.example',
      rateLimit: { requests: 10, perMs: 1000 },
    });
    expect(() => readHelpdeskSettings({ HELPDESK_BASE_URL: 'ftp://x' })).toThrow(/HELPDESK_BASE_URL/);
    expect(helpdeskSection.title).toContain('helpdesk');
  });

  it('rejects an event it does not handle before anything is written', () => {
    expect(prepareStored(helpdeskHandler, JSON.stringify({ id: 'e', type: 'ticket.closed' }))).toEqual({ rejected: 'event type ticket.closed is not handled' });
  });
});

for (const engine of ENGINES) {
  describe(`the walkthrough's helpdesk provider on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let upstream: Upstream;
    const people = [1, 2, 3, 4, 5].map(person);

    beforeAll(async () => {
      db = await engine.create();
      upstream = await startHelpdesk(people);
      const settings = readHelpdeskSettings({ HELPDESK_TOKEN: TOKEN, HELPDESK_BASE_URL: upstream.url, HELPDESK_RATE_LIMIT: 'off' });
      const provider = helpdeskProvider(settings);
      t = await startApp(db, { TASK_POLL: '50ms' }, { connectors: new Map(provider.connectors(loadConfig({})).map((c) => [c.name, c])) });
    });
    afterAll(async () => {
      await t?.close();
      await upstream?.close();
      await db?.drop();
    });

    async function syncToEnd(): Promise<Record<string, unknown>> {
      const started = await t.app.inject({ method: 'POST', url: `/sync/${HELPDESK_SOURCE}` });
      expect(started.statusCode, started.body).toBe(202);
      const id = (JSON.parse(started.body) as { task_id: string }).task_id;
      return waitFor(async () => {
        const task = JSON.parse((await t.app.inject({ method: 'GET', url: `/tasks/${id}` })).body) as Record<string, unknown>;
        return task.status === 'succeeded' || task.status === 'failed' ? task : undefined;
      }, 'the helpdesk sync to end');
    }

    it('syncs every person as a customer, then resumes from its cursor', async () => {
      const first = await syncToEnd();
      expect(first.status, JSON.stringify(first)).toBe('succeeded');
      expect(upstream.urls()).toHaveLength(3);
      for (const p of people) {
        expect(await findRecord(t.store, 'customer', String(p.id))).toMatchObject({
          source: HELPDESK_SOURCE,
          fields: { email: p.email },
          attributes: { plan: 'pro' },
        });
      }
      // The checkpoint keeps the last page's cursor, so the next run asks for what is new only.
      upstream.requests.length = 0;
      expect((await syncToEnd()).status).toBe('succeeded');
      expect(upstream.urls()).toEqual(['/v1/people?cursor=4']);
    });

    it('takes a webhook through the pipeline and answers what it wrote', async () => {
      const pipeline = new DeliveryPipeline(t.store, { maxDelayMs: 1, maxBatchRecords: 100 }, createMetrics(), pino({ level: 'silent' }));
      const app = Fastify();
      await app.register(helpdeskProvider(readHelpdeskSettings({})).webhook!.routes, { config: t.config, pipeline });
      try {
        const event = { id: 'evt-1', type: 'person.updated', person: { ...person(2), name: 'Renamed' } };
        const res = await app.inject({ method: 'POST', url: '/webhooks/helpdesk', payload: event });
        expect(res.statusCode, res.body).toBe(200);
        expect(JSON.parse(res.body)).toMatchObject({ status: 'processed', records: [{ external_id: '2', result: 'updated' }] });
        expect(await findRecord(t.store, 'customer', '2')).toMatchObject({ fields: { name: 'Renamed' } });
        const again = await app.inject({ method: 'POST', url: '/webhooks/helpdesk', payload: event });
        expect(JSON.parse(again.body)).toMatchObject({ status: 'duplicate' });
      } finally {
        await app.close();
        await pipeline.close();
      }
    });
  });
}
