import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, postWebhook, startApp, type TestApp } from '../helpers/app.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { waitFor } from '../helpers/wait.js';
import { recordWriteFault, type RecordWriteFault } from './store-faults.js';

const delivery = (i: number) => ({ body: { customer: { external_id: `wh_${i}`, name: `Sender ${i}` } }, headers: { 'webhook-id': `wh-${i}` } });

for (const engine of ENGINES) {
  describe(`a store fault under webhook deliveries on ${engine.name}`, () => {
    let db: ScratchDatabase;
    let t: TestApp;
    let fault: RecordWriteFault;

    beforeAll(async () => {
      db = await engine.create();
      t = await startApp(db);
      fault = await recordWriteFault(db, t.store);
    });
    afterAll(async () => {
      await fault?.close();
      await t?.close();
      await db?.drop();
    });

    /** The external ids stored, and the dead letters kept. */
    const storedIds = async () =>
      new Set((await t.store.db.selectFrom('records').select('external_id').where('external_id', 'like', 'wh_%').execute()).map((r) => r.external_id));
    const deadLetters = async () => (await t.store.db.selectFrom('webhook_inbox').select('id').where('status', '=', 'failed').execute()).length;

    /** Sends `ids` at once; a sender told 503 sends again after a while, as Retry-After asks. */
    const sendUntilAcked = async (ids: number[], during?: () => Promise<void>) => {
      const codes: number[] = [];
      const acked = new Set<number>();
      let left = ids;
      let round = 0;
      while (left.length > 0 && round++ < 20) {
        const answers = await Promise.all([
          ...left.map((i) => postWebhook(t.app, delivery(i).body, delivery(i).headers)),
          ...(round === 1 && during ? [during().then(() => null)] : []),
        ]);
        const retry: number[] = [];
        left.forEach((i, k) => {
          const res = answers[k];
          if (!res) return;
          codes.push(res.statusCode);
          if (res.statusCode === 200) acked.add(i);
          else {
            expectProblem(res, 503);
            expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
            retry.push(i);
          }
        });
        left = retry;
        if (left.length > 0) await new Promise((r) => setTimeout(r, 100));
      }
      return { codes, acked };
    };

    it('a record write failing for a passing reason: every sender gets 503, no dead letter; resent after, all are stored', async () => {
      await fault.on();
      const ids = [0, 1, 2, 3, 4];
      const refused = await Promise.all(ids.map((i) => postWebhook(t.app, delivery(i).body, delivery(i).headers)));
      for (const res of refused) expectProblem(res, 503);
      expect(await deadLetters()).toBe(0);
      expect((await storedIds()).size).toBe(0);
      await fault.off();
      const { acked } = await sendUntilAcked(ids);
      expect([...acked].sort()).toEqual(ids);
      expect(await storedIds()).toEqual(new Set(ids.map((i) => `wh_${i}`)));
      expect(await deadLetters()).toBe(0);
    });

    if (engine.name === 'postgres') {
      it("the service's connection terminated mid-batch: senders get 503 or 200, and nothing acknowledged is lost", async () => {
        const ids = Array.from({ length: 30 }, (_, i) => 100 + i);
        // Each batch's record insert sleeps: the batch is in flight when its backend is terminated.
        await fault.slow(0.3);
        let killed = 0;
        const { codes, acked } = await sendUntilAcked(ids, async () => {
          killed = await waitFor(async () => {
            const k = await fault.terminateSleeping();
            return k > 0 ? k : undefined;
          }, 'a backend inside a batch commit');
          await fault.off();
        });
        expect(killed).toBeGreaterThan(0);
        // The terminated batch was answered 503 and sent again.
        expect(codes.filter((c) => c === 503).length).toBeGreaterThan(0);
        expect(codes.every((c) => c === 200 || c === 503)).toBe(true);
        expect([...acked].sort()).toEqual(ids);
        const stored = await storedIds();
        for (const i of acked) expect(stored.has(`wh_${i}`)).toBe(true);
        expect(await deadLetters()).toBe(0);
      });
    }
  });
}
