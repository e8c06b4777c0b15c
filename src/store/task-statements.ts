import { sql, type RawBuilder, type Selectable } from 'kysely';
import type { Store } from './open-store.js';
import type { TasksTable } from './schema.js';
import type { WriteTx } from './write-transaction.js';

/**
 * The statements of the task queue (tasks/task-store.ts keeps its rules).
 * What they rely on:
 * - one queued-or-running task per source, enforced by a unique partial index;
 * - a running task belongs to the process named in lease_owner until
 *   lease_expires_at;
 * - every change to a running task is conditional on the caller still owning
 *   it, so a process that lost its lease cannot overwrite the new owner's work.
 */

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const ACTIVE_STATUSES: readonly TaskStatus[] = ['queued', 'running'];

export type TaskRow = Selectable<TasksTable>;

export interface NewTask {
  id: string;
  source: string;
  full: boolean;
  trigger: 'api' | 'schedule';
  now: number;
}

/** Progress figures of a running task, written with each committed page. */
export interface TaskProgress {
  pages: number;
  fetched: number;
  written: number;
  totalEstimate: number | null;
}

/** Inserts a queued task unless one is active for its source; undefined then. */
export async function insertTask(store: Store, t: NewTask): Promise<TaskRow | undefined> {
  // ON CONFLICT DO NOTHING on the partial unique index: the loser of a race
  // inserts nothing, on both engines, without an error.
  return store.db
    .insertInto('tasks')
    .values({
      id: t.id,
      source: t.source,
      status: 'queued',
      full_sync: t.full ? 1 : 0,
      trigger: t.trigger,
      run_after: t.now,
      created_at: t.now,
    })
    .onConflict((oc) =>
      oc
        .column('source')
        .where(sql.ref('status'), 'in', sql`('queued', 'running')`)
        .doNothing(),
    )
    .returningAll()
    .executeTakeFirst();
}

/**
 * Inserts a queued scheduled task only if no task of the source was created
 * within `intervalMs` and none is active, decided and inserted in one
 * statement: two schedule checks (or two processes) cannot both find the
 * source due.
 */
export async function insertTaskIfDue(store: Store, id: string, source: string, intervalMs: number, now: number): Promise<TaskRow | undefined> {
  // The WHERE also settles SQLite's parse of INSERT … SELECT … ON CONFLICT.
  const res = await sql<TaskRow>`
    insert into tasks (id, source, status, full_sync, "trigger", run_after, created_at)
    select ${id}, ${source}, 'queued', 0, 'schedule', ${now}, ${now}
    where not exists (select 1 from tasks where source = ${source} and created_at > ${now - intervalMs})
    on conflict (source) where status in ('queued', 'running') do nothing
    returning *`.execute(store.db);
  return res.rows[0];
}

export async function selectActiveTask(store: Store, source: string): Promise<TaskRow | undefined> {
  return store.db.selectFrom('tasks').selectAll().where('source', '=', source).where('status', 'in', ACTIVE_STATUSES).executeTakeFirst();
}

export async function selectTask(store: Store, id: string): Promise<TaskRow | undefined> {
  return store.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Newest first. */
export async function selectTasks(store: Store, statuses: readonly TaskStatus[] | 'all', limit: number): Promise<TaskRow[]> {
  let q = store.db.selectFrom('tasks').selectAll();
  if (statuses !== 'all') q = q.where('status', 'in', statuses);
  return q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
}

/**
 * On a task's first claim: what the runs it resumes from had done. A run
 * that is not a full sync starts from the checkpoint the last started task
 * of its source left; when that one was cancelled or failed, this run goes
 * on with its work, and carries its figures (its own and those it carried).
 * A full sync starts afresh, and later claims of the same task keep them.
 * SET expressions read the row as it was before the update.
 */
function earlier(carried: RawBuilder<number>, kept: RawBuilder<number>): RawBuilder<number> {
  const previous = sql<number>`(select case when p.status in ('cancelled', 'failed') then ${carried} else 0 end
    from tasks p where p.source = tasks.source and p.id <> tasks.id and p.started_at is not null
    order by p.created_at desc, p.id desc limit 1)`;
  return sql<number>`case when started_at is null and full_sync = 0 then coalesce(${previous}, 0) else ${kept} end`;
}

/**
 * Takes the oldest claimable queued task for `owner`. On PostgreSQL the
 * candidate row is locked with SKIP LOCKED, so concurrent claimers pick
 * different rows instead of queueing behind one; on SQLite the single
 * writer makes the UPDATE … WHERE status = 'queued' atomic already.
 */
export async function claimNextTask(store: Store, owner: string, leaseMs: number, now: number): Promise<TaskRow | undefined> {
  let candidate = store.db
    .selectFrom('tasks')
    .select('id')
    .where('status', '=', 'queued')
    .where('run_after', '<=', now)
    .orderBy('run_after')
    .orderBy('created_at')
    .limit(1);
  if (store.dialect.supportsSkipLocked) candidate = candidate.forUpdate().skipLocked();
  return store.db
    .updateTable('tasks')
    .set((eb) => ({
      status: 'running',
      lease_owner: owner,
      lease_expires_at: now + leaseMs,
      heartbeat_at: now,
      started_at: eb.fn.coalesce('started_at', eb.val(now)),
      attempts: eb('attempts', '+', 1),
      earlier_runs: earlier(sql`p.earlier_runs + 1`, sql.ref('earlier_runs')),
      earlier_pages: earlier(sql`p.earlier_pages + p.pages`, sql.ref('earlier_pages')),
      earlier_fetched: earlier(sql`p.earlier_fetched + p.records_fetched`, sql.ref('earlier_fetched')),
      earlier_written: earlier(sql`p.earlier_written + p.records_written`, sql.ref('earlier_written')),
    }))
    .where('id', '=', (eb) => eb.selectFrom(candidate.as('c')).select('c.id'))
    .where('status', '=', 'queued')
    .returningAll()
    .executeTakeFirst();
}

/** Extends the lease of a running task `owner` holds and reads its cancel flag; undefined when it is not held. */
export async function renewLease(store: Store, id: string, owner: string, leaseMs: number, now: number): Promise<{ cancelRequested: boolean } | undefined> {
  const row = await store.db
    .updateTable('tasks')
    .set({ heartbeat_at: now, lease_expires_at: now + leaseMs })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .returning(['cancel_requested'])
    .executeTakeFirst();
  return row ? { cancelRequested: row.cancel_requested === 1 } : undefined;
}

/** Writes the progress of a running task `owner` holds, in the page's transaction. False when it is not held. */
export async function saveTaskProgress(tx: WriteTx, id: string, owner: string, p: TaskProgress): Promise<boolean> {
  const res = await tx.trx
    .updateTable('tasks')
    .set({ pages: p.pages, records_fetched: p.fetched, records_written: p.written, total_estimate: p.totalEstimate })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Ends a running task `owner` holds. False when it is not held. */
export async function finishTask(
  store: Store,
  id: string,
  owner: string,
  status: 'succeeded' | 'failed' | 'cancelled',
  error: string | null,
  now: number,
): Promise<boolean> {
  const res = await store.db
    .updateTable('tasks')
    .set({ status, error, finished_at: now, lease_owner: null, lease_expires_at: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/**
 * Puts a running task `owner` holds back in the queue until `runAfter`, or
 * ends it as cancelled when its cancel flag is set. The resulting status,
 * or null when it is not held.
 */
export async function requeueTask(
  store: Store,
  id: string,
  owner: string,
  runAfter: number,
  note: string | null,
  now: number,
): Promise<'queued' | 'cancelled' | null> {
  // One statement: a cancel landing between a read and the update cannot be missed.
  const cancelled = sql<boolean>`cancel_requested = 1`;
  const row = await store.db
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
 * Gives back a running task `owner` holds whose page the store kept failing
 * (a connection lost, the disk full): it counts one more lost attempt, like
 * a lease lost, and goes back to the queue until `runAfter`; it fails when
 * that was the `maxAttempts`-th, and ends cancelled when its flag is set.
 * The resulting status, or null when it is not held.
 */
export async function requeueAfterStoreFault(
  store: Store,
  id: string,
  owner: string,
  fault: { runAfter: number; maxAttempts: number; error: string },
  now: number,
): Promise<'queued' | 'cancelled' | 'failed' | null> {
  // One statement: the count, the verdict and a cancel landing meanwhile are decided together.
  const cancelled = sql<boolean>`cancel_requested = 1`;
  const spent = sql<boolean>`lease_losses + 1 >= ${fault.maxAttempts}`;
  const row = await store.db
    .updateTable('tasks')
    .set({
      status: sql`case when ${cancelled} then 'cancelled' when ${spent} then 'failed' else 'queued' end`,
      lease_losses: sql`lease_losses + 1`,
      run_after: fault.runAfter,
      error: sql`case when ${cancelled} then 'cancelled by request' when ${spent} then ${fault.error} else ${`requeued: ${fault.error}`} end`,
      finished_at: sql`case when ${cancelled} or ${spent} then ${now} else finished_at end`,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'running')
    .returning('status')
    .executeTakeFirst();
  return row ? (row.status as 'queued' | 'cancelled' | 'failed') : null;
}

/**
 * Cancels an active task: a queued one ends at once, a running one gets the
 * cancel flag. Its status after, or undefined when it was not active.
 */
export async function flagCancel(store: Store, id: string, now: number): Promise<'cancelled' | 'running' | undefined> {
  // One statement, so a task requeued (running -> queued) between two
  // separate updates cannot slip past both and be reported finished.
  // SET expressions read the row as it was before this update.
  const wasQueued = sql<boolean>`status = 'queued'`;
  const row = await store.db
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
  if (!row) return undefined;
  return row.status === 'cancelled' ? 'cancelled' : 'running';
}

export type ExpiredTask = Pick<TaskRow, 'id' | 'lease_losses' | 'cancel_requested' | 'lease_owner'>;

/** Running tasks whose lease ran out before `now`. */
export async function selectExpiredTasks(store: Store, now: number): Promise<ExpiredTask[]> {
  return store.db
    .selectFrom('tasks')
    .select(['id', 'lease_losses', 'cancel_requested', 'lease_owner'])
    .where('status', '=', 'running')
    .where('lease_expires_at', '<', now)
    .execute();
}

/**
 * What becomes of a task taken back: it ends (cancelled or failed), or goes
 * back to the queue to run at once; either way it counts one more lease lost.
 */
export interface TakeBack {
  status: 'queued' | 'cancelled' | 'failed';
  leaseLosses: number;
  error: string;
}

/** Applies `change` to a task whose lease is still expired at `now`; 1 if it was, 0 if it was renewed or ended meanwhile. */
export async function takeBackExpiredTask(store: Store, id: string, now: number, change: TakeBack): Promise<number> {
  const base = store.db.updateTable('tasks').where('id', '=', id).where('status', '=', 'running').where('lease_expires_at', '<', now);
  const res =
    change.status === 'queued'
      ? await base
          .set({ status: 'queued', lease_losses: change.leaseLosses, run_after: now, lease_owner: null, lease_expires_at: null, error: change.error })
          .executeTakeFirst()
      : await base
          .set({ status: change.status, lease_losses: change.leaseLosses, finished_at: now, lease_owner: null, lease_expires_at: null, error: change.error })
          .executeTakeFirst();
  return Number(res.numUpdatedRows);
}
