import type { Store } from './open-store.js';
import type { WriteTx } from './write-transaction.js';

/** The saved checkpoint of a source: where its next incremental run starts. */
export async function loadCheckpoint(store: Store, source: string): Promise<unknown> {
  const row = await store.db.selectFrom('sync_state').select('checkpoint').where('source', '=', source).executeTakeFirst();
  return row?.checkpoint == null ? null : store.dialect.decodeJson(row.checkpoint);
}

/** Saves the checkpoint in the transaction that commits the page it describes. */
export async function saveCheckpoint(tx: WriteTx, source: string, checkpoint: unknown): Promise<void> {
  await tx.trx
    .insertInto('sync_state')
    .values({ source, checkpoint: JSON.stringify(checkpoint ?? null), updated_at: tx.now, last_success_at: null })
    .onConflict((oc) => oc.column('source').doUpdateSet((eb) => ({ checkpoint: eb.ref('excluded.checkpoint'), updated_at: eb.ref('excluded.updated_at') })))
    .execute();
}

/** Notes that a run of the source completed. */
export async function recordSuccess(store: Store, source: string, now = Date.now()): Promise<void> {
  await store.db
    .insertInto('sync_state')
    .values({ source, checkpoint: null, updated_at: now, last_success_at: now })
    .onConflict((oc) => oc.column('source').doUpdateSet({ last_success_at: now }))
    .execute();
}
