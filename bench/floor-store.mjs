// The floor server's store (see floor-server.mjs): the service's tables and
// indexes (migration 010's search indexes too) in SQLite (WAL,
// synchronous=FULL), and one transaction per batch that upserts each
// delivery's customer and writes its raw inbox row.
// FLOOR_SCHEMA=lean keeps only the (type, external_id) unique key on records
// and no other index (the inbox keyed by its rowid alone): its gap to the full
// schema is what the schema's indexes cost per write.
import { hash } from 'node:crypto';
import Database from 'better-sqlite3';

const RECORDS = `create table if not exists records (row_id integer primary key autoincrement, type text not null, external_id text not null,
    source text not null, sender_id integer, name text, email text, status text, budget real, details text, attributes text not null,
    content_hash text not null, source_updated_at integer, created_at integer not null, updated_at integer not null, deleted_at integer,
    unique (type, external_id));`;
const RECORD_INDEXES = `
  create index if not exists records_type_row_idx on records (type, row_id);
  create index if not exists records_source_row_idx on records (source, row_id);
  create index if not exists records_updated_idx on records (updated_at, row_id);
  create index if not exists records_type_updated_idx on records (type, updated_at, row_id);
  create index if not exists records_source_updated_idx on records (source, updated_at, row_id);
  create index if not exists records_search_external_id_idx on records (type, lower(external_id));
  create index if not exists records_search_email_idx on records (type, lower(email));
  create index if not exists records_search_name_idx on records (type, lower(name));`;
const INBOX = (lean) => `create table if not exists webhook_inbox (id integer primary key autoincrement, received_at integer not null, route text not null,
    idempotency_key text${lean ? '' : ' unique'}, headers text not null, body text not null, status text not null, response_status integer,
    response text, error text, duplicate_of integer);`;
const INBOX_INDEXES = `
  create index if not exists webhook_inbox_status_idx on webhook_inbox (status, id);
  create index if not exists webhook_inbox_received_idx on webhook_inbox (received_at, id);
  create index if not exists webhook_inbox_route_idx on webhook_inbox (route, id);`;

/** Opens (creating) a floor database: WAL, synchronous=FULL, the service's tables; `schema` full (the service's indexes) or lean. */
export function openFloorDatabase(file, schema = 'full') {
  if (schema !== 'full' && schema !== 'lean') throw new Error(`FLOOR_SCHEMA must be full or lean (got "${schema}")`);
  const lean = schema === 'lean';
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(RECORDS + (lean ? '' : RECORD_INDEXES) + INBOX(lean) + (lean ? '' : INBOX_INDEXES));
  return db;
}

/** Opens (creating) the floor's database; returns the batch commit and a close. */
export function openFloorStore(file, schema = 'full') {
  const db = openFloorDatabase(file, schema);
  const upsert = db.prepare(`insert into records (type, external_id, source, sender_id, name, email, attributes, content_hash, created_at, updated_at)
    values ('customer', ?, 'webhook', ?, ?, ?, '{}', ?, ?, ?)
    on conflict (type, external_id) do update set name = excluded.name, email = excluded.email, content_hash = excluded.content_hash,
    updated_at = excluded.updated_at where records.content_hash <> excluded.content_hash`);
  const inbox = db.prepare(`insert into webhook_inbox (received_at, route, idempotency_key, headers, body, status, response_status, response)
    values (?, '/webhook', ?, ?, ?, 'processed', 200, ?)`);
  const commit = db.transaction((batch) => {
    const now = Date.now();
    for (const d of batch) {
      const c = d.customer;
      upsert.run(c.external_id, Number.isInteger(c.id) ? c.id : null, c.name ?? null, c.email ?? null, hash('sha256', d.body, 'base64url'), now, now);
      inbox.run(now, d.key, d.headers, d.body, d.answer);
    }
  });
  return { commit, close: () => db.close() };
}
