import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceConnector } from '../../src/sources/connector.js';
import { expectProblem, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';

/** tributary_store_errors_total{operation="request"} counts the database's failures, not every 500. */

/** A source whose code has a bug: asking it for its configuration throws. */
const buggyConnector = {
  name: 'buggy',
  missingConfiguration: () => {
    throw new TypeError("Cannot read properties of undefined (reading 'token')");
  },
} as unknown as SourceConnector;

for (const engine of ENGINES) {
  describe(`store error metric on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;

    const requestStoreErrors = async (): Promise<number> => {
      const text = (await t.app.inject('/metrics')).body;
      const line = text.split('\n').find((l) => l.startsWith('tributary_store_errors_total{operation="request"}'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db, {}, { connectors: new Map([['buggy', buggyConnector]]), runTasks: false });
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('a bug in a route is a 500 that is not counted as a store error', async () => {
      const before = await requestStoreErrors();
      const res = await t.app.inject({ method: 'POST', url: '/sync/buggy' });
      expect(expectProblem(res, 500).detail).not.toContain('token');
      expect(await requestStoreErrors()).toBe(before);
    });

    it('a statement the database refuses is a 500 counted as a store error', async () => {
      const before = await requestStoreErrors();
      // The records table gone from under the app: every read of it fails in the database.
      await sql`alter table records rename to records_elsewhere`.execute(t.store.db);
      try {
        expectProblem(await t.app.inject('/customers'), 500);
        expect(await requestStoreErrors()).toBe(before + 1);
      } finally {
        await sql`alter table records_elsewhere rename to records`.execute(t.store.db);
      }
      expect((await t.app.inject('/customers')).statusCode).toBe(200);
    });
  });
}
