import type { WriteTx } from './write-transaction.js';

/** The answer given to a delivery, kept so a repeat gets the same one. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export interface InboxDelivery {
  receivedAt: number;
  route: string;
  idempotencyKey: string | null;
  headers: Record<string, string>;
  body: string;
  answer: StoredAnswer;
}

/** Answers already given to any of these keys. */
export async function findAnswers(tx: WriteTx, keys: readonly string[]): Promise<Map<string, StoredAnswer>> {
  const found = new Map<string, StoredAnswer>();
  if (keys.length === 0) return found;
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await tx.trx
      .selectFrom('webhook_inbox')
      .select(['idempotency_key', 'response_status', 'response'])
      .where('idempotency_key', 'in', keys.slice(i, i + 500))
      .execute();
    for (const row of rows) {
      if (row.idempotency_key === null) continue;
      found.set(row.idempotency_key, {
        status: row.response_status ?? 200,
        body: row.response === null ? null : tx.dialect.decodeJson(row.response),
      });
    }
  }
  return found;
}

/** Keeps each delivery raw, with its answer, in the transaction that stored its records. */
export async function recordDeliveries(tx: WriteTx, deliveries: readonly InboxDelivery[]): Promise<void> {
  for (let i = 0; i < deliveries.length; i += 200) {
    await tx.trx
      .insertInto('webhook_inbox')
      .values(
        deliveries.slice(i, i + 200).map((d) => ({
          received_at: d.receivedAt,
          route: d.route,
          idempotency_key: d.idempotencyKey,
          headers: JSON.stringify(d.headers),
          body: d.body,
          status: 'processed',
          response_status: d.answer.status,
          response: JSON.stringify(d.answer.body),
          error: null,
        })),
      )
      .execute();
  }
}
