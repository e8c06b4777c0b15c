import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { breakRecordWrites } from '../webhooks/helpers.js';

// A body that starts with a UTF-8 byte order mark is accepted on arrival
// (secure-json-parse skips the BOM) and stored raw, BOM included. When it
// became a dead letter, the replay parsed the stored body with JSON.parse,
// which refuses the BOM: the dead letter could never be replayed.
for (const engine of ENGINES) {
  describe(`replay of a dead letter whose body starts with a BOM, on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
    });
    afterAll(async () => {
      await t?.close();
      await db?.drop();
    });

    it('is accepted when the store works', async () => {
      const res = await postWebhook(t.app, '\uFEFF{"customer":{"external_id":"bom_ok","name":"A"}}', { 'webhook-id': 'bom-ok' });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('once the store heals, replay stores it', async () => {
      const broken = await breakRecordWrites(t.store, 'bom_dead%');
      let answer: { inbox_id: number };
      try {
        const res = await postWebhook(t.app, '\uFEFF{"customer":{"external_id":"bom_dead_1","name":"B"}}', { 'webhook-id': 'bom-dead' });
        expect(res.statusCode, res.body).toBe(202);
        answer = res.json();
      } finally {
        await broken.heal();
      }
      const replayed = await t.app.inject({ method: 'POST', url: `/webhooks/events/${answer.inbox_id}/replay` });
      expect(replayed.statusCode, replayed.body).toBe(200);
      expect(replayed.json(), replayed.body).toMatchObject({ status: 'processed', error: null });
      expect((await t.app.inject('/customers/bom_dead_1')).statusCode).toBe(200);
    });
  });
}
