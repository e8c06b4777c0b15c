import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { ENGINES, type ScratchDatabase } from '../helpers/databases.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';

/**
 * Proven durability: the service, as a real process, is killed with SIGKILL
 * while thousands of webhooks are in flight. Whatever it acknowledged must be
 * stored after a restart; whatever it did not, the sender retries with the
 * same webhook-id; in the end every delivery is stored exactly once, and a
 * retry of a delivery that was committed gets the first answer back.
 */

const DELIVERIES = 3_000;
const CLIENTS = 32;
/** The kill is sent when this many deliveries have been answered 200. */
const KILL_AFTER = 1_000;
/** Every Nth acknowledged delivery is also resent after the restart, as a sender that lost the answer would. */
const RESEND_ACKED_EVERY = 25;

interface Delivery {
  index: number;
  webhookId: string;
  externalId: string;
  payload: string;
  record: { external_id: string; id: number; name: string; email: string; tier: string };
}

type Outcome = { kind: 'unsent' } | { kind: 'acked'; body: string } | { kind: 'refused'; status: number; body: string } | { kind: 'failed'; error: string };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function post(agent: Agent, base: string, d: Delivery): Promise<Answer> {
  const res = await request(`${base}/webhook`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', 'webhook-id': d.webhookId },
    body: d.payload,
  });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** Runs `fn` over `items` with `clients` concurrent workers; `stop()` ends the hand-out of new items. */
async function concurrently<T>(items: readonly T[], clients: number, fn: (item: T) => Promise<void>, stop: () => boolean = () => false) {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (!stop() && next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** What a fresh delivery of one new customer is answered. */
const createdAnswer = (d: Delivery) => ({
  status: 'stored',
  delivery_id: d.webhookId,
  stored: 1,
  records: [{ type: 'customer', external_id: d.externalId, result: 'created' }],
});

interface Item {
  external_id: string;
  id: number | null;
  name: string | null;
  email: string | null;
  attributes: Record<string, unknown>;
}

/** Every record, by following next_cursor, and the `total` the first page reported. */
async function allRecords(agent: Agent, base: string): Promise<{ items: Item[]; total: number | null }> {
  const items: Item[] = [];
  let total: number | null = null;
  let cursor: string | null = null;
  for (;;) {
    const res = await request(`${base}/data?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { dispatcher: agent });
    const text = await res.body.text();
    expect(res.statusCode, text.slice(0, 300)).toBe(200);
    const page = JSON.parse(text) as { items: Item[]; total: number | null; next_cursor: string | null };
    if (cursor === null) total = page.total;
    items.push(...page.items);
    if (!page.next_cursor) return { items, total };
    cursor = page.next_cursor;
  }
}

const servers = new Set<ServerProcess>();
afterAll(async () => {
  // A failed test must not leave a server behind.
  await Promise.all([...servers].map((s) => s.stop('SIGKILL')));
});

for (const engine of ENGINES) {
  describe(`SIGKILL under load on ${engine.name}`, () => {
    let db: ScratchDatabase | undefined;
    afterAll(async () => {
      await db?.drop();
    });

    it(`${DELIVERIES} webhooks from ${CLIENTS} clients, killed after ~${KILL_AFTER} answers: acknowledged ones survive, retries store each delivery exactly once`, async () => {
      db = await engine.create();
      const run = randomBytes(4).toString('hex');
      const deliveries: Delivery[] = Array.from({ length: DELIVERIES }, (_, index) => {
        const record = {
          external_id: `kill_${run}_${index}`,
          id: index,
          name: `Customer ${index}`,
          email: `c${index}@example.com`,
          tier: index % 2 === 0 ? 'gold' : 'silver',
        };
        return { index, webhookId: `msg_${run}_${index}`, externalId: record.external_id, payload: JSON.stringify({ customer: record }), record };
      });
      const outcomes: Outcome[] = deliveries.map(() => ({ kind: 'unsent' }));

      // 1. Load, and a SIGKILL in the middle of it.
      const first = await startServerProcess({ DATABASE_URL: db.url });
      servers.add(first);
      const agent1 = new Agent({ connections: CLIENTS, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
      let acked = 0;
      let killed = false;
      await concurrently(
        deliveries,
        CLIENTS,
        async (d) => {
          try {
            const res = await post(agent1, first.base, d);
            if (res.status === 200) {
              outcomes[d.index] = { kind: 'acked', body: res.body };
              acked++;
              if (acked >= KILL_AFTER && !killed) {
                killed = true;
                first.child.kill('SIGKILL');
              }
            } else {
              outcomes[d.index] = { kind: 'refused', status: res.status, body: res.body };
            }
          } catch (err) {
            outcomes[d.index] = { kind: 'failed', error: (err as Error).message };
          }
        },
        () => killed,
      );
      await first.stop('SIGKILL');
      servers.delete(first);
      await agent1.destroy();
      expect(killed).toBe(true);

      // No delivery was refused: each was either answered 200 or lost with the connection.
      expect(outcomes.filter((o) => o.kind === 'refused')).toEqual([]);
      const ackedOnes = deliveries.filter((d) => outcomes[d.index]?.kind === 'acked');
      const failedOnes = deliveries.filter((d) => outcomes[d.index]?.kind === 'failed');
      const unacked = deliveries.filter((d) => outcomes[d.index]?.kind !== 'acked');
      expect(ackedOnes.length).toBeGreaterThanOrEqual(KILL_AFTER);
      // The kill came while requests were in flight, and before the sender was done.
      expect(failedOnes.length).toBeGreaterThan(0);
      expect(unacked.length).toBeGreaterThan(0);
      for (const d of ackedOnes) {
        const o = outcomes[d.index] as { kind: 'acked'; body: string };
        expect(JSON.parse(o.body)).toEqual(createdAnswer(d));
      }

      // 2. Restart on the same database: everything acknowledged is there.
      const second = await startServerProcess({ DATABASE_URL: db.url });
      servers.add(second);
      const agent2 = new Agent({ connections: CLIENTS, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
      const afterKill = await allRecords(agent2, second.base);
      const stored = new Map(afterKill.items.map((i) => [i.external_id, i]));
      expect(stored.size).toBe(afterKill.items.length);
      expect(afterKill.total).toBe(afterKill.items.length);
      const lost = ackedOnes.filter((d) => !stored.has(d.externalId)).map((d) => d.webhookId);
      expect(lost, 'acknowledged deliveries missing after the restart').toEqual([]);
      for (const d of ackedOnes) {
        const { external_id, id, name, email, ...attributes } = d.record;
        expect(stored.get(d.externalId)).toMatchObject({ external_id, id, name, email, attributes });
      }
      // Nothing stored that was never sent.
      const sent = new Set(deliveries.filter((d) => outcomes[d.index]?.kind !== 'unsent').map((d) => d.externalId));
      expect([...stored.keys()].filter((id) => !sent.has(id))).toEqual([]);
      // Unacknowledged, but committed before the kill: their retry must be a replay.
      const committedUnanswered = new Set(unacked.filter((d) => stored.has(d.externalId)).map((d) => d.index));

      // 3. The sender retries every unacknowledged delivery with its webhook-id,
      //    and resends some acknowledged ones as if their answers had been lost.
      const resent = [...unacked, ...ackedOnes.filter((_, i) => i % RESEND_ACKED_EVERY === 0)];
      const retryAnswers = new Map<number, Answer>();
      const retryErrors: string[] = [];
      await concurrently(resent, CLIENTS, async (d) => {
        try {
          retryAnswers.set(d.index, await post(agent2, second.base, d));
        } catch (err) {
          retryErrors.push(`${d.webhookId}: ${(err as Error).message}`);
        }
      });
      expect(retryErrors).toEqual([]);
      let replayed = 0;
      for (const d of resent) {
        const res = retryAnswers.get(d.index) as Answer;
        expect(res.status, res.body.slice(0, 300)).toBe(200);
        const wasCommitted = outcomes[d.index]?.kind === 'acked' || committedUnanswered.has(d.index);
        // A committed delivery gets its first answer back, marked as a replay; the rest are stored now.
        expect({ webhookId: d.webhookId, replayed: res.headers['idempotent-replayed'] ?? null }).toEqual({
          webhookId: d.webhookId,
          replayed: wasCommitted ? 'true' : null,
        });
        expect(JSON.parse(res.body)).toEqual(createdAnswer(d));
        const o = outcomes[d.index];
        if (o?.kind === 'acked') expect(JSON.parse(res.body)).toEqual(JSON.parse(o.body));
        if (wasCommitted) replayed++;
      }
      expect(replayed).toBeGreaterThan(0);

      // 4. Every delivery is stored exactly once, through the API ...
      const final = await allRecords(agent2, second.base);
      expect(final.items).toHaveLength(DELIVERIES);
      expect(final.total).toBe(DELIVERIES);
      expect(new Set(final.items.map((i) => i.external_id))).toEqual(new Set(deliveries.map((d) => d.externalId)));
      await agent2.destroy();
      expect(await second.stop('SIGTERM')).toBe(0);
      servers.delete(second);

      // ... and in the store itself: one record and one inbox row per delivery.
      const store = await openStore(db.config);
      try {
        const records = await store.db.selectFrom('records').select(['external_id', 'type']).execute();
        expect(records).toHaveLength(DELIVERIES);
        expect(new Set(records.map((r) => r.external_id)).size).toBe(DELIVERIES);
        const inbox = await store.db.selectFrom('webhook_inbox').select(['idempotency_key', 'status', 'response_status']).execute();
        // One stored copy per webhook-id. A repeat may be logged as a `duplicate` row, never as a second copy.
        const copies = inbox.filter((row) => row.status !== 'duplicate');
        expect(copies).toHaveLength(DELIVERIES);
        expect(copies.every((row) => row.response_status === 200)).toBe(true);
        expect(new Set(copies.map((row) => row.idempotency_key))).toEqual(new Set(deliveries.map((d) => d.webhookId)));
        expect(inbox.length - copies.length).toBeLessThanOrEqual(replayed);
        const repeated = await store.db
          .selectFrom('webhook_inbox')
          .select(['idempotency_key', (eb) => eb.fn.countAll<number>().as('n')])
          .where('idempotency_key', 'is not', null)
          .groupBy('idempotency_key')
          .having((eb) => eb.fn.countAll(), '>', 1)
          .execute();
        expect(repeated).toEqual([]);
        const counted = await store.db
          .selectFrom('record_counts')
          .select((eb) => eb.fn.sum<number>('n').as('n'))
          .executeTakeFirstOrThrow();
        expect(Number(counted.n)).toBe(DELIVERIES);
      } finally {
        await store.close();
      }

      console.info(
        `[durability ${engine.name}] acknowledged before the kill: ${ackedOnes.length}, lost with the connection: ${failedOnes.length}, ` +
          `never sent: ${unacked.length - failedOnes.length}, committed but unanswered: ${committedUnanswered.size}, retries answered as replays: ${replayed}`,
      );
    }, 120_000);
  });
}
