// The PostgreSQL floor's store (FLOOR_PG_URL, see floor-server.mjs): the
// service's schema, made beforehand by the bench with the service's own
// migrations, and one statement per batch: a multi-row upsert of the
// deliveries' customers and their raw inbox rows, as one data-modifying CTE
// (one round trip, one commit). Prepared once; the rows go in as arrays.
import { hash } from 'node:crypto';
import pg from 'pg';

const BATCH = {
  name: 'floor_batch',
  text: `with upserted as (
    insert into records (type, external_id, source, sender_id, name, email, attributes, content_hash, created_at, updated_at)
    select 'customer', r.external_id, 'webhook', r.sender_id, r.name, r.email, '{}', r.content_hash, $1, $1
      from unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) as r (external_id, sender_id, name, email, content_hash)
    on conflict (type, external_id) do update set name = excluded.name, email = excluded.email, content_hash = excluded.content_hash,
      updated_at = excluded.updated_at where records.content_hash <> excluded.content_hash
    returning 1)
  insert into webhook_inbox (received_at, route, idempotency_key, headers, body, status, response_status, response)
  select $1, '/webhook', i.idempotency_key, i.headers::json, i.body, 'processed', 200, i.response::json
    from unnest($7::text[], $8::text[], $9::text[], $10::text[]) as i (idempotency_key, headers, body, response)`,
};

/** Connects to the floor's database; returns the batch commit (a promise) and a close. */
export async function openFloorPgStore(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const commit = async (batch) => {
    const cols = Array.from({ length: 9 }, () => new Array(batch.length));
    batch.forEach((d, i) => {
      const c = d.customer;
      cols[0][i] = c.external_id;
      cols[1][i] = Number.isInteger(c.id) ? c.id : null;
      cols[2][i] = c.name ?? null;
      cols[3][i] = c.email ?? null;
      cols[4][i] = hash('sha256', d.body, 'base64url');
      cols[5][i] = d.key;
      cols[6][i] = d.headers;
      cols[7][i] = d.body;
      cols[8][i] = d.answer;
    });
    await client.query({ ...BATCH, values: [Date.now(), ...cols] });
  };
  return { commit, close: () => client.end() };
}
