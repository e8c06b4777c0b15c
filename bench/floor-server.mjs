// The floor under any durable webhook receiver on this machine: node:http,
// JSON.parse, one record upsert and one raw inbox row per request, group
// committed per event-loop turn into SQLite (WAL, synchronous=FULL), with the
// service's tables and indexes. No framework, validation, idempotency lookup,
// change clock, counters, metrics or logs. What the service reaches against
// the bare server is read against what this reaches. Plain JavaScript so no
// loader runs in it. FLOOR_DB names the SQLite file, FLOOR_SCHEMA=lean drops
// every index but the records' (type, external_id) key (floor-store.mjs).
// FLOOR_THREAD=1 moves the commits to a worker thread (a batch is written
// while the next one gathers). FLOOR_PG_URL writes to PostgreSQL instead
// (floor-store-pg.mjs), one batch in flight while the next one gathers.
import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { openFloorStore } from './floor-store.mjs';
import { openFloorPgStore } from './floor-store-pg.mjs';

const file = process.env.FLOOR_DB ?? 'floor.db';
const schema = process.env.FLOOR_SCHEMA || 'full';
const reply = (batch) => {
  for (const d of batch) {
    d.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(d.answer) });
    d.res.end(d.answer);
  }
};
let queue = [];
let drain;
let closeStore;
if (process.env.FLOOR_PG_URL) {
  const store = await openFloorPgStore(process.env.FLOOR_PG_URL);
  let inFlight = false;
  drain = () => {
    if (inFlight || queue.length === 0) return;
    inFlight = true;
    const batch = queue;
    queue = [];
    store.commit(batch).then(
      () => {
        inFlight = false;
        drain();
        reply(batch);
      },
      (err) => {
        // Nothing stored: the senders may send again.
        process.stderr.write(`floor commit failed: ${err}\n`);
        inFlight = false;
        drain();
        for (const d of batch) {
          d.res.writeHead(503, { 'retry-after': '1', 'content-length': 0 });
          d.res.end();
        }
      },
    );
  };
  closeStore = () => store.close();
} else if (process.env.FLOOR_THREAD === '1') {
  const worker = new Worker(new URL('./floor-store-thread.mjs', import.meta.url), { workerData: { file, schema } });
  // One batch at a time on the thread; what arrives meanwhile is the next batch.
  let inFlight = null;
  drain = () => {
    if (inFlight || queue.length === 0) return;
    inFlight = queue;
    queue = [];
    worker.postMessage(inFlight.map(({ body, customer, key, headers, answer }) => ({ body, customer, key, headers, answer })));
  };
  worker.on('message', () => {
    const batch = inFlight;
    inFlight = null;
    drain();
    reply(batch);
  });
  closeStore = () => worker.terminate();
} else {
  const store = openFloorStore(file, schema);
  drain = () => {
    const batch = queue;
    queue = [];
    store.commit(batch);
    reply(batch);
  };
  closeStore = () => store.close();
}

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
    const answer = JSON.stringify({
      status: 'stored',
      delivery_id: key,
      stored: 1,
      records: [{ type: 'customer', external_id: customer.external_id, result: 'created' }],
    });
    const headers = JSON.stringify({ 'content-type': req.headers['content-type'], 'webhook-id': key });
    if (queue.push({ res, body, customer, key, headers, answer }) === 1) setImmediate(drain);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
// Every answer went out after its commit: nothing is in flight to wait for.
const stop = () => {
  server.close(() => {
    Promise.resolve(closeStore()).then(() => process.exit(0));
  });
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
