/**
 * The crm source with a HubSpot OAuth app: access tokens from the fake's
 * POST /oauth/v1/token, refreshed by the clock across several expiries, one
 * refresh on a 401, a rotated refresh token kept across a restart, a revoked
 * one failing the task by name, and no token in the logs or in /tasks.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../../src/app.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { startFakeHubspot, type FakeHubspot } from '../../../src/providers/fakes.js';
import { REFRESH_TOKEN_KEY } from '../../../src/providers/hubspot/oauth.js';
import { openStore, type Store } from '../../../src/store/open-store.js';
import { readProviderState } from '../../../src/store/provider-state.js';
import { ENGINES, type ScratchDatabase } from '../../helpers/databases.js';
import { contactIds, expectExactly, FAST_TASKS, runSync } from '../../helpers/sync.js';

const CLIENT_ID = 'fake-client-id-0c4f';
const CLIENT_SECRET = 'fake-client-secret-6a1d-44e0-9b7e-5f2c0d9a1e37';
const REFRESH_TOKEN = 'fake-refresh-install-8d2b-4f0c-a1e3-7c5d9b2e6f10';
const TOKEN_PATH = '/oauth/v1/token';
const TABLES = ['records', 'record_counts', 'webhook_inbox', 'tasks', 'sync_state', 'provider_state'] as const;

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(Object.keys(env))} was not refused`);
}

describe('OAuth app configuration', () => {
  it('takes all three variables, and the client secret alone (webhooks only)', () => {
    const c = loadConfig({ HUBSPOT_CLIENT_ID: CLIENT_ID, HUBSPOT_CLIENT_SECRET: CLIENT_SECRET, HUBSPOT_REFRESH_TOKEN: REFRESH_TOKEN });
    expect(c.providers.hubspot.api.oauth).toEqual({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN });
    expect(loadConfig({ HUBSPOT_CLIENT_SECRET: CLIENT_SECRET }).providers.hubspot.api.oauth).toBeNull();
  });

  it('refuses a half-set app, or one beside a private app token, in one line naming the variable and quoting no value', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ HUBSPOT_CLIENT_ID: CLIENT_ID, HUBSPOT_CLIENT_SECRET: CLIENT_SECRET }, 'HUBSPOT_REFRESH_TOKEN'],
      [{ HUBSPOT_REFRESH_TOKEN: REFRESH_TOKEN, HUBSPOT_CLIENT_SECRET: CLIENT_SECRET }, 'HUBSPOT_CLIENT_ID'],
      [{ HUBSPOT_CLIENT_ID: CLIENT_ID, HUBSPOT_REFRESH_TOKEN: REFRESH_TOKEN }, 'HUBSPOT_CLIENT_SECRET'],
      [
        { HUBSPOT_CLIENT_ID: CLIENT_ID, HUBSPOT_CLIENT_SECRET: CLIENT_SECRET, HUBSPOT_REFRESH_TOKEN: REFRESH_TOKEN, HUBSPOT_ACCESS_TOKEN: 'pat-x' },
        'HUBSPOT_ACCESS_TOKEN',
      ],
    ];
    for (const [env, variable] of cases) {
      const err = refusal(env);
      expect(err.variable).toBe(variable);
      expect(err.message).not.toContain('\n');
      for (const value of [CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN]) expect(err.message).not.toContain(value);
    }
  });
});

describe('a half-set OAuth app at start', () => {
  it('stops the server with one line naming the missing variable, exit code 2, quoting no secret', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-oauth-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '',
          LOG_LEVEL: 'silent',
          PORT: '0',
          DATABASE_URL: `sqlite:${path.join(dir, 'x.db')}`,
          HUBSPOT_CLIENT_ID: CLIENT_ID,
          HUBSPOT_CLIENT_SECRET: CLIENT_SECRET,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      const lines = stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines, stderr).toHaveLength(1);
      expect(lines[0]).toContain('HUBSPOT_REFRESH_TOKEN');
      expect(stderr).not.toContain(CLIENT_SECRET);
      expect(code).toBe(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

interface Booted {
  app: App;
  store: Store;
  close(): Promise<void>;
}

for (const engine of ENGINES) {
  describe(`crm sync with an OAuth app on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let hs: FakeHubspot | undefined;
    let running: Booted | undefined;
    /** Every log line of every app of the test, as written. */
    let lines: string[] = [];

    beforeAll(async () => {
      db = await engine.create();
    });
    afterEach(async () => {
      await running?.close();
      running = undefined;
      await hs?.close();
      hs = undefined;
      lines = [];
      const store = await openStore(db.config);
      try {
        for (const table of TABLES) await store.db.deleteFrom(table).execute();
      } finally {
        await store.close();
      }
    });
    afterAll(() => db?.drop());

    /** The real app, configured from the environment as the server is, logging at debug into `lines`. */
    async function boot(fake: FakeHubspot, refreshToken = REFRESH_TOKEN): Promise<App> {
      await running?.close();
      const env = {
        ...FAST_TASKS,
        LOG_LEVEL: 'debug',
        HUBSPOT_BASE_URL: fake.url,
        HUBSPOT_CLIENT_ID: CLIENT_ID,
        HUBSPOT_CLIENT_SECRET: CLIENT_SECRET,
        HUBSPOT_REFRESH_TOKEN: refreshToken,
      };
      const config = { ...loadConfig(env), database: db.config };
      const store = await openStore(config.database);
      const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
      const app = await buildApp({ config, store, logger });
      await app.ready();
      running = { app, store, close: async () => (await app.close(), await store.close()) };
      return app;
    }

    /** No token, client secret or refresh token in any log line or in what /tasks shows. */
    async function expectNoSecrets(app: App, fake: FakeHubspot): Promise<void> {
      const secrets = [CLIENT_SECRET, REFRESH_TOKEN, ...(fake.oauth?.issued ?? [])];
      expect(fake.oauth?.issued.length).toBeGreaterThan(0);
      const tasks = await app.inject('/tasks?status=all');
      expect(tasks.statusCode).toBe(200);
      const ids = (tasks.json() as { items: Array<{ task_id: string }> }).items.map((t) => t.task_id);
      expect(ids.length).toBeGreaterThan(0);
      const shown = [tasks.body, ...(await Promise.all(ids.map(async (id) => (await app.inject(`/tasks/${id}`)).body)))].join('\n');
      // The capture works: the runs are in it.
      const log = lines.join('');
      expect(log).toContain('sync started');
      for (const secret of secrets) {
        expect(log.includes(secret), 'a token or secret is in the log').toBe(false);
        expect(shown.includes(secret), 'a token or secret is in /tasks').toBe(false);
      }
    }

    it('refreshes by the clock across several expiries of 1 s tokens, keeps the rotated refresh token, and a restart uses it', async () => {
      // Paced: each answer takes 250 ms, so the walk spans several token lifetimes.
      hs = await startFakeHubspot({
        contacts: 800,
        latencyMs: 250,
        oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN, expiresInSeconds: 1, rotate: true },
      });
      let app = await boot(hs);
      const started = Date.now();
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      expect(Date.now() - started).toBeGreaterThan(2_000);
      await expectExactly(app, 'crm', contactIds(800));

      const entries = hs.state.requests.entries;
      const refreshes = entries.filter((e) => e.path === TOKEN_PATH);
      expect(hs.oauth!.refreshes).toBeGreaterThanOrEqual(3);
      expect(refreshes.every((e) => e.status === 200)).toBe(true);
      // By the clock: no request went out with an expired token.
      expect(entries.filter((e) => e.status === 401)).toEqual([]);
      const form = new URLSearchParams(String(refreshes[0]?.body));
      expect(Object.fromEntries(form)).toEqual({
        grant_type: 'refresh_token',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        refresh_token: REFRESH_TOKEN,
      });
      expect(refreshes[0]?.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);

      // The newest refresh token is kept; the one configured no longer works upstream.
      const newest = hs.oauth!.validRefreshTokens();
      expect(newest).toHaveLength(1);
      expect(newest[0]).not.toBe(REFRESH_TOKEN);
      const kept = await readProviderState(running!.store.db, 'hubspot', REFRESH_TOKEN_KEY);
      expect(JSON.parse(kept ?? '{}')).toMatchObject({ token: newest[0] });

      // A restart with the same environment starts from the kept token, not the spent one.
      app = await boot(hs);
      const mark = hs.state.requests.length;
      hs.state.updateContact('1001', { firstname: 'Rotated' });
      const again = await runSync(app, 'crm');
      expect(again.status, again.error ?? '').toBe('succeeded');
      const firstRefresh = hs.state.requests.entries.slice(mark).find((e) => e.path === TOKEN_PATH);
      expect(new URLSearchParams(String(firstRefresh?.body)).get('refresh_token')).toBe(newest[0]);
      expect((await app.inject('/customers/1001')).json()).toMatchObject({ name: expect.stringMatching(/^Rotated /) });
      await expectNoSecrets(app, hs);
    });

    it('a new HUBSPOT_REFRESH_TOKEN (the app installed again) wins over the kept one', async () => {
      hs = await startFakeHubspot({ contacts: 10, oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN, rotate: true } });
      let app = await boot(hs);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      // The app is installed again: HubSpot hands out a new refresh token, and the operator sets it.
      hs.oauth!.revoke();
      await hs.close();
      const reinstalled = 'fake-refresh-reinstall-1f2e-4d3c-9b8a-7e6f5d4c3b2a';
      hs = await startFakeHubspot({ contacts: 10, oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: reinstalled } });
      app = await boot(hs, reinstalled);
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      const sent = hs.state.requests.entries.find((e) => e.path === TOKEN_PATH);
      expect(new URLSearchParams(String(sent?.body)).get('refresh_token')).toBe(reinstalled);
    });

    it('refreshes once on a 401 (a token ended early) and goes on', async () => {
      hs = await startFakeHubspot({ contacts: 250, oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN } });
      const app = await boot(hs);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      expect(hs.oauth!.refreshes).toBe(1);

      hs.oauth!.expireAccessTokens();
      hs.state.updateContact('1002', { firstname: 'After401' });
      const mark = hs.state.requests.length;
      const task = await runSync(app, 'crm');
      expect(task.status, task.error ?? '').toBe('succeeded');
      const after = hs.state.requests.entries.slice(mark);
      expect(after.filter((e) => e.status === 401)).toHaveLength(1);
      expect(after.filter((e) => e.path === TOKEN_PATH)).toHaveLength(1);
      expect(hs.oauth!.refreshes).toBe(2);
      expect((await app.inject('/customers/1002')).json()).toMatchObject({ name: expect.stringMatching(/^After401 /) });
      await expectNoSecrets(app, hs);
    });

    it('a refused refresh token (the app uninstalled) fails the task with a message naming HUBSPOT_REFRESH_TOKEN', async () => {
      hs = await startFakeHubspot({ contacts: 20, oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN } });
      const app = await boot(hs);
      expect((await runSync(app, 'crm')).status).toBe('succeeded');
      hs.oauth!.revoke();
      hs.oauth!.expireAccessTokens();
      const task = await runSync(app, 'crm');
      expect(task.status).toBe('failed');
      expect(task.error).toContain('HUBSPOT_REFRESH_TOKEN');
      expect(task.error).toContain('400');
      // Refused outright: the refused token is not tried again and again.
      expect(hs.state.requests.entries.filter((e) => e.path === TOKEN_PATH && e.status === 400)).toHaveLength(1);
      expect(lines.join('')).toContain('HUBSPOT_REFRESH_TOKEN');
      await expectNoSecrets(app, hs);
    });
  });
}
