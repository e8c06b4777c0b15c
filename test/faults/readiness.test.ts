import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type DatabaseConfig } from '../../src/config.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { StoreReadiness } from '../../src/store/readiness.js';
import { expectProblem, postWebhook } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';
import { recordWriteFault, type RecordWriteFault } from './store-faults.js';
import { startTcpProxy, throughProxy, type TcpProxy } from './tcp-proxy.js';

interface Booted {
  app: App;
  store: Store;
  /** Log lines at error or above. */
  errors: Array<{ msg: string }>;
  close(): Promise<void>;
}

/** The real app on `database`, with a logger whose error lines the test reads. */
async function boot(database: DatabaseConfig): Promise<Booted> {
  const errors: Array<{ msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        const line = JSON.parse(l) as { msg: string; level: number };
        if (line.level >= 50) errors.push(line);
      }
      done();
    },
  });
  const config = { ...loadConfig({ LOG_LEVEL: 'info' }), database };
  const store = await openStore(database, { connectTimeoutMs: 1_000 });
  const app = await buildApp({ config, store, logger: pino({ level: 'info' }, sink), runTasks: false });
  await app.ready();
  return {
    app,
    store,
    errors,
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}

/** GET /readyz, with how long it took. */
async function readyz(app: App) {
  const started = Date.now();
  const res = await app.inject('/readyz');
  return { res, ms: Date.now() - started };
}

for (const engine of ENGINES) {
  describe(`/readyz follows the last webhook writes on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let b: Booted;
    let fault: RecordWriteFault;

    beforeAll(async () => {
      db = await engine.create();
      b = await boot(db.config);
      fault = await recordWriteFault(db, b.store);
    });
    afterAll(async () => {
      await fault?.close();
      await b?.close();
      await db?.drop();
    });

    it('three webhook writes failing in a row make it 503 with Retry-After; one success makes it 200 again', async () => {
      expect((await readyz(b.app)).res.statusCode).toBe(200);
      await fault.on();
      for (let i = 0; i < 3; i++) {
        const res = await postWebhook(b.app, { customer: { external_id: `r_${i}` } }, { 'webhook-id': `readyz-${i}` });
        expectProblem(res, 503);
        // Two failures are not an outage yet.
        if (i < 2) expect((await readyz(b.app)).res.statusCode).toBe(200);
      }
      const { res } = await readyz(b.app);
      const problem = expectProblem(res, 503);
      expect(problem.type).toBe('/problems/unavailable');
      expect(problem.detail).toMatch(/webhook writes failed/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      await fault.off();
      expect((await postWebhook(b.app, { customer: { external_id: 'r_ok' } }, { 'webhook-id': 'readyz-ok' })).statusCode).toBe(200);
      expect((await readyz(b.app)).res.json()).toEqual({ status: 'ready', database: engine.name });
      // A 503 from /readyz is an answer, not a failure of the service: no error line for it.
      expect(b.errors.filter((e) => /request failed/.test(e.msg))).toEqual([]);
    });
  });
}

describe('StoreReadiness', () => {
  let db: ScratchDatabase;
  let store: Store;
  beforeAll(async () => {
    db = await (ENGINES[0] as (typeof ENGINES)[number]).create();
    store = await openStore(db.config);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
  const refused = Object.assign(new Error('NOT NULL constraint failed: records.type'), { code: 'SQLITE_CONSTRAINT_NOTNULL' });

  it('counts only passing failures, in a row, and forgets them after a while without writes', async () => {
    const r = new StoreReadiness(store, { failedWrites: 3, forgetMs: 200 });
    // A record the store refuses says nothing about the store.
    for (let i = 0; i < 5; i++) r.writeFailed(refused);
    expect(await r.check()).toEqual({ ready: true });
    r.writeFailed(busy);
    r.writeFailed(busy);
    r.writeSucceeded();
    r.writeFailed(busy);
    r.writeFailed(busy);
    expect(await r.check()).toEqual({ ready: true });
    r.writeFailed(busy);
    expect(await r.check()).toMatchObject({ ready: false, by: 'writes' });
    await new Promise((resolve) => setTimeout(resolve, 250));
    // No write since: the probe alone decides, and the store answers it.
    expect(await r.check()).toEqual({ ready: true });
  });

  it('checks that come together share one probe and are all ready', async () => {
    let pings = 0;
    const counted: Store = { ...store, dialect: { ...store.dialect, ping: (db) => (pings++, store.dialect.ping(db)) } };
    const r = new StoreReadiness(counted);
    expect(await Promise.all([r.check(), r.check(), r.check()])).toEqual([{ ready: true }, { ready: true }, { ready: true }]);
    expect(pings).toBe(1);
    // Settled, it is not reused: the next check asks the store again.
    expect(await r.check()).toEqual({ ready: true });
    expect(pings).toBe(2);
  });
});

const pgEngine = ENGINES.find((e) => e.name === 'postgres');

describe.skipIf(!pgEngine)('/readyz with PostgreSQL behind a proxy that stops forwarding', () => {
  let db: ScratchDatabase;
  let proxy: TcpProxy;
  let b: Booted | undefined;

  beforeAll(async () => {
    db = await (pgEngine as NonNullable<typeof pgEngine>).create();
  });
  afterEach(async () => {
    proxy?.thaw();
    await b?.close();
    b = undefined;
    await proxy?.close();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const start = async () => {
    const target = new URL(db.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    b = await boot({ kind: 'postgres', url: throughProxy(db.url, proxy) });
    expect((await readyz(b.app)).res.statusCode).toBe(200);
    return b;
  };

  it('frozen: 503 within 2 s, at once while the probe still hangs, and 200 again once it forwards', async () => {
    const { app, errors } = await start();
    proxy.freeze();
    const first = await readyz(app);
    expectProblem(first.res, 503);
    expect(first.ms).toBeLessThan(2_000);
    expect(Number(first.res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The first probe is still in flight: the next checks do not add another, and answer at once.
    const again = await Promise.all([readyz(app), readyz(app), readyz(app)]);
    for (const r of again) {
      expectProblem(r.res, 503);
      expect(r.ms).toBeLessThan(500);
    }
    proxy.thaw();
    await waitFor(async () => ((await readyz(app)).res.statusCode === 200 ? true : undefined), '/readyz 200 after the thaw', 10_000);
    expect(errors.filter((e) => /request failed/.test(e.msg))).toEqual([]);
  });

  it('unreachable (connections cut, nothing listening): 503 within 2 s', async () => {
    const { app } = await start();
    await proxy.close();
    const r = await readyz(app);
    expectProblem(r.res, 503);
    expect(r.ms).toBeLessThan(2_000);
  });
});
