import type { Logger } from 'pino';
import { deliveryMinutesSince, minuteOf, MINUTE_MS } from '../store/console-counters.js';
import { deadLettersAfter, deadLettersAmong, lastDeadLetterId, receivedIdsBelow, tasksToWatch, type DeadLetter } from '../store/console-queries.js';
import type { Store } from '../store/open-store.js';
import type { TaskRow } from '../store/task-statements.js';

/** One stream's end of the feed: `send` takes finished SSE text; false means the client is too far behind and was dropped. */
export interface FeedClient {
  send(chunk: string): boolean;
  end(): void;
}

export interface FeedOptions {
  /** How often the store is read while anyone listens. */
  pollMs?: number;
  /** How often each stream gets a `: ping` comment. */
  pingMs?: number;
  /** A task row as the API shows it (GET /tasks). */
  taskItem(row: TaskRow): unknown;
  log: Logger;
}

/** A finished task stays watched this long, so a finish seen late (another instance's clock) is still sent. */
const FINISHED_WINDOW_MS = 60_000;
/** Delivery buckets compared between polls: a delivery committed this long after it arrived is still counted. */
const DELIVERY_WINDOW_MINUTES = 5;
const DEAD_LETTERS_PER_POLL = 100;
const DELIVERY_STATUSES = ['received', 'processed', 'duplicate', 'failed'] as const;

/** One server-sent event. */
export const sseFrame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

const ACTIVE = new Set(['queued', 'running']);

/** The fields whose change is worth an event (a heartbeat alone is not). */
const signature = (t: TaskRow): string =>
  JSON.stringify([
    t.status,
    t.pages,
    t.records_fetched,
    t.records_written,
    t.total_estimate,
    t.cancel_requested,
    t.error,
    t.attempts,
    t.run_after,
    t.started_at,
    t.finished_at,
  ]);

/**
 * What GET /events streams: one poll of the store every `pollMs` shared by
 * every open stream, running only while one is open. Polling the store
 * (rather than LISTEN/NOTIFY) sees what every instance on the database
 * writes, on both engines, with no extra connection held per instance: a
 * task running elsewhere still shows its progress. Each event's text is
 * made once and written to every stream.
 */
export class EventFeed {
  private readonly clients = new Set<FeedClient>();
  private readonly pollMs: number;
  private readonly pingMs: number;
  private pollTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  /** The first poll of a run, which sends nothing: what later polls compare with. */
  private baseline: Promise<void> | null = null;
  private polling: Promise<void> | null = null;
  private tasks = new Map<string, { sig: string; row: TaskRow }>();
  private buckets = new Map<string, number>();
  private windowStart = 0;
  private lastDeadLetter = 0;
  /** Old rows left `received`: a retry that completes one as failed makes a dead letter below lastDeadLetter. */
  private stuck: number[] = [];
  private failing = false;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly options: FeedOptions,
  ) {
    this.pollMs = options.pollMs ?? 300;
    this.pingMs = options.pingMs ?? 15_000;
  }

  /** Open streams. */
  get size(): number {
    return this.clients.size;
  }

  /** Nothing runs: no stream, no poll, no ping timer. */
  get idle(): boolean {
    return this.clients.size === 0 && this.pollTimer === null && this.pingTimer === null && this.baseline === null;
  }

  /**
   * Adds a stream once the feed has its baseline; gives the queued and
   * running tasks as of that baseline (every later change comes as an event).
   */
  async subscribe(client: FeedClient): Promise<{ tasks: TaskRow[]; unsubscribe(): void }> {
    if (this.closed) throw new Error('the event feed is closed');
    this.baseline ??= this.start();
    try {
      await this.baseline;
    } catch (err) {
      if (this.clients.size === 0) this.stop();
      throw err;
    }
    this.clients.add(client);
    this.pingTimer ??= setInterval(() => this.broadcast(': ping\n\n'), this.pingMs);
    const tasks = [...this.tasks.values()].map((t) => t.row).filter((r) => ACTIVE.has(r.status));
    return { tasks, unsubscribe: () => this.drop(client) };
  }

  /** Ends every stream and stops (the app is closing). */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.clients]) {
      this.clients.delete(c);
      c.end();
    }
    this.stop();
    await this.polling;
  }

  private drop(client: FeedClient): void {
    if (!this.clients.delete(client)) return;
    if (this.clients.size === 0) this.stop();
  }

  private stop(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pollTimer = null;
    this.pingTimer = null;
    this.baseline = null;
  }

  private async start(): Promise<void> {
    const now = Date.now();
    this.tasks = new Map();
    this.buckets = new Map();
    this.failing = false;
    await this.poll(true, now);
    this.lastDeadLetter = await lastDeadLetterId(this.store.db);
    this.stuck = await receivedIdsBelow(this.store.db, this.lastDeadLetter, DEAD_LETTERS_PER_POLL);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.baseline === null) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.polling = this.poll(false, Date.now())
        .then(() => {
          if (this.failing) this.options.log.info('event feed: the store answers again');
          this.failing = false;
        })
        .catch((err: unknown) => {
          if (!this.failing) this.options.log.warn({ err }, 'event feed: reading the store failed; streams stay open and it tries again');
          this.failing = true;
        })
        .finally(() => {
          this.polling = null;
          if (this.clients.size > 0) this.schedule();
        });
    }, this.pollMs);
  }

  private broadcast(chunk: string): void {
    for (const c of [...this.clients]) {
      if (!c.send(chunk)) this.drop(c);
    }
  }

  private async poll(first: boolean, now: number): Promise<void> {
    const out: string[] = [];
    // Tasks: created, moved or finished since the last poll.
    const rows = await tasksToWatch(this.store.db, now - FINISHED_WINDOW_MS);
    const seen = new Map<string, { sig: string; row: TaskRow }>();
    for (const row of rows) {
      const sig = signature(row);
      seen.set(row.id, { sig, row });
      if (!first && this.tasks.get(row.id)?.sig !== sig) out.push(sseFrame('task', this.options.taskItem(row)));
    }
    this.tasks = seen;

    // Deliveries: how the last minutes' buckets grew.
    const since = minuteOf(now) - DELIVERY_WINDOW_MINUTES * MINUTE_MS;
    const buckets = new Map<string, number>();
    const grew: Record<string, number> = { received: 0, processed: 0, duplicate: 0, failed: 0 };
    for (const b of await deliveryMinutesSince(this.store.db, since)) {
      const key = `${b.minute}|${b.status}`;
      buckets.set(key, b.n);
      // A minute that was outside the last window has no known start: it counts from now on.
      if (!first && b.minute >= this.windowStart && b.status in grew) grew[b.status] = (grew[b.status] ?? 0) + b.n - (this.buckets.get(key) ?? 0);
    }
    this.buckets = buckets;
    this.windowStart = since;
    if (DELIVERY_STATUSES.some((s) => (grew[s] ?? 0) > 0)) {
      const counts = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, Math.max(0, grew[s] ?? 0)]));
      out.push(sseFrame('deliveries', { ...counts, time: new Date(now).toISOString() }));
    }

    // Dead letters: new failed rows, by id.
    if (!first) {
      const frame = (d: DeadLetter) => sseFrame('dead_letter', { id: d.id, route: d.route, error: d.error, received_at: new Date(d.receivedAt).toISOString() });
      for (const d of await deadLettersAmong(this.store.db, this.stuck)) out.push(frame(d));
      for (const d of await deadLettersAfter(this.store.db, this.lastDeadLetter, DEAD_LETTERS_PER_POLL)) {
        this.lastDeadLetter = d.id;
        out.push(frame(d));
      }
      this.stuck = await receivedIdsBelow(this.store.db, this.lastDeadLetter, DEAD_LETTERS_PER_POLL);
    }
    if (out.length > 0) this.broadcast(out.join(''));
  }
}
