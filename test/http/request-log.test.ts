import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loggableUrl } from '../../src/providers/index.js';
import { loadConfig } from '../../src/config.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { MAILCHIMP_SECRET, postMailchimp } from '../helpers/webhooks.js';

describe('the request log at LOG_LEVEL=debug', () => {
  const lines: string[] = [];
  let db: ScratchDatabase;
  let store: Store;
  let app: Awaited<ReturnType<typeof buildApp>>;

  beforeAll(async () => {
    db = await (ENGINES[0] as (typeof ENGINES)[number]).create();
    const config = { ...loadConfig({ LOG_LEVEL: 'debug', MAILCHIMP_WEBHOOK_SECRET: MAILCHIMP_SECRET }), database: db.config };
    store = await openStore(config.database);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    app = await buildApp({ config, store, logger: pino({ level: 'debug' }, sink), runTasks: false });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
    await db?.drop();
  });

  it('logs Mailchimp webhook requests without the secret in their URL, accepted or refused', async () => {
    expect((await postMailchimp(app, { type: 'subscribe', 'data[email]': 'a@example.com' })).statusCode).toBeLessThan(300);
    expect((await postMailchimp(app, { type: 'subscribe' }, 'wrong-secret-value')).statusCode).toBe(401);
    const completed = lines.filter((l) => l.includes('request completed'));
    expect(completed.length).toBeGreaterThanOrEqual(2);
    expect(completed.some((l) => l.includes('/webhooks/mailchimp/***'))).toBe(true);
    const all = lines.join('\n');
    expect(all).not.toContain(MAILCHIMP_SECRET);
    expect(all).not.toContain('wrong-secret-value');
  });

  it('masks only that path segment', () => {
    expect(loggableUrl('/webhooks/mailchimp/s3cret?x=1')).toBe('/webhooks/mailchimp/***?x=1');
    expect(loggableUrl('/data?cursor=abc')).toBe('/data?cursor=abc');
  });
});
