import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/open-store.js';
import { storedSnapshot } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/server-process.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Safety limits only: nothing below asserts how long anything took. */
const START_LIMIT_MS = 30_000;
const EXIT_LIMIT_MS = 20_000;

/** The environment of the test run, without anything that would configure the server behind our back. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (
      /^(PORT|HOST|DATABASE_URL|API_KEY|WEBHOOK_SECRET|LOG_LEVEL|BODY_LIMIT|MAX_RECORDS_PER_DELIVERY|WRITER_|TASK_|SYNC_INTERVAL_|HUBSPOT_|MAILCHIMP_|NODE_OPTIONS)/.test(
        name,
      )
    ) {
      delete env[name];
    }
  }
  return env;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Server {
  child: ChildProcess;
  port: number;
  base: string;
  stdout(): string;
  stderr(): string;
  /** The JSON log lines printed so far. */
  logs(): Array<Record<string, unknown>>;
  exited: Promise<Exit>;
  stop(signal: NodeJS.Signals): Promise<Exit>;
}

const running = new Set<ChildProcess>();

function spawnServer(env: Record<string, string>): Omit<Server, 'port' | 'base'> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  // 'close' comes after 'exit' and after the child's output pipes are drained.
  const exited = new Promise<Exit>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const logs = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stop = async (signal: NodeJS.Signals) => {
    child.kill(signal);
    return withLimit(exited, EXIT_LIMIT_MS, `server did not exit after ${signal}`);
  };
  return { child, stdout: () => out, stderr: () => err, logs, exited, stop };
}

async function withLimit<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the real server and resolves once it logs that it listens. */
async function startServer(env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const s = spawnServer({ HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env });
  const listening = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (s.logs().some((l) => l.msg === 'tributary listening')) resolve();
    };
    s.child.stdout?.on('data', check);
    void s.exited.then((e) => reject(new Error(`server exited (${e.code ?? e.signal}) before listening:\n${s.stderr()}\n${s.stdout()}`)));
  });
  await withLimit(listening, START_LIMIT_MS, 'server did not start listening');
  return { ...s, port, base: `http://127.0.0.1:${port}` };
}

/** Runs the server with a configuration that must refuse to start. */
async function refusedStart(env: Record<string, string>): Promise<Exit & { stdout: string; stderr: string }> {
  const s = spawnServer({ HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  const exit = await withLimit(s.exited, START_LIMIT_MS, 'server with a bad configuration did not exit');
  return { ...exit, stdout: s.stdout(), stderr: s.stderr() };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection (no keep-alive pool shared between tests). */
function request(base: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      `${base}${url}`,
      {
        method,
        agent: false,
        headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * A webhook whose body is held back: it resolves `started` once the server has
 * read the headers (it answers `100 Continue`), so the request is provably in
 * flight inside the server; `send()` then writes the body.
 */
function heldWebhook(base: string, body: unknown, webhookId: string) {
  const payload = JSON.stringify(body);
  let send!: () => void;
  let started!: Promise<void>;
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = http.request(`${base}/webhook`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
        'webhook-id': webhookId,
        expect: '100-continue',
      },
    });
    started = new Promise<void>((ok) => req.once('continue', () => ok()));
    send = () => req.end(payload);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  return { started, send: () => send(), answer };
}

/** Resolves once the server no longer takes new work: a fresh connection is refused or answered 503. */
async function closingObserved(base: string): Promise<void> {
  for (;;) {
    try {
      const res = await request(base, 'GET', '/healthz');
      if (res.status === 503) return;
    } catch {
      return; // connection refused or reset: the listener is gone
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function allRecords(base: string, headers: Record<string, string>): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  for (;;) {
    const res = await request(base, 'GET', `/data?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, undefined, headers);
    expect(res.status).toBe(200);
    const page = JSON.parse(res.body) as { items: Array<Record<string, unknown>>; next_cursor: string | null };
    out.push(...page.items);
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
}

afterAll(() => {
  // A failed test must not leave a server behind.
  for (const child of running) child.kill('SIGKILL');
});

describe('a bad configuration stops the start', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['PORT', { PORT: 'abc', DATABASE_URL: 'sqlite:/nonexistent/never-created.db' }],
    ['DATABASE_URL', { PORT: '0', DATABASE_URL: 'mysql://root@127.0.0.1/tributary' }],
  ];
  for (const [variable, env] of cases) {
    it(`${variable}=${env[variable]}: one stderr line naming ${variable}, exit code 2, no stack trace`, async () => {
      const res = await refusedStart(env);
      expect(res.signal).toBeNull();
      expect(res.code).toBe(2);
      const lines = res.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines, res.stderr).toHaveLength(1);
      expect(lines[0]).toContain(variable);
      // The value is shown where it is not a credential (a database URL may carry a password).
      expect(lines[0]).toContain(variable === 'PORT' ? '"abc"' : '"mysql:"');
      expect(res.stderr).not.toMatch(/^\s+at /m);
      expect(res.stderr).not.toMatch(/Error:/);
      // Refused before anything else happened: no log lines, no listening.
      expect(res.stdout).toBe('');
    });
  }
});

for (const engine of ENGINES) {
  describe(`the server process on ${engine.name}`, () => {
    let db: ScratchDatabase | undefined;
    let store: Store | undefined;
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('warns when open, shuts down gracefully on SIGTERM, keeps data and idempotency keys over a restart, stops on SIGINT', async () => {
      db = await engine.create();
      // A password in the URL must never reach the log (trust auth ignores it).
      const url = engine.name === 'postgres' ? db.url.replace('postgres@', 'postgres:s3cret-pw@') : db.url;
      const env = { DATABASE_URL: url, WRITER_MAX_DELAY_MS: '50' };

      // ---- first life --------------------------------------------------------
      const first = await startServer(env);
      const warnings = first
        .logs()
        .filter((l) => l.level === 40)
        .map((l) => String(l.msg));
      expect(warnings.some((m) => m.includes('API_KEY'))).toBe(true);
      expect(warnings.some((m) => m.includes('WEBHOOK_SECRET'))).toBe(true);
      const listening = first.logs().find((l) => l.msg === 'tributary listening');
      expect(listening).toMatchObject({ port: first.port, host: '127.0.0.1' });
      expect(first.stdout()).not.toContain('s3cret-pw');

      // Deliveries with webhook-id, answered before the shutdown begins.
      const early: Array<{ id: string; externalId: string; answer: Answer }> = [];
      for (let i = 0; i < 5; i++) {
        const id = `restart-${i}`;
        const externalId = `early_${i}`;
        const answer = await request(first.base, 'POST', '/webhook', { customer: { external_id: externalId, name: `Early ${i}` } }, { 'webhook-id': id });
        expect(answer.status).toBe(200);
        early.push({ id, externalId, answer });
      }

      // Requests provably inside the server (headers read, body held back) when SIGTERM arrives.
      const held = Array.from({ length: 24 }, (_, i) => ({
        externalId: `held_${i}`,
        ...heldWebhook(first.base, { customer: { external_id: `held_${i}`, name: `Held ${i}` } }, `held-${i}`),
      }));
      await withLimit(Promise.all(held.map((h) => h.started)), START_LIMIT_MS, 'held requests never reached the server');

      // And a burst of ordinary ones racing the signal: whatever they get, a 200 must mean stored.
      const burst = Array.from({ length: 40 }, (_, i) => {
        const externalId = `burst_${i}`;
        return request(first.base, 'POST', '/webhook', { campaign: { external_id: externalId, budget: i } }, { 'webhook-id': `burst-${i}` }).then(
          (answer) => ({ externalId, answer }),
          (error: Error) => ({ externalId, answer: undefined, error }),
        );
      });

      first.child.kill('SIGTERM');
      await withLimit(closingObserved(first.base), EXIT_LIMIT_MS, 'the server never stopped taking new connections');
      // The server is closing: only now do the held requests send their bodies.
      for (const h of held) h.send();
      const heldAnswers = await withLimit(
        // A refused or reset request is a failure below, not an unhandled rejection here.
        Promise.all(held.map((h) => h.answer.catch((error: Error): Answer => ({ status: 0, headers: {}, body: String(error) })))),
        EXIT_LIMIT_MS,
        'held requests were not answered',
      );
      const burstAnswers = await withLimit(Promise.all(burst), EXIT_LIMIT_MS, 'burst requests were not answered');
      const firstExit = await withLimit(first.exited, EXIT_LIMIT_MS, 'server did not exit after SIGTERM');

      expect(firstExit, first.stderr()).toEqual({ code: 0, signal: null });
      for (const [i, a] of heldAnswers.entries()) {
        expect(a.status, `held_${i}: ${a.body}`).toBe(200);
        expect(JSON.parse(a.body)).toMatchObject({ status: 'stored', delivery_id: `held-${i}`, stored: 1 });
      }
      expect(first.logs().some((l) => l.msg === 'shut down cleanly')).toBe(true);
      expect(first.stderr()).toBe('');
      expect(first.logs().filter((l) => (l.level as number) >= 50)).toEqual([]);

      // ---- second life, same database, now closed: an API key and a webhook secret ----
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      const second = await startServer({ ...env, API_KEY: 'proc-key-1-0123456789 proc-key-2-0123456789', WEBHOOK_SECRET: secret });
      const secondWarnings = second
        .logs()
        .filter((l) => l.level === 40)
        .map((l) => String(l.msg));
      expect(secondWarnings.filter((m) => /API_KEY|WEBHOOK_SECRET/.test(m))).toEqual([]);
      const auth = { authorization: 'Bearer proc-key-2-0123456789' };
      expect((await request(second.base, 'GET', '/data')).status).toBe(401);
      expect((await request(second.base, 'GET', '/healthz')).status).toBe(200);
      const signed = (id: string, body: unknown) => {
        const payload = JSON.stringify(body);
        const now = new Date();
        return {
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(id, now, payload),
        };
      };

      const records = await allRecords(second.base, auth);
      const stored = new Set(records.map((r) => `${r.type}:${r.external_id}`));
      for (const e of early) expect(stored, e.externalId).toContain(`customer:${e.externalId}`);
      for (const h of held) expect(stored, h.externalId).toContain(`customer:${h.externalId}`);
      const acknowledged = burstAnswers.filter((b) => b.answer?.status === 200);
      for (const b of acknowledged) expect(stored, b.externalId).toContain(`campaign:${b.externalId}`);
      // Nothing was stored twice, and nothing that was not sent.
      expect(records).toHaveLength(stored.size);
      expect(records.length).toBeLessThanOrEqual(early.length + held.length + burst.length);
      expect((await request(second.base, 'GET', '/customers/early_3', undefined, auth)).body).toContain('Early 3');

      // A repeated webhook-id gets the first answer, from before the restart, and writes nothing.
      store = await openStore(db.config);
      const before = await storedSnapshot(store);
      const unsigned = await request(second.base, 'POST', '/webhook', { customer: { external_id: 'early_0', name: 'Changed' } }, { 'webhook-id': 'restart-0' });
      expect(unsigned.status).toBe(401);
      for (const e of early) {
        const body = { customer: { external_id: e.externalId, name: 'Changed' } };
        const again = await request(second.base, 'POST', '/webhook', body, signed(e.id, body));
        expect(again.status).toBe(200);
        expect(again.headers['idempotent-replayed']).toBe('true');
        expect(JSON.parse(again.body)).toEqual(JSON.parse(e.answer.body));
      }
      const heldBody = { customer: { external_id: 'held_0', name: 'Changed' } };
      const heldAgain = await request(second.base, 'POST', '/webhook', heldBody, signed('held-0', heldBody));
      expect(heldAgain.headers['idempotent-replayed']).toBe('true');
      expect(JSON.parse(heldAgain.body)).toEqual(JSON.parse((heldAnswers[0] as Answer).body));
      expect(await storedSnapshot(store)).toBe(before);
      expect((await request(second.base, 'GET', '/customers/early_3', undefined, auth)).body).toContain('Early 3');

      // The raw delivery of every acknowledged webhook is in the inbox.
      const inbox = await store.db.selectFrom('webhook_inbox').select('idempotency_key').execute();
      const keys = new Set(inbox.map((r) => r.idempotency_key));
      for (const key of [...early.map((e) => e.id), ...held.map((_, i) => `held-${i}`)]) expect(keys, key).toContain(key);

      // SIGINT stops it as cleanly as SIGTERM.
      const secondExit = await second.stop('SIGINT');
      expect(secondExit, second.stderr()).toEqual({ code: 0, signal: null });
      expect(second.logs().some((l) => l.msg === 'shutting down: finishing in-flight requests and flushing the writer' && l.signal === 'SIGINT')).toBe(true);
      expect(second.logs().some((l) => l.msg === 'shut down cleanly')).toBe(true);
      expect(second.stderr()).toBe('');
    }, 180_000); // four process starts: slow on a loaded CI machine
  });
}

describe('shutdown with a keep-alive client', () => {
  /**
   * SIGTERM while a webhook is in flight on a keep-alive connection (what
   * HubSpot, undici/fetch and most HTTP clients use). The request is answered,
   * but the connection stays open afterwards (Fastify's keepAliveTimeout is
   * 72 s): unless shutdown closes connections as they go idle, server.close()
   * never calls back, the writer flush and store.close() never run, and the
   * 10 s force timer exits with code 1.
   */
  const ROOT = path.resolve(import.meta.dirname, '../..');
  const engine = ENGINES[0] as (typeof ENGINES)[number];
  const children = new Set<ChildProcess>();
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of drops) await d();
  });

  const until = async (cond: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return cond();
  };

  async function scenario(script: string) {
    const db = await engine.create();
    drops.push(db.drop);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    if (!(await until(() => out.includes('tributary listening'), 30_000))) throw new Error(`no start:\n${out}`);

    const body = JSON.stringify({ customer: { external_id: 'ka_1', name: 'Keep Alive' } });
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (d: string) => (received += d));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(
      `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nwebhook-id: ka-1\r\n\r\n`,
    );
    // The server has read the headers: the request is in flight.
    expect(await until(() => received.includes('100 Continue'), 5000)).toBe(true);
    const t0 = Date.now();
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body);
    expect(await until(() => received.includes('"status":"stored"'), 5000)).toBe(true);
    // The client keeps its idle keep-alive connection, as pooled clients do.
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(r, 15_000, 'no exit in 15 s'))]);
    const took = Date.now() - t0;
    socket.destroy();
    const lines = out.split('\n').filter((l) => /shut down|shutdown/.test(l));
    return { code, took, lines };
  }

  describe('shutdown with a keep-alive client', () => {
    it('src/server.ts: exits 0 soon after SIGTERM once the in-flight request is answered', async () => {
      const r = await scenario('src/server.ts');
      expect(r.code).toBe(0);
      expect(r.took).toBeLessThan(5000);
    }, 60_000);
  });
});
