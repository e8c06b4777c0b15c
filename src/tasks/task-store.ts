import { randomUUID } from 'node:crypto';
import type { Store } from '../store/open-store.js';
import {
  claimNextTask,
  finishTask,
  flagCancel,
  insertTask,
  insertTaskIfDue,
  renewLease,
  requeueAfterStoreFault,
  requeueTask,
  saveTaskProgress,
  selectActiveTask,
  selectExpiredTasks,
  selectTask,
  selectTasks,
  takeBackExpiredTask,
  type TaskProgress,
  type TaskRow,
  type TaskStatus,
} from '../store/task-statements.js';
import type { WriteTx } from '../store/write-transaction.js';

export { ACTIVE_STATUSES, TASK_STATUSES, type TaskRow, type TaskStatus } from '../store/task-statements.js';

export type EnqueueResult = { created: true; task: TaskRow } | { created: false; active: TaskRow };

/**
 * The task queue. Its statements are in store/task-statements.ts; the rules
 * it keeps:
 * - one queued-or-running task per source;
 * - a running task belongs to the process named in lease_owner until
 *   lease_expires_at; the owner extends the lease with each heartbeat, and a
 *   lease left to expire (the process died) is taken back by `reapExpired`;
 * - every change to a running task is conditional on the caller still owning
 *   it, so a process that lost its lease cannot overwrite the new owner's work.
 */
export class TaskStore {
  constructor(private readonly store: Store) {}

  /** Queues a sync unless one is already active for the source (then returns that one). */
  async enqueue(source: string, opts: { full: boolean; trigger: 'api' | 'schedule'; now?: number }): Promise<EnqueueResult> {
    const inserted = await insertTask(this.store, { id: randomUUID(), source, full: opts.full, trigger: opts.trigger, now: opts.now ?? Date.now() });
    if (inserted) return { created: true, task: inserted };
    // The loser of a race inserted nothing: it reads the winner.
    const active = await this.activeFor(source);
    if (active) return { created: false, active };
    // The active task finished between our insert and read: try once more.
    return this.enqueue(source, opts);
  }

  /**
   * Queues a scheduled sync only if no task of the source was created within
   * `intervalMs` and none is active, decided and inserted in one statement.
   */
  async enqueueIfDue(source: string, intervalMs: number, now = Date.now()): Promise<TaskRow | undefined> {
    return insertTaskIfDue(this.store, randomUUID(), source, intervalMs, now);
  }

  async activeFor(source: string): Promise<TaskRow | undefined> {
    return selectActiveTask(this.store, source);
  }

  async get(id: string): Promise<TaskRow | undefined> {
    return selectTask(this.store, id);
  }

  async list(statuses: readonly TaskStatus[] | 'all', limit: number): Promise<TaskRow[]> {
    return selectTasks(this.store, statuses, limit);
  }

  /** Takes the oldest claimable queued task for this process; concurrent claimers get different ones. */
  async claim(owner: string, leaseMs: number, now = Date.now()): Promise<TaskRow | undefined> {
    return claimNextTask(this.store, owner, leaseMs, now);
  }

  /**
   * Extends the lease and reads the cancel flag in one round trip. Undefined
   * means the task is no longer ours (reaped or finished elsewhere).
   */
  async heartbeat(id: string, owner: string, leaseMs: number, now = Date.now()): Promise<{ cancelRequested: boolean } | undefined> {
    return renewLease(this.store, id, owner, leaseMs, now);
  }

  /** Writes the progress figures in the transaction of the page they count. False when we had lost the task. */
  async saveProgress(tx: WriteTx, id: string, owner: string, progress: TaskProgress): Promise<boolean> {
    return saveTaskProgress(tx, id, owner, progress);
  }

  /** Ends a running task we own. False when we had lost it. */
  async finish(id: string, owner: string, status: 'succeeded' | 'failed' | 'cancelled', error: string | null, now = Date.now()): Promise<boolean> {
    return finishTask(this.store, id, owner, status, error, now);
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
    return requeueTask(this.store, id, owner, runAfter, note, now);
  }

  /**
   * Puts back a running task we own whose page commit the store kept
   * refusing for a passing reason: it counts toward `maxAttempts` as a lost
   * lease does, waits until `runAfter`, and fails once the attempts are spent.
   * The resulting status, or null when we had lost the task.
   */
  async requeueAfterStoreFault(
    id: string,
    owner: string,
    fault: { runAfter: number; maxAttempts: number; error: string },
    now = Date.now(),
  ): Promise<'queued' | 'cancelled' | 'failed' | null> {
    return requeueAfterStoreFault(this.store, id, owner, fault, now);
  }

  /**
   * Cancels a task: a queued one ends at once; a running one gets the flag,
   * which its owner sees at its next heartbeat (within a second) and stops.
   */
  async requestCancel(id: string, now = Date.now()): Promise<'cancelled' | 'requested' | 'finished' | 'unknown'> {
    const flagged = await flagCancel(this.store, id, now);
    if (flagged) return flagged === 'cancelled' ? 'cancelled' : 'requested';
    return (await this.get(id)) ? 'finished' : 'unknown';
  }

  /**
   * Takes back running tasks whose owner stopped renewing the lease (it died
   * or lost the database). A cancelled-meanwhile task ends as cancelled; the
   * rest go back to the queue to resume from their checkpoint, until their
   * `maxAttempts`-th lease loss, when they fail rather than crash-loop.
   */
  async reapExpired(maxAttempts: number, now = Date.now()): Promise<number> {
    let n = 0;
    for (const t of await selectExpiredTasks(this.store, now)) {
      // Crashes only: claims after a park or a shutdown do not count.
      const leaseLosses = t.lease_losses + 1;
      const cancelled = t.cancel_requested === 1;
      const owner = t.lease_owner ?? '?';
      n +=
        cancelled || leaseLosses >= maxAttempts
          ? await takeBackExpiredTask(this.store, t.id, now, {
              status: cancelled ? 'cancelled' : 'failed',
              leaseLosses,
              error: `its process (${owner}) stopped renewing the lease`,
            })
          : await takeBackExpiredTask(this.store, t.id, now, {
              status: 'queued',
              leaseLosses,
              error: `requeued: its process (${owner}) stopped renewing the lease`,
            });
    }
    return n;
  }
}
