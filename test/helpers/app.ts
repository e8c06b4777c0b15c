import { pino } from 'pino';
import { expect } from 'vitest';
import { buildApp, type App, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import type { ScratchDatabase } from './databases.js';

export interface TestApp {
  app: App;
  store: Store;
  config: Config;
  close(): Promise<void>;
}

/** Builds the real app on a scratch database, configured as from the environment. */
export async function startApp(db: ScratchDatabase, env: Record<string, string> = {}, extra: Pick<AppDeps, 'connectors' | 'runTasks'> = {}): Promise<TestApp> {
  const config = { ...loadConfig({ LOG_LEVEL: 'silent', ...env }), database: db.config };
  const store = await openStore(config.database, { lockWaitMs: config.storeLockWaitMs });
  const app = await buildApp({ config, store, logger: pino({ level: 'silent' }), ...extra });
  await app.ready();
  // Closing twice (a test, then its afterEach) closes once.
  let closed: Promise<void> | undefined;
  return {
    app,
    store,
    config,
    close: () =>
      (closed ??= (async () => {
        await app.close();
        await store.close();
      })()),
  };
}

// The README's and the OpenAPI document's seed payloads: the tests send the same ones.
export { SEED_CAMPAIGN, SEED_CUSTOMER } from '../../src/http/schemas/records.js';

/** POST a JSON webhook through app.inject. */
export function postWebhook(app: App, body: unknown, headers: Record<string, string> = {}, url = '/webhook') {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

interface PageBody {
  items: Array<Record<string, unknown>>;
  total: number | null;
  next_cursor: string | null;
}

/** Every record reachable through /data by following next_cursor. */
export async function walkByCursor(app: App, query = '', limit = 100): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  for (;;) {
    const url: string = `/data?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await app.inject({ method: 'GET', url });
    if (res.statusCode !== 200) throw new Error(`GET /data answered ${res.statusCode}: ${res.body}`);
    const page: PageBody = JSON.parse(res.body) as PageBody;
    out.push(...page.items);
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
}

/** A fingerprint of everything stored: used to show a refused request changed nothing. */
export async function storedSnapshot(store: Store): Promise<string> {
  const records = await store.db.selectFrom('records').selectAll().orderBy('row_id').execute();
  // A repeated delivery is recorded as a `duplicate` row pointing at its first copy: a note of the attempt, not a write.
  const inbox = await store.db.selectFrom('webhook_inbox').select(['id', 'idempotency_key']).where('status', '<>', 'duplicate').orderBy('id').execute();
  const counts = await store.db.selectFrom('record_counts').selectAll().orderBy('type').orderBy('source').orderBy('deleted').execute();
  return JSON.stringify({ records, inbox, counts });
}

export interface ProblemJson {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: Array<{ path: string; message: string }>;
  [extra: string]: unknown;
}

/** What app.inject answers, as much of it as the checks below read. */
export interface InjectAnswer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

// Traces of internals that must never reach a client: stack frames, error class names, source paths.
const INTERNALS = /(\\n|\n)\s*at\s|\b[A-Z]\w*Error:|node_modules|\.[cm]?[jt]s:\d+|\bFST_ERR_/;

/**
 * Asserts an RFC 9457 problem answer: exactly this status, problem content
 * type, type/title/status/detail, well-formed `errors` if present, and no
 * internals. Returns the parsed body.
 */
export function expectProblem(res: InjectAnswer, status: number): ProblemJson {
  expect(res.statusCode, res.body.slice(0, 500)).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json(;|$)/);
  const body = JSON.parse(res.body) as ProblemJson;
  expect(body).toMatchObject({
    type: expect.stringMatching(/^\/problems\/[a-z-]+$/),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  expect(body.title.length).toBeGreaterThan(0);
  expect(body.detail.length).toBeGreaterThan(0);
  expect(body).not.toHaveProperty('stack');
  expect(res.body).not.toMatch(INTERNALS);
  if (body.errors !== undefined) {
    expect(Array.isArray(body.errors)).toBe(true);
    for (const e of body.errors) {
      expect(Object.keys(e).sort()).toEqual(['message', 'path']);
      expect(e.path).toMatch(/^\/(body|query|path|header)(\/|$)/);
      expect(typeof e.message).toBe('string');
    }
  }
  return body;
}

/** The `errors` paths of a 422 problem, sorted. */
export function errorPaths(problem: ProblemJson): string[] {
  return (problem.errors ?? []).map((e) => e.path).sort();
}
