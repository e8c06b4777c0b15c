/**
 * Upstream records of an unexpected shape (null entries, a contact without
 * `properties`, a campaign without `id`) must not crash a run with a TypeError
 * (nor store a record keyed "undefined"); the odd record should be skipped (as
 * declared sources do) and its neighbours kept.
 */
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SyncContext, SyncPage } from '../../src/sources/connector.js';
import { HubspotSource } from '../../src/providers/hubspot/connector.js';
import { MailchimpSource } from '../../src/providers/mailchimp/connector.js';
import { ENGINES } from '../helpers/databases.js';
import { sendJson, startUpstream, type Upstream } from '../sources/upstream-server.js';
import { Harness, runSync } from '../sync/sync-helpers.js';

const ups: Upstream[] = [];
afterEach(async () => {
  await Promise.all(ups.splice(0).map((u) => u.close()));
});

const FAST = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2_000, maxRetries: 0 };

function ctx(): SyncContext {
  return { signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) };
}

async function collect(pages: AsyncIterable<SyncPage>): Promise<{ ids: unknown[]; error: unknown }> {
  const ids: unknown[] = [];
  try {
    for await (const p of pages) for (const r of p.records) ids.push(r.external_id);
    return { ids, error: null };
  } catch (error) {
    return { ids, error };
  }
}

describe('HubSpot contacts of an odd shape', () => {
  it('a contact with "properties": null (or missing) does not crash the page with a TypeError', async () => {
    const u = await startUpstream((req, res) => {
      const archived = req.url?.includes('archived=true');
      sendJson(res, 200, {
        results: archived
          ? []
          : [{ id: '1', properties: { email: 'a@example.com', lastmodifieddate: '2024-01-01T00:00:00Z' } }, { id: '2', properties: null }, { id: '3' }],
      });
    });
    ups.push(u);
    const src = new HubspotSource({ name: 'crm', accessToken: 't', baseUrl: u.url, client: FAST });
    const { ids, error } = await collect(src.pages(ctx()));
    await src.close();
    expect(error === null ? null : String(error)).toBeNull();
    expect(ids).toContain('1');
  }, 15_000);
});

describe('Mailchimp campaigns of an odd shape', () => {
  it('a null entry in "campaigns" does not crash the walk with a TypeError', async () => {
    const u = await startUpstream((_req, res) =>
      sendJson(res, 200, { campaigns: [{ id: 'c1', create_time: '2024-01-01T00:00:00+00:00' }, null], total_items: 2 }),
    );
    ups.push(u);
    const src = new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST });
    const { ids, error } = await collect(src.pages(ctx()));
    await src.close();
    expect(error === null ? null : String(error)).toBeNull();
    expect(ids).toContain('c1');
  }, 15_000);

  it('confirmGone on a 200 with an empty body does not crash with a TypeError', async () => {
    const u = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end();
    });
    ups.push(u);
    const src = new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST });
    let error: unknown = null;
    try {
      await src.confirmGone(['c1'], ctx());
    } catch (e) {
      error = e;
    }
    await src.close();
    expect(error instanceof TypeError ? String(error) : null).toBeNull();
  }, 15_000);

  it('a campaign without "id" yields no record keyed undefined', async () => {
    const u = await startUpstream((_req, res) => sendJson(res, 200, { campaigns: [{ id: 'c1' }, { web_id: 5, status: 'sent' }], total_items: 2 }));
    ups.push(u);
    const src = new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST });
    const { ids, error } = await collect(src.pages(ctx()));
    await src.close();
    expect(error).toBeNull();
    expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
  }, 15_000);
});

describe('end to end: one campaign without an id', () => {
  const engine = ENGINES[0]!;
  const h = new Harness(engine);
  afterEach(() => h.reset());
  afterAll(() => h.drop());

  it('the run still stores the well-formed campaigns', async () => {
    const u = await startUpstream((_req, res) =>
      sendJson(res, 200, {
        campaigns: [
          { id: 'c1', status: 'sent' },
          { web_id: 5, status: 'sent' },
        ],
        total_items: 2,
      }),
    );
    ups.push(u);
    const app = await h.boot(new Map([['marketing', new MailchimpSource({ name: 'marketing', apiKey: 'k-us6', baseUrl: `${u.url}/3.0`, client: FAST })]]));
    const task = await runSync(app, 'marketing');
    expect(task.error).toBeNull();
    expect(task.status).toBe('succeeded');
  }, 30_000);
});
