import type { Kysely, Transaction } from 'kysely';
import type { Store } from './open-store.js';
import type { Database } from './schema.js';

/** Values a provider keeps across restarts, under its own name: a small key/value store. */
export interface ProviderState {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

type Db = Kysely<Database> | Transaction<Database>;

/** One value, or null when none was kept; inside a write transaction too. */
export async function readProviderState(db: Db, provider: string, key: string): Promise<string | null> {
  const row = await db.selectFrom('provider_state').select('value').where('provider', '=', provider).where('key', '=', key).executeTakeFirst();
  return row?.value ?? null;
}

/** Keeps `value` under (provider, key), replacing what was there. */
export async function writeProviderState(db: Db, provider: string, key: string, value: string, now = Date.now()): Promise<void> {
  await db
    .insertInto('provider_state')
    .values({ provider, key, value, updated_at: now })
    .onConflict((oc) => oc.columns(['provider', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), updated_at: eb.ref('excluded.updated_at') })))
    .execute();
}

/** The provider's view of the table. */
export function providerState(store: Store, provider: string): ProviderState {
  return {
    get: (key) => readProviderState(store.db, provider, key),
    set: (key, value) => writeProviderState(store.db, provider, key, value),
  };
}
