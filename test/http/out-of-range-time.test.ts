import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { runSync, scratchDir, writeSourcesFile } from '../declared/helpers.js';

// A declared source whose epoch_ms `updated_at` is past what a JS Date holds
// (8.64e15 ms): the sync stores it as source_updated_at (a BIGINT takes it),
// and from then on every listing page that holds that record answers 500.
for (const engine of ENGINES) {
  describe(`an out-of-range source_updated_at on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let server: http.Server;
    const files = scratchDir();

    beforeAll(async () => {
      server = http.createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify([
            { id: 'ok-1', name: 'Fine', modified: 1_767_225_600_000 },
            { id: 'far', name: 'Far future', modified: 1e16 },
          ]),
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const file = writeSourcesFile(files.dir, 'sources.json', {
        sources: {
          acme: {
            type: 'customer',
            base_url: url,
            path: '/items',
            mapping: { external_id: 'id', name: 'name', updated_at: 'modified', updated_at_format: 'epoch_ms' },
          },
        },
      });
      db = await engine.create();
      t = await startApp(db, { SOURCES_FILE: file });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
      await new Promise<void>((r) => server.close(() => r()));
      files.remove();
    });

    it('the sync succeeds, and the records it stored can be listed and read', async () => {
      const task = await runSync(t.app, 'acme');
      expect(task.status, task.error ?? '').toBe('succeeded');
      for (const u of ['/data', '/customers', '/customers/far', '/data?source=acme']) {
        const res = await t.app.inject(u);
        expect(res.statusCode, `${u}: ${res.body}`).toBe(200);
      }
    });

    it('a webhook updated_at the schema accepts but UTC cannot write (year 0000, with an offset) reads back as null, not a malformed date-time', async () => {
      const w = await postWebhook(t.app, { customer: { external_id: 'year-zero', updated_at: '0000-01-01T00:00:00+00:01' } });
      expect(w.statusCode, w.body).toBe(200);
      const res = await t.app.inject('/customers/year-zero');
      expect(res.statusCode, res.body).toBe(200);
      expect((res.json() as { source_updated_at: string | null }).source_updated_at).toBeNull();
    });
  });
}
