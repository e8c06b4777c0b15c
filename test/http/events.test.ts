import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EventFeed, type FeedClient } from '../../src/console/event-feed.js';
import { insertInboxRow, setInboxOutcome } from '../../src/store/webhook-inbox.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { postWebhook } from '../helpers/app.js';
import { ENGINES } from '../helpers/databases.js';
import { usePagedApp } from '../helpers/paged-app.js';
import { startSync } from '../helpers/sync.js';
import { waitFor } from '../helpers/wait.js';

const FAST_TASKS = { TASK_HEARTBEAT: '100ms', TASK_POLL: '100ms', TASK_LEASE: '3s' };

interface Frame {
  event: string;
  data: unknown;
}

/** An open GET /events read with fetch, frames parsed as they come. */
interface Stream {
  frames: Frame[];
  comments: string[];
  ended: boolean;
  /** Waits for a frame (from `from` on) that passes `test`. */
  next(test: (f: Frame) => boolean, what: string, from?: number): Promise<Frame>;
  close(): void;
}

async function openStream(base: string, headers: Record<string, string> = {}): Promise<Stream> {
  const controller = new AbortController();
  const res = await fetch(`${base}/events`, { headers, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const stream: Stream = {
    frames: [],
    comments: [],
    ended: false,
    next: (test, what, from = 0) => waitFor(async () => stream.frames.slice(from).find(test), what, 20_000),
    close: () => controller.abort(),
  };
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, cut);
          text = text.slice(cut + 2);
          if (block.startsWith(':')) {
            stream.comments.push(block);
            continue;
          }
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
          stream.frames.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
    stream.ended = true;
  })();
  return stream;
}

const taskOf = (f: Frame) => f.data as { task_id: string; status: string; progress: { pages: number; overall: { runs: number } } };

for (const engine of ENGINES) {
  describe(`GET /events on ${engine.name}`, () => {
    const fx = usePagedApp(engine, { total: 1_000, env: FAST_TASKS, freshDatabase: true });
    let base = '';

    const boot = async (runTasks = true, env: Record<string, string> = {}) => {
      const t = await fx.boot({ runTasks, env });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
      return t;
    };

    it('once=true, and any in-process request, gets the hello and the active tasks, then the answer ends', async () => {
      const app = await boot(false);
      fx.upstream.latencyMs = 2_000;
      const id = await startSync(app.app, 'items');
      for (const url of ['/events?once=true', '/events']) {
        const res = await app.app.inject(url);
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        const blocks = res.body.split('\n\n').filter(Boolean);
        expect(blocks[0]).toMatch(/^event: hello\ndata: \{"time":"[^"]+"\}$/);
        expect(blocks).toHaveLength(2);
        expect(blocks[1]).toContain('event: task');
        expect(blocks[1]).toContain(`"task_id":"${id}"`);
      }
      // Over the network too; and HEAD, which has no body to stream, ends at once.
      const res = await fetch(`${base}/events?once=true`);
      expect(await res.text()).toMatch(/^event: hello\n/);
      const head = await fetch(`${base}/events`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(app.app.feed.idle).toBe(true);
      fx.upstream.latencyMs = 0;
    });

    it('streams the current state, then deliveries and dead letters as they are committed', async () => {
      const app = await boot(false, { API_KEY: 'console-key-0123456789' });
      const unauthorized = await fetch(`${base}/events`);
      expect(unauthorized.status).toBe(401);
      // Slow pages: the task stays active while the stream opens.
      fx.upstream.latencyMs = 2_000;
      const started = await app.app.inject({ method: 'POST', url: '/sync/items', headers: { authorization: 'Bearer console-key-0123456789' } });
      expect(started.statusCode).toBe(202);
      const id = started.json<{ task_id: string }>().task_id;
      const s = await openStream(base, { authorization: 'Bearer console-key-0123456789' });
      const hello = await s.next((f) => f.event === 'hello', 'hello');
      expect(Date.parse((hello.data as { time: string }).time)).not.toBeNaN();
      expect(s.frames[0]?.event).toBe('hello');
      const state = await s.next((f) => f.event === 'task', 'the queued task');
      expect(taskOf(state).task_id).toBe(id);
      expect(['queued', 'running']).toContain(taskOf(state).status);

      const key = { authorization: 'Bearer console-key-0123456789' };
      expect((await postWebhook(app.app, { customer: { external_id: 'ev1' } }, { ...key, 'webhook-id': 'ev-1' })).statusCode).toBe(200);
      expect((await postWebhook(app.app, { customer: { external_id: 'ev1' } }, { ...key, 'webhook-id': 'ev-1' })).statusCode).toBe(200);
      const counted = () => {
        const all = s.frames.filter((f) => f.event === 'deliveries').map((f) => f.data as Record<string, number>);
        return { processed: all.reduce((n, d) => n + (d.processed ?? 0), 0), duplicate: all.reduce((n, d) => n + (d.duplicate ?? 0), 0) };
      };
      await waitFor(async () => (counted().processed >= 1 && counted().duplicate >= 1 ? true : undefined), 'the deliveries counted', 20_000);
      expect(counted()).toEqual({ processed: 1, duplicate: 1 });

      const deadId = await inWriteTransaction(app.store, (tx) =>
        insertInboxRow(tx, { receivedAt: Date.now(), route: '/webhook', idempotencyKey: null, headers: {}, body: '{}', status: 'failed', error: 'refused' }),
      );
      const dead = await s.next((f) => f.event === 'dead_letter', 'the dead letter');
      expect(dead.data).toMatchObject({ id: deadId, route: '/webhook', error: 'refused', received_at: expect.any(String) });
      const failed = await s.next((f) => f.event === 'deliveries' && (f.data as { failed: number }).failed === 1, 'the failed delivery counted');
      expect(failed.data).toMatchObject({ received: 0, processed: 0, duplicate: 0, failed: 1, time: expect.any(String) });

      // A cancel of the task is a task event too.
      await app.app.inject({ method: 'POST', url: `/tasks/${id}/cancel`, headers: key });
      const cancelled = await s.next((f) => f.event === 'task' && taskOf(f).status === 'cancelled', 'the cancelled task');
      expect(taskOf(cancelled).task_id).toBe(id);
      fx.upstream.latencyMs = 0;
      s.close();
    });

    it('tells of a dead letter made of an older row left received, below the newest dead letter', async () => {
      const app = await boot(false);
      const row = (status: 'received' | 'failed') => ({
        receivedAt: Date.now(),
        route: '/webhook',
        idempotencyKey: null,
        headers: {},
        body: '{}',
        status,
        error: null,
      });
      // A row a dead process left `received`, then a newer dead letter.
      const stuckId = await inWriteTransaction(app.store, (tx) => insertInboxRow(tx, row('received')));
      await inWriteTransaction(app.store, (tx) => insertInboxRow(tx, { ...row('failed'), error: 'refused' }));
      const s = await openStream(base);
      await s.next((f) => f.event === 'hello', 'hello');
      await new Promise((r) => setTimeout(r, 400)); // a poll of the feed (every 300 ms) sees both as they are
      expect(s.frames.filter((f) => f.event === 'dead_letter')).toEqual([]);
      // A retry completes the old row as failed.
      await inWriteTransaction(app.store, (tx) => setInboxOutcome(tx, stuckId, { status: 'failed', answer: null, error: 'still refused' }));
      const dead = await s.next((f) => f.event === 'dead_letter', 'the completed dead letter');
      expect(dead.data).toMatchObject({ id: stuckId, error: 'still refused' });
      await new Promise((r) => setTimeout(r, 700));
      expect(s.frames.filter((f) => f.event === 'dead_letter')).toHaveLength(1);
      s.close();
    });

    it('streams a sync running against a fake: progress as pages commit, then its finish, once', async () => {
      const app = await boot();
      fx.upstream.latencyMs = 150; // ten pages over 1.5 s: several polls of the feed (every 300 ms) see it running, even on a loaded machine
      const s = await openStream(base);
      await s.next((f) => f.event === 'hello', 'hello');
      const id = await startSync(app.app, 'items', '?full=true');
      await s.next((f) => f.event === 'task' && taskOf(f).task_id === id && taskOf(f).status === 'succeeded', 'the sync to succeed');
      fx.upstream.latencyMs = 0;
      const mine = s.frames.filter((f) => f.event === 'task' && taskOf(f).task_id === id).map(taskOf);
      const pages = mine.filter((x) => x.status === 'running').map((x) => x.progress.pages);
      // Several progress events, in order.
      expect(new Set(pages).size).toBeGreaterThanOrEqual(2);
      expect([...pages].sort((a, b) => a - b)).toEqual(pages);
      expect(mine.filter((x) => x.status === 'succeeded')).toHaveLength(1);
      expect(mine.at(-1)?.progress.overall.runs).toBe(1);
      // No more events of it once it is done.
      const seen = s.frames.length;
      await new Promise((r) => setTimeout(r, 1_000));
      expect(s.frames.slice(seen).filter((f) => f.event === 'task' && taskOf(f).task_id === id)).toEqual([]);
      s.close();
    });

    it('drops a client that disconnects at once; with none left nothing runs', async () => {
      const app = await boot(false);
      expect(app.app.feed.idle).toBe(true);
      const a = await openStream(base);
      const b = await openStream(base);
      await a.next((f) => f.event === 'hello', 'hello a');
      await b.next((f) => f.event === 'hello', 'hello b');
      expect(app.app.feed.size).toBe(2);
      a.close();
      await waitFor(async () => (app.app.feed.size === 1 ? true : undefined), 'one stream left', 10_000);
      expect(app.app.feed.idle).toBe(false);
      b.close();
      await waitFor(async () => (app.app.feed.idle ? true : undefined), 'the feed to stop', 10_000);
      expect(app.app.feed.size).toBe(0);
      // It starts again for the next client.
      const c = await openStream(base);
      await c.next((f) => f.event === 'hello', 'hello c');
      expect(app.app.feed.idle).toBe(false);
      // Closing the app ends open streams instead of waiting for them.
      await app.close();
      await waitFor(async () => (c.ended ? true : undefined), 'the stream to end', 10_000);
    });

    it('sends a ping comment on its interval, and stops its timers when the last client leaves', async () => {
      const app = await boot(false);
      const feed = new EventFeed(app.store, { pollMs: 50, pingMs: 100, taskItem: (row) => row, log: pino({ level: 'silent' }) });
      const got: string[] = [];
      const client: FeedClient = { send: (chunk) => got.push(chunk) > 0, end: () => {} };
      const sub = await feed.subscribe(client);
      await waitFor(async () => (got.includes(': ping\n\n') ? true : undefined), 'a ping', 10_000);
      sub.unsubscribe();
      expect(feed.idle).toBe(true);
      const after = got.length;
      await new Promise((r) => setTimeout(r, 300));
      expect(got.length).toBe(after);
      await feed.close();
    });
  });
}
