/** The reads of the console routes (GET /sources, /stats, /events) that are not counters. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { ACTIVE_STATUSES, type TaskRow } from './task-statements.js';

/** Queued and running tasks, and those finished since `finishedSince` (ms): what the event feed watches. */
export async function tasksToWatch(db: Kysely<Database>, finishedSince: number): Promise<TaskRow[]> {
  const active = await db.selectFrom('tasks').selectAll().where('status', 'in', ACTIVE_STATUSES).execute();
  const finished = await db.selectFrom('tasks').selectAll().where('finished_at', '>=', finishedSince).where('status', 'not in', ACTIVE_STATUSES).execute();
  return [...active, ...finished];
}

/** The newest task of each source, by source. */
export async function lastTasks(db: Kysely<Database>, sources: readonly string[]): Promise<Map<string, TaskRow>> {
  const out = new Map<string, TaskRow>();
  for (const source of sources) {
    const row = await db
      .selectFrom('tasks')
      .selectAll()
      .where('source', '=', source)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (row) out.set(source, row);
  }
  return out;
}

/** Queued and running tasks, and tasks that failed since `failedSince` (ms). */
export async function taskCounts(db: Kysely<Database>, failedSince: number): Promise<{ queued: number; running: number; failed: number }> {
  const active = await db
    .selectFrom('tasks')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', ACTIVE_STATUSES)
    .groupBy('status')
    .execute();
  const failed = await db
    .selectFrom('tasks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('finished_at', '>=', failedSince)
    .where('status', '=', 'failed')
    .executeTakeFirst();
  const n = (status: string) => Number(active.find((r) => r.status === status)?.n ?? 0);
  return { queued: n('queued'), running: n('running'), failed: Number(failed?.n ?? 0) };
}

export interface DeadLetter {
  id: number;
  route: string;
  error: string | null;
  receivedAt: number;
}

const deadLetterOf = (r: { id: number | string | bigint; route: string; error: string | null; received_at: number | string | bigint }): DeadLetter => ({
  id: Number(r.id),
  route: r.route,
  error: r.error,
  receivedAt: Number(r.received_at),
});

/** Dead letters with an id above `afterId`, oldest first (the (status, id) index). */
export async function deadLettersAfter(db: Kysely<Database>, afterId: number, limit: number): Promise<DeadLetter[]> {
  const rows = await db
    .selectFrom('webhook_inbox')
    .select(['id', 'route', 'error', 'received_at'])
    .where('status', '=', 'failed')
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(deadLetterOf);
}

/** The newest dead letter's id (0: none). */
export async function lastDeadLetterId(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('webhook_inbox')
    .select((eb) => eb.fn.max('id').as('id'))
    .where('status', '=', 'failed')
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/**
 * Ids of inbox rows still `received` below `belowId` (a delivery whose process
 * died before its outcome), oldest first: few or none, from the (status, id) index.
 */
export async function receivedIdsBelow(db: Kysely<Database>, belowId: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('webhook_inbox')
    .select('id')
    .where('status', '=', 'received')
    .where('id', '<=', belowId)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => Number(r.id));
}

/** The rows among `ids` that are dead letters now. */
export async function deadLettersAmong(db: Kysely<Database>, ids: readonly number[]): Promise<DeadLetter[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('webhook_inbox')
    .select(['id', 'route', 'error', 'received_at'])
    .where('status', '=', 'failed')
    .where('id', 'in', ids)
    .orderBy('id')
    .execute();
  return rows.map(deadLetterOf);
}
