import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { storableWrite, type ReconcileWrite, type RecordType, type RecordWrite } from '../domain/records.js';
import { countRecordsWritten, type Metrics } from '../metrics.js';
import type { CompleteWalk, SourceConnector, SyncContext, SyncPage } from '../sources/connector.js';
import { RateLimitParkedError } from '../sources/upstream-errors.js';
import type { Store } from '../store/open-store.js';
import type { StoreOutage } from '../store/outage.js';
import { StoreUnavailable } from '../store/store-errors.js';
import { applyRecordWrites, hashWrites } from '../store/record-writes.js';
import { isTransientStoreError } from '../store/store-errors.js';
import { clearWalkSeen, markWalkSeen, unseenLiveIds, type WalkKey } from '../store/walk-seen.js';
import { inWriteTransaction, type WriteTx } from '../store/write-transaction.js';
import { readableCheckpoint } from './checkpoint-check.js';
import { loadCheckpoint, recordSuccess, saveCheckpoint } from './sync-state.js';
import type { TaskRow, TaskStore } from './task-store.js';

export interface RunnerOptions {
  /** This process's name in lease_owner. */
  owner: string;
  /** How long a claim lasts without a heartbeat; a dead process's task is recovered after it. */
  leaseMs: number;
  /** How often a running task renews its lease and reads its cancel flag. */
  heartbeatMs: number;
  /** How often the queue is polled for work queued by other processes. */
  pollMs: number;
  maxConcurrent: number;
  /** Lease losses of one task (its process died) and store faults past the page retries before it fails for good; claims after a park or a shutdown do not count. */
  maxAttempts: number;
  /** Waits between tries of a page commit the store refused for a passing reason; tests shorten them. */
  pageRetryDelaysMs?: readonly number[];
  /** How long a task requeued after those tries waits before it can be claimed again. */
  storeFaultRequeueMs?: number;
}

/** A dropped connection, a restart or a busy lock passes within seconds: a page is tried again after these waits. */
const PAGE_RETRY_DELAYS_MS = [100, 500, 1_000, 2_000, 4_000];

/** A fault outlasting the retries: the task waits this long in the queue, then resumes from its checkpoint. */
const STORE_FAULT_REQUEUE_MS = 10_000;

/** Stored records a complete walk did not see are checked one by one only up to this many. */
const MAX_SWEEP = 10_000;

/** A deletion: applyRecordWrites keeps the stored fields and sets deleted_at. */
function tombstoneWrite(type: RecordType, externalId: string, source: string): RecordWrite {
  return {
    type,
    external_id: externalId,
    source,
    fields: { sender_id: null, name: null, email: null, status: null, budget: null, details: null },
    attributes: {},
    sourceUpdatedAt: null,
    deleted: true,
  };
}

/** The walk a page belongs to, as the store keeps its seen ids. */
function walkKey(connector: { recordType: RecordType }, source: string, walk: CompleteWalk): WalkKey {
  return { source, type: walk.recordType ?? connector.recordType, idPrefix: walk.idPrefix };
}

/**
 * A page of a complete walk, in its transaction: its ids kept as seen (a
 * first page forgets an earlier walk's ids first); the last page, swept
 * before its transaction, forgets the walk's.
 */
async function keepSeen(tx: WriteTx, key: WalkKey, page: SyncPage): Promise<void> {
  if (page.walk?.first || page.walk?.last) await clearWalkSeen(tx, key);
  if (page.walk?.last) return;
  await markWalkSeen(
    tx,
    key,
    page.records.filter((r) => r.type === key.type).map((r) => r.external_id),
  );
}

/** Why a running task's signal was aborted. */
class StopReason extends Error {
  constructor(readonly kind: 'cancel' | 'shutdown' | 'lost') {
    super(kind === 'cancel' ? 'cancelled' : kind === 'shutdown' ? 'interrupted by shutdown' : 'lease lost to another process');
    this.name = 'AbortError';
  }
}

/** Thrown inside a page transaction when the task is no longer ours: rolls the page back. */
class LeaseLost extends Error {}

/** A page the store kept refusing for a passing reason through every retry: the task is requeued, not failed. */
class PageStoreFault extends Error {
  constructor(
    readonly tries: number,
    override readonly cause: unknown,
  ) {
    super(`the store refused a page commit ${tries} times (${cause instanceof Error ? cause.message : String(cause)})`);
    this.name = 'PageStoreFault';
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A running task's progress figures, as saved with each page. */
interface Progress {
  pages: number;
  fetched: number;
  written: number;
  totalEstimate: number | null;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

/** The owner name the claim wrote into the task row. */
const leaseOwner = (task: TaskRow, fallback: string): string => task.lease_owner ?? fallback;

/** A 429 the client decided to wait out by rescheduling the task. */
function parkedUntil(err: unknown): { retryAt: number; reason: string } | null {
  return err instanceof RateLimitParkedError ? { retryAt: err.retryAt, reason: err.reason } : null;
}

/**
 * Runs queued sync tasks of this process: claims them by lease, renews the
 * lease every heartbeat (which also carries cancel requests from any
 * process), streams pages from the connector, and commits each page's
 * records, checkpoint and progress in one transaction while the connector's
 * next requests are out. Background loops never throw: they log with context.
 */
export class TaskRunner {
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** A wake came during a tick: tick again as soon as it ends. */
  private tickAgain = false;
  /** Until start(): a process that does not run tasks (runTasks false) only queues them, even on a wake. */
  private stopped = true;

  constructor(
    private readonly store: Store,
    private readonly tasks: TaskStore,
    private readonly connectors: ReadonlyMap<string, SourceConnector>,
    private readonly options: RunnerOptions,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
    /** The store outage tracker shared with the routes: a poll or heartbeat failing with the store logs once per outage. */
    private readonly outage?: StoreOutage,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks for work now (after a local enqueue) instead of at the next poll. */
  wake(): void {
    if (!this.stopped) this.schedule(0);
  }

  /** Aborts a task running in this process at once; other processes see the flag at their next heartbeat. */
  cancelLocal(id: string): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.controller.abort(new StopReason('cancel'));
    return true;
  }

  isRunningHere(id: string): boolean {
    return this.running.has(id);
  }

  /** Stops claiming; running tasks are interrupted and go back to the queue to resume later. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    for (const r of this.running.values()) r.controller.abort(new StopReason('shutdown'));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      // One tick at a time: overlapping ticks would each count the running
      // tasks before claiming, together claim past TASK_MAX_CONCURRENT, and
      // outlive a stop() that waited for only one of them.
      if (this.ticking) {
        this.tickAgain = true;
        return;
      }
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        const again = this.tickAgain;
        this.tickAgain = false;
        this.schedule(again ? 0 : this.options.pollMs);
      });
    }, delay);
  }

  private async tick(): Promise<void> {
    try {
      const reaped = await this.tasks.reapExpired(this.options.maxAttempts);
      if (reaped > 0) this.log.warn({ reaped }, 'recovered tasks whose process stopped renewing its lease');
      while (!this.stopped && this.running.size < this.options.maxConcurrent) {
        // An owner name per claim: if this process re-claims its own task after
        // its lease lapsed (a long stall), the earlier run fails every
        // ownership check instead of running on beside the new one.
        const task = await this.tasks.claim(`${this.options.owner}#${randomUUID().slice(0, 8)}`, this.options.leaseMs);
        if (!task) break;
        this.launch(task);
      }
      this.outage?.succeeded('task_poll');
    } catch (err) {
      if (this.outage?.failed('task_poll', err) instanceof StoreUnavailable) return;
      this.log.error({ err }, 'task queue poll failed; will try again');
    }
  }

  private launch(task: TaskRow): void {
    // Our own earlier run of this task, whose lease lapsed and was re-claimed
    // here: stop it, and have stop() wait for both.
    const previous = this.running.get(task.id);
    previous?.controller.abort(new StopReason('lost'));
    const controller = new AbortController();
    const entry: Running = { controller, done: Promise.resolve() };
    this.running.set(task.id, entry);
    const done = this.run(task, controller)
      .catch((err: unknown) => this.log.error({ err, task: task.id }, 'task bookkeeping failed'))
      .finally(() => {
        if (this.running.get(task.id) === entry) this.running.delete(task.id);
        this.wake();
      });
    entry.done = previous ? Promise.all([previous.done, done]).then(() => undefined) : done;
  }

  private async run(task: TaskRow, controller: AbortController): Promise<void> {
    const log = this.log.child({ task: task.id, source: task.source, attempt: task.attempts });
    const { leaseMs, heartbeatMs } = this.options;
    const owner = leaseOwner(task, this.options.owner);
    const connector = this.connectors.get(task.source);
    if (!connector) {
      await this.tasks.finish(task.id, owner, 'failed', `unknown source "${task.source}"`);
      return;
    }
    const missing = connector.missingConfiguration();
    if (missing) {
      await this.tasks.finish(task.id, owner, 'failed', `set ${missing} to sync ${task.source}`);
      return;
    }

    const heartbeat = setInterval(() => {
      this.tasks
        .heartbeat(task.id, owner, leaseMs)
        .then((hb) => {
          this.outage?.succeeded('task_heartbeat');
          if (!hb) controller.abort(new StopReason('lost'));
          else if (hb.cancelRequested) controller.abort(new StopReason('cancel'));
        })
        .catch((err: unknown) => {
          if (!(this.outage?.failed('task_heartbeat', err) instanceof StoreUnavailable)) log.warn({ err }, 'heartbeat failed');
        });
    }, heartbeatMs);

    const progress: Progress = { pages: task.pages, fetched: task.records_fetched, written: task.records_written, totalEstimate: task.total_estimate };
    log.info({ full: task.full_sync === 1 }, 'sync started');
    let pages: AsyncIterator<SyncPage> | undefined;
    try {
      // Cancelled while queued (or before a requeue): stop as a cancel, through the signal like any other.
      if (task.cancel_requested === 1) controller.abort(new StopReason('cancel'));
      controller.signal.throwIfAborted();
      const stored = task.full_sync === 1 && task.pages === 0 ? null : await loadCheckpoint(this.store, task.source);
      const checkpoint = readableCheckpoint(connector, stored, log);
      // The connector keeps its next requests out while a page is committed (RequestsAhead).
      pages = connector.pages({ signal: controller.signal, checkpoint, full: checkpoint === null, log })[Symbol.asyncIterator]();
      for (;;) {
        const r = await pages.next();
        if (r.done) break;
        controller.signal.throwIfAborted();
        const walk = r.value.walk;
        const swept = walk?.last ? await this.sweep(connector, task.source, r.value, { signal: controller.signal, checkpoint: null, full: true, log }) : [];
        await this.commitPage(task, r.value, progress, swept, {
          signal: controller.signal,
          log,
          reconcile: connector.reconcile,
          recordType: connector.recordType,
        });
        log.debug({ pages: progress.pages, fetched: progress.fetched }, 'page committed');
      }
      controller.signal.throwIfAborted();
      await recordSuccess(this.store, task.source);
      // False: the lease lapsed (a stalled process) and the task was taken back; its pages stay committed.
      if (await this.tasks.finish(task.id, owner, 'succeeded', null)) log.info({ ...progress }, 'sync succeeded');
      else log.warn({ ...progress }, 'sync done, but its lease had lapsed and the task was taken back; the task keeps the status the reaper gave it');
    } catch (err) {
      const reason = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof StopReason) {
        if (reason.kind === 'cancel') {
          await this.tasks.finish(task.id, owner, 'cancelled', 'cancelled by request');
          log.info({ ...progress }, 'sync cancelled; committed pages stay');
        } else if (reason.kind === 'shutdown') {
          const status = await this.tasks.requeue(task.id, owner, Date.now(), 'interrupted by shutdown; resumes from its checkpoint');
          if (status === 'cancelled') log.info({ ...progress }, 'sync cancelled; committed pages stay');
          else log.info({ ...progress }, 'sync interrupted by shutdown; requeued');
        } else {
          log.warn('sync stopped: another process took over its task');
        }
        return;
      }
      if (err instanceof LeaseLost) {
        log.warn('sync stopped: another process took over its task');
        return;
      }
      if (err instanceof PageStoreFault) {
        await this.requeueAfterStoreFault(task, owner, err, progress, log);
        return;
      }
      const parked = parkedUntil(err);
      if (parked) {
        const status = await this.tasks.requeue(task.id, owner, parked.retryAt, `parked until ${new Date(parked.retryAt).toISOString()}: ${parked.reason}`);
        if (status === 'cancelled') log.info({ ...progress }, 'sync cancelled; committed pages stay');
        else log.warn({ retryAt: new Date(parked.retryAt).toISOString() }, 'sync parked by upstream rate limit');
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      await this.tasks.finish(task.id, owner, 'failed', message);
      log.error({ err, ...progress }, 'sync failed; committed pages stay');
    } finally {
      clearInterval(heartbeat);
      // Stops any request still out ahead for a run that has ended.
      if (!controller.signal.aborted) controller.abort();
      // A run that stopped between pages leaves the walk suspended at its
      // yield: close it, so its own cleanup has run before stop() returns.
      await pages?.return?.().catch((err: unknown) => log.debug({ err }, 'closing the page walk failed'));
    }
  }

  /** A page the store kept refusing: back to the queue for a later attempt, or failed once the attempts are spent. */
  private async requeueAfterStoreFault(task: TaskRow, owner: string, err: PageStoreFault, progress: Progress, log: Logger): Promise<void> {
    const runAfter = Date.now() + (this.options.storeFaultRequeueMs ?? STORE_FAULT_REQUEUE_MS);
    // If the store is still down this throws too: the task stays running, its lease lapses and the reaper takes it back.
    const status = await this.tasks.requeueAfterStoreFault(task.id, owner, { runAfter, maxAttempts: this.options.maxAttempts, error: err.message });
    if (status === 'cancelled') log.info({ ...progress }, 'sync cancelled; committed pages stay');
    else if (status === 'failed') log.error({ err, ...progress }, 'sync failed: the store kept refusing its pages through every attempt; committed pages stay');
    else if (status === 'queued')
      log.warn({ err: err.cause, tries: err.tries, retryAt: new Date(runAfter).toISOString() }, 'store kept refusing a page; sync requeued');
    else log.warn('sync stopped: another process took over its task');
  }

  /**
   * After a walk that listed everything: the stored live records it did not
   * see, checked with upstream one by one, as writes for the last page's
   * transaction (tombstones for the gone, the records themselves for the rest).
   */
  private async sweep(connector: SourceConnector, source: string, page: SyncPage, ctx: SyncContext): Promise<RecordWrite[]> {
    if (!connector.confirmGone || !page.walk) return [];
    const key = walkKey(connector, source, page.walk);
    // The last page's ids are marked in its own transaction, after this: left out here instead.
    const onPage = new Set(page.records.map((r) => r.external_id));
    const missing = (await unseenLiveIds(this.store, key, MAX_SWEEP + 1 + onPage.size)).filter((id) => !onPage.has(id));
    if (missing.length === 0) return [];
    if (missing.length > MAX_SWEEP) {
      ctx.log.warn({ max: MAX_SWEEP }, 'too many stored records missing from a complete walk to check one by one; no tombstones this run');
      return [];
    }
    const { gone, present } = await connector.confirmGone(missing, ctx, key.type);
    ctx.log.info({ missing: missing.length, gone: gone.length, present: present.length, type: key.type }, 'checked stored records a complete walk did not see');
    return [...present, ...gone.map((id) => tombstoneWrite(key.type, id, source))];
  }

  /**
   * Records, checkpoint and progress of one page, atomically, and only while
   * the task is still ours. A passing store failure (a dropped connection, a
   * busy lock) rolled the whole page back, so the same page is tried again
   * after a wait; past the last wait it becomes a PageStoreFault.
   */
  private async commitPage(
    task: TaskRow,
    page: SyncPage,
    progress: Progress,
    extra: readonly RecordWrite[],
    ctx: { signal: AbortSignal; log: Logger; reconcile?: ReconcileWrite | undefined; recordType: RecordType },
  ) {
    const next = {
      pages: progress.pages + 1,
      fetched: progress.fetched + page.records.length,
      written: progress.written,
      totalEstimate: page.totalEstimate ?? progress.totalEstimate,
    };
    const writes = [...page.records, ...extra].map(storableWrite);
    const hashed = await hashWrites(writes);
    const delays = this.options.pageRetryDelaysMs ?? PAGE_RETRY_DELAYS_MS;
    for (let tries = 1; ; tries++) {
      try {
        const applied = await this.countingStoreErrors(() =>
          inWriteTransaction(this.store, async (tx) => {
            // Counted afresh on each try: a rolled-back try wrote nothing.
            next.written = progress.written;
            const applied = await applyRecordWrites(tx, writes, hashed, ctx.reconcile);
            next.written += applied.filter((a) => a.result !== 'unchanged' && a.result !== 'stale').length;
            if (page.walk) await keepSeen(tx, walkKey(ctx, task.source, page.walk), page);
            await saveCheckpoint(tx, task.source, page.checkpoint);
            if (!(await this.tasks.saveProgress(tx, task.id, leaseOwner(task, this.options.owner), next)))
              throw new LeaseLost('task no longer owned by this process');
            return applied;
          }),
        );
        countRecordsWritten(this.metrics, applied);
        Object.assign(progress, next);
        if (tries > 1) ctx.log.info({ tries, pages: next.pages }, 'page committed after the store came back');
        return;
      } catch (err) {
        if (!isTransientStoreError(err)) throw err;
        const delay = delays[tries - 1];
        if (delay === undefined) throw new PageStoreFault(tries, err);
        ctx.log.warn({ err, tries, retry_in_ms: delay }, 'store refused a page commit for a passing reason; retrying the page');
        await pause(delay, ctx.signal);
      }
    }
  }

  /** Runs a page's transaction; a failure of the store's (not a lost lease) is counted in tributary_store_errors_total. */
  private async countingStoreErrors<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof LeaseLost)) this.metrics?.storeErrors.inc({ operation: 'sync_page' });
      throw err;
    }
  }
}
