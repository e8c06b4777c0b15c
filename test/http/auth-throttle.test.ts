import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { expectProblem } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

const KEY = 'throttle-key-0123456789';
const LIMIT = 5;
const WINDOW_MS = 1500;

interface LogLine {
  level: number;
  msg: string;
  address?: string;
  failures?: number;
  refused?: number;
  throttled?: boolean;
}

for (const engine of ENGINES) {
  describe(`AUTH_FAILURE_LIMIT on ${engine.name}`, () => {
    const lines: LogLine[] = [];
    let db: ScratchDatabase;
    let store: Store;
    let app: App;

    const get = (address: string, key: string | null, url = '/data?limit=1') =>
      app.inject({ url, remoteAddress: address, headers: key === null ? {} : { authorization: `Bearer ${key}` } });
    const summaries = (address: string) => lines.filter((l) => l.msg === 'failed API key checks from one address' && l.address === address);

    beforeAll(async () => {
      db = await engine.create();
      const config = { ...loadConfig({ API_KEY: KEY, AUTH_FAILURE_LIMIT: `${LIMIT}/${WINDOW_MS}ms` }), database: db.config };
      store = await openStore(config.database);
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
          done();
        },
      });
      app = await buildApp({ config, store, logger: pino({ level: 'info' }, sink), runTasks: false });
      await app.ready();
    });
    afterAll(async () => {
      await app?.close();
      await store?.close();
      await db?.drop();
    });

    it('past the limit an address gets 429 with Retry-After, even with the right key, until its window passes; others are untouched', async () => {
      const guesser = '198.51.100.7';
      const neighbour = '198.51.100.8';
      for (let i = 0; i < LIMIT; i++) {
        const res = await get(guesser, `wrong-guess-${i}-0123456789`);
        expectProblem(res, 401);
      }
      const startedAt = Date.now();
      // The right key from the throttled address: refused too, or a guesser would learn which guess was right.
      const refused = await get(guesser, KEY);
      const problem = expectProblem(refused, 429);
      expect(problem.type).toBe('/problems/rate-limited');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil(WINDOW_MS / 1000));
      // No key at all is refused the same way, and on every protected route.
      expectProblem(await get(guesser, null, '/metrics'), 429);

      // Another address is not held by this one's failures.
      expect((await get(neighbour, KEY)).statusCode).toBe(200);
      expectProblem(await get(neighbour, 'wrong-guess-neighbour-0123'), 401);
      // Public routes take no key and are never throttled.
      expect((await get(guesser, null, '/healthz')).statusCode).toBe(200);

      // Nothing is logged per request while the window is open.
      expect(summaries(guesser)).toEqual([]);

      await new Promise((resolve) => setTimeout(resolve, Math.max(0, WINDOW_MS - (Date.now() - startedAt)) + 100));
      expect((await get(guesser, KEY)).statusCode).toBe(200);
      // The window closed: one warn line with the count, not one per failure.
      const logged = summaries(guesser);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 40, failures: LIMIT, refused: 2, throttled: true });
    });

    it('a burst of failures is one log line per address and window', async () => {
      const burst = '203.0.113.50';
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await get(burst, `burst-guess-${i}-0123456789`)).statusCode);
      expect(statuses.slice(0, LIMIT)).toEqual(new Array(LIMIT).fill(401));
      expect(statuses.slice(LIMIT)).toEqual(new Array(40 - LIMIT).fill(429));
      await new Promise((resolve) => setTimeout(resolve, WINDOW_MS + 100));
      // Closed by the next request of the address, or by the sweep, whichever comes first.
      expect((await get(burst, KEY)).statusCode).toBe(200);
      const logged = summaries(burst);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level: 40, failures: LIMIT, refused: 40 - LIMIT });
    });
  });
}

describe('AUTH_FAILURE_LIMIT=off', () => {
  let db: ScratchDatabase;
  let store: Store;
  let app: App;
  beforeAll(async () => {
    db = await (ENGINES[0] as (typeof ENGINES)[number]).create();
    const config = { ...loadConfig({ API_KEY: KEY, AUTH_FAILURE_LIMIT: 'off', LOG_LEVEL: 'silent' }), database: db.config };
    store = await openStore(config.database);
    app = await buildApp({ config, store, logger: pino({ level: 'silent' }), runTasks: false });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await db?.drop();
  });

  it('never throttles', async () => {
    for (let i = 0; i < 30; i++) expect((await app.inject({ url: '/data', headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/data', headers: { authorization: `Bearer ${KEY}` } })).statusCode).toBe(200);
  });
});
