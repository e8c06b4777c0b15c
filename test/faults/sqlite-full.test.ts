import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, postWebhook, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { inboxRows } from '../helpers/webhooks.js';
import { LEVEL, startLoggedApp, type LogLine } from './logged-app.js';

const sqlite = ENGINES.find((e) => e.name === 'sqlite');
if (!sqlite) throw new Error('SQLite is always among the engines');

/** About 200 KB: more pages than a full database has left. */
const bigDelivery = (id: string) => ({ customer: { external_id: id, notes: 'x'.repeat(200_000) } });

describe('SQLite full (max_page_count reached)', () => {
  let db: ScratchDatabase;
  let t: TestApp & { lines: LogLine[] };

  beforeAll(async () => {
    db = await sqlite.create();
    t = await startLoggedApp(db);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  const pragma = async (text: string) => (await sql.raw(`PRAGMA ${text}`).execute(t.store.db)).rows[0] as Record<string, number> | undefined;

  it('answers 503, logs the real "database or disk is full", keeps no dead letter, and recovers without a restart once space is back', async () => {
    const pages = Number((await pragma('page_count'))?.page_count);
    await pragma(`max_page_count = ${pages}`);

    const res = await postWebhook(t.app, bigDelivery('full_1'), { 'webhook-id': 'full-1' });
    expect(expectProblem(res, 503).type).toBe('/problems/unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    const text = JSON.stringify(t.lines);
    expect(text).toContain('database or disk is full');
    expect(text).not.toContain('cannot rollback');
    const start = t.lines.filter((l) => l.level === LEVEL.error);
    expect(start).toHaveLength(1);
    expect(start[0]?.err?.code).toBe('SQLITE_FULL');

    // Space is back: the same delivery, retried, is stored.
    await pragma(`max_page_count = ${pages * 1000}`);
    const retried = await postWebhook(t.app, bigDelivery('full_1'), { 'webhook-id': 'full-1' });
    expect(retried.statusCode, retried.body.slice(0, 300)).toBe(200);
    expect((await inboxRows(t.store)).map((r) => r.status)).toEqual(['processed']);
    expect(t.lines.filter((l) => l.msg === 'store available again')).toHaveLength(1);
  });
});
