import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { Store } from '../store/open-store.js';
import type { TasksTable } from '../store/schema.js';

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const ACTIVE_STATUSES: readonly TaskStatus[] = ['queued', 'running'];

export type TaskRow = Selectable<TasksTable>;

export type EnqueueResult = { created: true; task: TaskRow } | { created: false; active: TaskRow };

/**
 * All task SQL lives here. The rules it keeps:
 * - one queued-or-running task per source, enforced by a unique partial index;
 * - a running task belongs to the process named in lease_owner until
 *   lease_expires_at; the owner extends the lease with each heartbeat, and a
 *   lease left to expire (the process died) is taken back by `reapExpired`;
 * - every change to a running task is conditional on the caller still owning
 *   it, so a process that lost its lease cannot overwrite the new owner's work.
 */
export class TaskStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  /** Queues a sync unless one is already active for the source (then returns that one). */
  async enqueue(source: string, opts: { full: boolean; trigger: 'api' | 'schedule'; now?: number }): Promise<EnqueueResult> {
    const now = opts.now ?? Date.now();
    const task = {
      id: randomUUID(),
      source,
      status: 'queued',
      full_sync: opts.full ? 1 : 0,
      trigger: opts.trigger,
      run_after: now,
      created_at: now,
    };
    // ON CONFLICT DO NOTHING on the partial unique index: the loser of a race
    // inserts nothing and reads the winner, on both engines, without an error.
    const inserted = await this.db
      .insertInto('tasks')
      .values(task)
      .onConflict((oc) => oc.column('source').where(sql.ref('status'), 'in', sql`('queued', 'running')`).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { created: true, task: inserted };
    const active = await this.activeFor(source);
    if (active) return { created: false, active };
    // The active task finished between our insert and read: try once more.
    return this.enqueue(source, opts);
  }

  /**
   * Queues a scheduled sync only if no task of the source was created within
   * `intervalMs` and none is active, decided and inserted in one statement:
   * two schedule checks (or two processes) cannot both find the source due.
   */
  async enqueueIfDue(source: string, intervalMs: number, now = Date.now()): Promise<TaskRow | undefined> {
    // The WHERE also settles SQLite's parse of INSERT … SELECT … ON CONFLICT.
    const res = await sql<TaskRow>`
      insert into tasks (id, source, status, full_sync, "trigger", run_after, created_at)
      select ${randomUUID()}, ${source}, 'queued', 0, 'schedule', ${now}, ${now}
      where not exists (select 1 from tasks where source = ${source} and created_at > ${now - intervalMs})
      on conflict (source) where status in ('queued', 'running') do nothing
      returning *`.execute(this.db);
    return res.rows[0];
  }

  async activeFor(source: string): Promise<TaskRow | undefined> {
    return this.db
      .selectFrom('tasks')
      .selectAll()
      .where('source', '=', source)
      .where('status', 'in', ACTIVE_STATUSES)
      .executeTakeFirst();
  }

  async get(id: string): Promise<TaskRow | undefined> {
    return this.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(statuses: readonly TaskStatus[] | 'all', limit: number): Promise<TaskRow[]> {
    let q = this.db.selectFrom('tasks').selectAll();
    if (statuses !== 'all') q = q.where('status', 'in', statuses);
    return q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
  }

  /**
   * Takes the oldest claimable queued task for this process. On PostgreSQL the
   * candidate row is locked with SKIP LOCKED, so concurrent claimers pick
   * different rows instead of queueing behind one; on SQLite the single
   * writer makes the UPDATE … WHERE status = 'queued' atomic already.
   */
  async claim(owner: string, leaseMs: number, now = Date.now()): Promise<TaskRow | undefined> {
    let candidate = this.db
      .selectFrom('tasks')
      .select('id')
      .where('status', '=', 'queued')
      .where('run_after', '<=', now)
      .orderBy('run_after')
      .orderBy('created_at')
      .limit(1);
    if (this.store.dialect.supportsSkipLocked) candidate = candidate.forUpdate().skipLocked();
    return this.db
      .updateTable('tasks')
      .set((eb) => ({
        status: 'running',
        lease_owner: owner,
        lease_expires_at: now + leaseMs,
        heartbeat_at: now,
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
        attempts: eb('attempts', '+', 1),
      }))
      .where('id', '=', (eb) => eb.selectFrom(candidate.as('c')).select('c.id'))
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Extends the lease and reads the cancel flag in one round trip. Undefined
   * means the task is no longer ours (reaped or finished elsewhere).
   */
  async heartbeat(id: string, owner: string, leaseMs: number, now = Date.now()): Promise<{ cancelRequested: boolean } | undefined> {
    const row = await this.db
      .updateTable('tasks')
      .set({ heartbeat_at: now, lease_expires_at: now + leaseMs })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .returning(['cancel_requested'])
      .executeTakeFirst();
    return row ? { cancelRequested: row.cancel_requested === 1 } : undefined;
  }

  /** Progress figures; written with each committed page. */
  progressUpdate(p: { pages: number; fetched: number; written: number; totalEstimate: number | null }) {
    return { pages: p.pages, records_fetched: p.fetched, records_written: p.written, total_estimate: p.totalEstimate };
  }

  /** Ends a running task we own. False when we had lost it. */
  async finish(
    id: string,
    owner: string,
    status: 'succeeded' | 'failed' | 'cancelled',
    error: string | null,
    now = Date.now(),
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('tasks')
      .set({ status, error, finished_at: now, lease_owner: null, lease_expires_at: null })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /**
   * Puts a running task we own back in the queue, not to be claimed before
   * `runAfter`; or ends it as cancelled if a cancel was asked for meanwhile
   * (from another process, whose flag this one had not seen yet): parked
   * until a rate limit lifts, it would otherwise wait an hour to be
   * cancelled, and hold the source's one active slot all that time.
   * The resulting status, or null when we had lost the task.
   */
  async requeue(id: string, owner: string, runAfter: number, note: string | null, now = Date.now()): Promise<'queued' | 'cancelled' | null> {
    // One statement: a cancel landing between a read and the update cannot be missed.
    const cancelled = sql<boolean>`cancel_requested = 1`;
    const row = await this.db
      .updateTable('tasks')
      .set({
        status: sql`case when ${cancelled} then 'cancelled' else 'queued' end`,
        run_after: runAfter,
        error: sql`case when ${cancelled} then 'cancelled by request' else ${note} end`,
        finished_at: sql`case when ${cancelled} then ${now} else finished_at end`,
        lease_owner: null,
        lease_expires_at: null,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .returning('status')
      .executeTakeFirst();
    return row ? (row.status as 'queued' | 'cancelled') : null;
  }

  /**
   * Cancels a task: a queued one ends at once; a running one gets the flag,
   * which its owner sees at its next heartbeat (within a second) and stops.
   */
  async requestCancel(id: string, now = Date.now()): Promise<'cancelled' | 'requested' | 'finished' | 'unknown'> {
    // One statement, so a task requeued (running -> queued) between two
    // separate updates cannot slip past both and be reported finished.
    // SET expressions read the row as it was before this update.
    const wasQueued = sql<boolean>`status = 'queued'`;
    const row = await this.db
      .updateTable('tasks')
      .set({
        status: sql`case when ${wasQueued} then 'cancelled' else status end`,
        cancel_requested: 1,
        finished_at: sql`case when ${wasQueued} then ${now} else finished_at end`,
        error: sql`case when ${wasQueued} then 'cancelled before it started' else error end`,
      })
      .where('id', '=', id)
      .where('status', 'in', ACTIVE_STATUSES)
      .returning('status')
      .executeTakeFirst();
    if (row) return row.status === 'cancelled' ? 'cancelled' : 'requested';
    return (await this.get(id)) ? 'finished' : 'unknown';
  }

  /**
   * Takes back running tasks whose owner stopped renewing the lease (it died
   * or lost the database). A cancelled-meanwhile task ends as cancelled; the
   * rest go back to the queue to resume from their checkpoint, until their
   * `maxAttempts`-th lease loss, when they fail rather than crash-loop.
   */
  async reapExpired(maxAttempts: number, now = Date.now()): Promise<number> {
    const expired = await this.db
      .selectFrom('tasks')
      .select(['id', 'lease_losses', 'cancel_requested', 'lease_owner'])
      .where('status', '=', 'running')
      .where('lease_expires_at', '<', now)
      .execute();
    let n = 0;
    for (const t of expired) {
      const base = this.db
        .updateTable('tasks')
        .where('id', '=', t.id)
        .where('status', '=', 'running')
        .where('lease_expires_at', '<', now);
      // Crashes only: claims after a park or a shutdown do not count.
      const losses = t.lease_losses + 1;
      const ended = t.cancel_requested === 1 || losses >= maxAttempts;
      const res = ended
        ? await base
            .set({
              status: t.cancel_requested === 1 ? 'cancelled' : 'failed',
              lease_losses: losses,
              finished_at: now,
              lease_owner: null,
              lease_expires_at: null,
              error: `its process (${t.lease_owner ?? '?'}) stopped renewing the lease`,
            })
            .executeTakeFirst()
        : await base
            .set({
              status: 'queued',
              lease_losses: losses,
              run_after: now,
              lease_owner: null,
              lease_expires_at: null,
              error: `requeued: its process (${t.lease_owner ?? '?'}) stopped renewing the lease`,
            })
            .executeTakeFirst();
      n += Number(res.numUpdatedRows);
    }
    return n;
  }
}
