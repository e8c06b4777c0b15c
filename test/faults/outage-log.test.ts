import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { StoreOutage } from '../../src/store/outage.js';
import { StoreUnavailable } from '../../src/store/store-errors.js';
import { expectProblem, postWebhook, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { holdWriteLock } from './lock-holder.js';
import { LEVEL, startLoggedApp, type LogLine } from './logged-app.js';

const FAILING_REQUESTS = 50;

for (const engine of ENGINES) {
  describe(`a store outage in the log, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp & { lines: LogLine[] };

    beforeAll(async () => {
      db = await engine.create();
      t = await startLoggedApp(db, { STORE_LOCK_WAIT: '20ms' });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it(`${FAILING_REQUESTS} failing requests write one start line, one end line with the count, and the rest at debug`, async () => {
      const before = t.lines.length;
      const lock = await holdWriteLock(db);
      try {
        for (let i = 0; i < FAILING_REQUESTS; i++) {
          expectProblem(await postWebhook(t.app, { customer: { external_id: `out_${i}` } }, { 'webhook-id': `out-${i}` }), 503);
        }
      } finally {
        await lock.release();
      }
      expect((await postWebhook(t.app, { customer: { external_id: 'back_1' } })).statusCode).toBe(200);

      const lines = t.lines.slice(before);
      const loud = lines.filter((l) => l.level >= LEVEL.info);
      expect(loud.map((l) => [l.level, l.msg])).toEqual([
        [LEVEL.error, 'store unavailable: answering 503 with Retry-After until it is back'],
        [LEVEL.warn, 'store available again'],
      ]);
      // The start line carries the store's own error.
      expect(loud[0]?.err?.code).toMatch(engine.name === 'sqlite' ? /^SQLITE_BUSY/ : /^55P03$/);
      expect(loud[1]).toMatchObject({ failed_operations: FAILING_REQUESTS, outage_ms: expect.any(Number) });
      expect(lines.filter((l) => l.level === LEVEL.debug && l.msg === 'store still unavailable')).toHaveLength(FAILING_REQUESTS - 1);
    });
  });
}

const sqlite = ENGINES.find((e) => e.name === 'sqlite');
if (!sqlite) throw new Error('SQLite is always among the engines');

describe("the task runner's poll shares the outage with the routes", () => {
  let db: ScratchDatabase;
  let t: TestApp & { lines: LogLine[] };

  beforeAll(async () => {
    db = await sqlite.create();
    t = await startLoggedApp(db, { STORE_LOCK_WAIT: '20ms', TASK_POLL: '50ms' }, true);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('polls failing under a held lock, with webhooks failing too, make one start line and one end line once both work again', async () => {
    const before = t.lines.length;
    const lock = await holdWriteLock(db);
    try {
      // Several polls fail meanwhile, each at debug after the first failure.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expectProblem(await postWebhook(t.app, { customer: { external_id: 'poll_1' } }), 503);
    } finally {
      await lock.release();
    }
    // The next poll works again; then a webhook does.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await postWebhook(t.app, { customer: { external_id: 'poll_2' } })).statusCode).toBe(200);

    const lines = t.lines.slice(before);
    const loud = lines.filter((l) => l.level >= LEVEL.warn);
    expect(loud.map((l) => l.msg)).toEqual(['store unavailable: answering 503 with Retry-After until it is back', 'store available again']);
    const failedUses = new Set(lines.filter((l) => l.msg.startsWith('store ') && l.level !== LEVEL.warn).map((l) => l.use));
    expect(failedUses).toEqual(new Set(['task_poll', 'webhook']));
    expect(Number(loud[1]?.failed_operations)).toBeGreaterThanOrEqual(3);
  });
});

describe('StoreOutage ends an outage only when every failed use works again', () => {
  const transient = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });

  function tracker(now: () => number) {
    const lines: LogLine[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as LogLine);
        done();
      },
    });
    return { outage: new StoreOutage(pino({ level: 'debug' }, sink), createMetrics(), { now, quietMs: 60_000 }), lines };
  }
  const ends = (lines: LogLine[]) => lines.filter((l) => l.msg === 'store available again');

  it('a success on another path does not end it; the last failing use working again does', () => {
    let clock = 0;
    const { outage, lines } = tracker(() => clock);
    expect(outage.failed('webhook', transient)).toBeInstanceOf(StoreUnavailable);
    expect(outage.failed('task_heartbeat', transient)).toBeInstanceOf(StoreUnavailable);
    clock = 1_000;
    outage.succeeded('task_poll');
    outage.succeeded('webhook');
    expect(outage.down).toBe(true);
    expect(ends(lines)).toEqual([]);
    clock = 2_000;
    outage.succeeded('task_heartbeat');
    expect(outage.down).toBe(false);
    expect(ends(lines)).toEqual([expect.objectContaining({ failed_operations: 2, outage_ms: 2_000 })]);
  });

  it('a use that has not failed for the quiet time no longer holds it open', () => {
    let clock = 0;
    const { outage, lines } = tracker(() => clock);
    outage.failed('replay', transient);
    outage.failed('webhook', transient);
    clock = 30_000;
    outage.succeeded('webhook');
    expect(outage.down).toBe(true);
    clock = 61_000;
    outage.succeeded('webhook');
    expect(outage.down).toBe(false);
    expect(ends(lines)).toHaveLength(1);
  });

  it('an error the same request would hit again is no outage: given back as it is, nothing logged', () => {
    const { outage, lines } = tracker(() => 0);
    const refused = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(outage.failed('webhook', refused)).toBe(refused);
    expect(outage.down).toBe(false);
    expect(lines).toEqual([]);
  });
});
