/**
 * Shared plumbing of the end-to-end sync suites: the real app on a scratch
 * database, the real connectors pointed at the fake HubSpot / Mailchimp, and
 * the waits and reads every test needs.
 */
import { expect } from 'vitest';
import type { App } from '../../src/app.js';
import type { FakeHubspot, FakeMailchimp, RequestLogEntry } from '../../src/providers/fakes.js';
import type { SourceConnector } from '../../src/sources/connector.js';
import type { SourceClientOptions } from '../../src/sources/http-client.js';
import { HubspotSource, type HubspotSourceOptions } from '../../src/providers/hubspot/connector.js';
import { MailchimpSource } from '../../src/providers/mailchimp/connector.js';
import { startApp, walkByCursor, type TestApp } from './app.js';
import type { Engine, ScratchDatabase } from './databases.js';
import { waitFor } from './wait.js';
export { waitFor } from './wait.js';

/** Heartbeat and poll fast enough for a cancel to land well inside the contract's 2 s. */
export const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '3s' };

/**
 * Short backoff so retries cost milliseconds. The timeout stays generous:
 * a spurious timeout on a loaded machine would add a request and break the
 * exact request counts; the hang tests set their own short one.
 */
export const FAST_CLIENT: Partial<SourceClientOptions> = { baseDelayMs: 20, maxDelayMs: 200, timeoutMs: 5_000 };

/** What a test may set on the connector besides where the fake is and its client. */
export type HubspotTestOptions = Omit<HubspotSourceOptions, 'name' | 'accessToken' | 'baseUrl' | 'client'>;

/**
 * A HubSpot connector on the fake. Unless told otherwise it asks for the
 * mapped properties only (an empty list): no definitions request, so the
 * paging tests count exactly the contact requests they are about.
 */
export function hubspotConnector(hs: FakeHubspot, client: Partial<SourceClientOptions> = {}, options: HubspotTestOptions = {}): HubspotSource {
  return new HubspotSource({ properties: [], ...options, name: 'crm', accessToken: hs.token, baseUrl: hs.url, client: { ...FAST_CLIENT, ...client } });
}

export function mailchimpConnector(mc: FakeMailchimp, options: { client?: Partial<SourceClientOptions>; refetchWindowMs?: number } = {}): MailchimpSource {
  return new MailchimpSource({
    name: 'marketing',
    apiKey: mc.apiKey,
    baseUrl: mc.url,
    client: { ...FAST_CLIENT, ...options.client },
    ...(options.refetchWindowMs === undefined ? {} : { refetchWindowMs: options.refetchWindowMs }),
  });
}

export interface TaskView {
  task_id: string;
  source: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  attempts: number;
  progress: { pages: number; records_fetched: number; records_written: number; total_estimate: number | null; percent: number | null };
  error: string | null;
  run_after: string;
  finished_at: string | null;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function getTask(app: App, id: string): Promise<TaskView> {
  const res = await app.inject(`/tasks/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as TaskView;
}

export function waitForTask(app: App, id: string, statuses: TaskView['status'][] = ['succeeded', 'failed', 'cancelled']): Promise<TaskView> {
  return waitFor(
    async () => {
      const t = await getTask(app, id);
      return statuses.includes(t.status) ? t : undefined;
    },
    `task ${id} to reach ${statuses.join('/')}`,
  );
}

/** POST /sync/{source}: 202 with a task id. */
export async function startSync(app: App, source: string, query = ''): Promise<string> {
  const res = await app.inject({ method: 'POST', url: `/sync/${source}${query}` });
  expect(res.statusCode, res.body).toBe(202);
  return (res.json() as { task_id: string }).task_id;
}

/** Starts a sync and waits for it to end, whatever the outcome. */
export async function runSync(app: App, source: string, query = ''): Promise<TaskView> {
  return waitForTask(app, await startSync(app, source, query));
}

/** `total` of GET /data for a source. */
export async function dataTotal(app: App, source: string, includeDeleted = false): Promise<number> {
  const res = await app.inject(`/data?source=${source}&limit=1${includeDeleted ? '&include_deleted=true' : ''}`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { total: number }).total;
}

/** Every record of a source, walked by cursor. */
export function allRecords(app: App, source: string, includeDeleted = false): Promise<Array<Record<string, unknown>>> {
  return walkByCursor(app, `&source=${source}${includeDeleted ? '&include_deleted=true' : ''}`, 1000);
}

/** Asserts that every record is there once: `expected` distinct external ids, no duplicates. */
export async function expectExactly(app: App, source: string, expectedIds: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const records = await allRecords(app, source);
  const ids = records.map((r) => r.external_id as string);
  expect(ids.length).toBe(expectedIds.length);
  expect(new Set(ids).size).toBe(ids.length);
  expect([...ids].sort()).toEqual([...expectedIds].sort());
  expect(await dataTotal(app, source)).toBe(expectedIds.length);
  return records;
}

/** Log entries from `from` on (an index into the fake's request log). */
export function since(entries: readonly RequestLogEntry[], from: number): RequestLogEntry[] {
  return entries.slice(from);
}

/**
 * One scratch database per suite and one app per test, emptied after each
 * test: syncs keep checkpoints and records keyed by the provider's ids, so
 * tests must not see each other's. (Emptying costs far less than a new
 * PostgreSQL database per test.)
 */
export class Harness {
  private db: ScratchDatabase | undefined;
  private t: TestApp | undefined;

  constructor(private readonly engine: Engine) {}

  /** Boots with these connectors (the fakes' clients tuned for tests). */
  async boot(connectors: Map<string, SourceConnector>, env: Record<string, string> = {}): Promise<App> {
    this.db ??= await this.engine.create();
    this.t = await startApp(this.db, { ...FAST_TASKS, ...env }, { connectors });
    return this.t.app;
  }

  /** Boots with the default connectors, as the server builds them from the environment. */
  async bootFromEnv(env: Record<string, string>): Promise<App> {
    this.db ??= await this.engine.create();
    this.t = await startApp(this.db, { ...FAST_TASKS, ...env });
    return this.t.app;
  }

  /** After each test: stop the app (its runner first), then empty every table. */
  async reset(): Promise<void> {
    const t = this.t;
    this.t = undefined;
    if (!t) return;
    await t.app.close();
    try {
      for (const table of ['records', 'record_counts', 'webhook_inbox', 'tasks', 'sync_state', 'provider_state'] as const) {
        await t.store.db.deleteFrom(table).execute();
      }
    } finally {
      await t.store.close();
    }
  }

  async drop(): Promise<void> {
    await this.reset();
    await this.db?.drop();
    this.db = undefined;
  }
}

/** The contact ids of a generated HubSpot account: firstId (1001) upward. */
export function contactIds(count: number, firstId = 1001): string[] {
  return Array.from({ length: count }, (_, i) => String(firstId + i));
}
