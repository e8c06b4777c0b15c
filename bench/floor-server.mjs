// The floor under any durable webhook receiver on this machine: node:http,
// JSON.parse, one record upsert and one raw inbox row per request, group
// committed per event-loop turn into SQLite (WAL, synchronous=FULL), with the
// service's tables and indexes. No framework, validation, idempotency lookup,
// change clock, counters, metrics or logs. What the service reaches against
// the bare server is read against what this reaches. Plain JavaScript so no
// loader runs in it. FLOOR_DB names the SQLite file.
import http from 'node:http';
import { hash } from 'node:crypto';
import Database from 'better-sqlite3';

const db = new Database(process.env.FLOOR_DB ?? 'floor.db');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.exec(`
create table if not exists records (row_id integer primary key autoincrement, type text not null, external_id text not null,
  source text not null, sender_id integer, name text, email text, status text, budget real, details text, attributes text not null,
  content_hash text not null, source_updated_at integer, created_at integer not null, updated_at integer not null, deleted_at integer,
  unique (type, external_id));
create index if not exists records_type_row_idx on records (type, row_id);
create index if not exists records_source_row_idx on records (source, row_id);
create index if not exists records_updated_idx on records (updated_at, row_id);
create index if not exists records_type_updated_idx on records (type, updated_at, row_id);
create index if not exists records_source_updated_idx on records (source, updated_at, row_id);
create table if not exists webhook_inbox (id integer primary key autoincrement, received_at integer not null, route text not null,
  idempotency_key text unique, headers text not null, body text not null, status text not null, response_status integer,
  response text, error text, duplicate_of integer);
create index if not exists webhook_inbox_status_idx on webhook_inbox (status, id);
create index if not exists webhook_inbox_received_idx on webhook_inbox (received_at, id);
create index if not exists webhook_inbox_route_idx on webhook_inbox (route, id);
`);
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

let queue = [];
const drain = () => {
  const batch = queue;
  queue = [];
  commit(batch);
  for (const d of batch) {
    d.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(d.answer) });
    d.res.end(d.answer);
  }
};

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(req.url === '/readyz' ? 200 : 404, { 'content-length': 0 });
    res.end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let customer;
    try {
      customer = JSON.parse(body).customer;
    } catch {
      customer = undefined;
    }
    if (typeof customer?.external_id !== 'string') {
      res.writeHead(422, { 'content-length': 0 });
      res.end();
      return;
    }
    const key = req.headers['webhook-id'] ?? null;
    const answer = JSON.stringify({ status: 'stored', delivery_id: key, stored: 1, records: [{ type: 'customer', external_id: customer.external_id, result: 'created' }] });
    const headers = JSON.stringify({ 'content-type': req.headers['content-type'], 'webhook-id': key });
    if (queue.push({ res, body, customer, key, headers, answer }) === 1) setImmediate(drain);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
// Every answer went out after its commit: nothing is in flight to wait for.
const stop = () => {
  server.close(() => {
    db.close();
    process.exit(0);
  });
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
