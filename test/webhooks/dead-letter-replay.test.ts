import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { breakRecordWrites } from '../webhooks/helpers.js';

/**
 * README: a dead letter's key "answers repeats with that 202 until the replay
 * succeeds". A replay that fails again must not change what the key answers.
 */
for (const engine of ENGINES) {
  describe(`replaying dead letters of the generic route on ${engine.name}`, () => {
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

    it('a sender retry after a failed replay still gets the 202 dead-letter answer', async () => {
      const broken = await breakRecordWrites(t.store, 'rp_poison%');
      try {
        const body = { customer: { external_id: 'rp_poison_1', name: 'Bad' } };
        const first = await postWebhook(t.app, body, { 'webhook-id': 'rp-dead-1' });
        expect(first.statusCode).toBe(202);
        const answer = first.json();

        // The operator replays while the store still refuses: it fails again.
        const replay = await t.app.inject({ method: 'POST', url: `/webhooks/events/${answer.inbox_id}/replay` });
        expect(replay.json()).toMatchObject({ status: 'failed' });

        // The sender retries the same delivery.
        const retry = await postWebhook(t.app, body, { 'webhook-id': 'rp-dead-1' });
        await t.store.db
          .selectFrom('webhook_inbox')
          .select(['status', 'response_status', 'response'])
          .where('id', '=', answer.inbox_id)
          .executeTakeFirstOrThrow();
        expect(retry.statusCode).toBe(202);
        expect(retry.json()).toEqual(answer);
      } finally {
        await broken.heal();
      }
    });

    it('a body starting with a BOM is accepted when the store works', async () => {
      const res = await postWebhook(t.app, '\uFEFF{"customer":{"external_id":"bom_ok","name":"A"}}', { 'webhook-id': 'bom-ok' });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('a dead letter whose body starts with a BOM is replayed once the store heals (the replay parsed with JSON.parse, which refuses the BOM)', async () => {
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
