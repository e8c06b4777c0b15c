import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { inboxRows } from '../helpers/webhooks.js';
import { holdWriteLock } from './lock-holder.js';

const sqlite = ENGINES.find((e) => e.name === 'sqlite');
if (!sqlite) throw new Error('SQLite is always among the engines');

describe('a second connection holds the SQLite write lock past STORE_LOCK_WAIT', () => {
  let db: ScratchDatabase;
  let t: TestApp;

  beforeAll(async () => {
    db = await sqlite.create();
    t = await startApp(db, { STORE_LOCK_WAIT: '1500ms' });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it('the webhook gets 503 with Retry-After and leaves no dead letter; /healthz answers within 100 ms meanwhile; the retry is stored', async () => {
    const lock = await holdWriteLock(db);
    const started = Date.now();
    const delivery = postWebhook(t.app, { customer: { external_id: 'locked_1' } }, { 'webhook-id': 'locked-1' });
    // While the writer waits for the lock, the event loop is free: liveness answers at once, many times over.
    const slowest = { ms: 0, checks: 0 };
    while (Date.now() - started < 1200) {
      const t0 = performance.now();
      const health = await t.app.inject('/healthz');
      slowest.ms = Math.max(slowest.ms, performance.now() - t0);
      slowest.checks++;
      expect(health.statusCode).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const res = await delivery;
    const waited = Date.now() - started;
    expect(slowest.checks).toBeGreaterThan(10);
    expect(slowest.ms).toBeLessThan(100);
    expect(expectProblem(res, 503).type).toBe('/problems/unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // It waited the budget out, and no more than a little past it.
    expect(waited).toBeGreaterThanOrEqual(1400);
    expect(waited).toBeLessThan(5000);
    await lock.release();

    expect(await inboxRows(t.store)).toEqual([]);
    const metrics = await t.app.inject('/metrics');
    expect(metrics.body).toMatch(/^tributary_store_unavailable_total\{operation="webhook_batch"\} 1$/m);

    const retried = await postWebhook(t.app, { customer: { external_id: 'locked_1' } }, { 'webhook-id': 'locked-1' });
    expect(retried.statusCode, retried.body).toBe(200);
    expect((await inboxRows(t.store)).map((r) => r.status)).toEqual(['processed']);
    const stored = await t.app.inject('/customers/locked_1');
    expect(stored.statusCode).toBe(200);
  });

  it('a lock released within the wait is waited for: the delivery is stored, not refused', async () => {
    const lock = await holdWriteLock(db);
    const delivery = postWebhook(t.app, { customer: { external_id: 'locked_2' } }, { 'webhook-id': 'locked-2' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lock.release();
    const res = await delivery;
    expect(res.statusCode, res.body).toBe(200);
  });
});
