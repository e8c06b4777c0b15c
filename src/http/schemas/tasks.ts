import { Type, type Static } from 'typebox';
import { TASK_STATUSES, type TaskRow } from '../../tasks/task-store.js';
import { iso, nullable } from './common.js';

const Time = nullable(Type.String({ format: 'date-time' }));

export const TaskItem = Type.Object({
  task_id: Type.String(),
  source: Type.String(),
  status: Type.Enum([...TASK_STATUSES]),
  full: Type.Boolean({ description: 'Started with ?full=true: ignores the saved checkpoint' }),
  trigger: Type.String({ description: 'api or schedule' }),
  attempts: Type.Integer({ description: 'Claims so far; a task interrupted by a crash or shutdown is claimed again' }),
  cancel_requested: Type.Boolean(),
  progress: Type.Object({
    pages: Type.Integer(),
    records_fetched: Type.Integer(),
    records_written: Type.Integer({ description: 'Fetched records that changed the store' }),
    total_estimate: nullable(Type.Integer({ description: "Upstream's own count, when it gives one" })),
    percent: nullable(Type.Number({ description: 'records_fetched / total_estimate, when known' })),
    overall: Type.Object(
      {
        records_fetched: Type.Integer(),
        records_written: Type.Integer(),
        pages: Type.Integer(),
        runs: Type.Integer({ description: 'This run and the interrupted runs it resumed from' }),
      },
      {
        description:
          'The sync as a whole: this run plus the earlier runs of the same source that were cancelled or failed and that this one resumed from (a new run starts its own counters at 0). For a fresh run, its own figures and runs = 1.',
      },
    ),
  }),
  error: nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Time,
  heartbeat_at: Time,
  finished_at: Time,
  run_after: Type.String({ format: 'date-time', description: 'A queued task is not started before this (a parked task waits for a rate limit)' }),
});
export type TaskItemT = Static<typeof TaskItem>;

export function toTaskItem(t: TaskRow): TaskItemT {
  const percent = t.total_estimate && t.total_estimate > 0 ? Math.min(100, Math.round((t.records_fetched / t.total_estimate) * 1000) / 10) : null;
  return {
    task_id: t.id,
    source: t.source,
    status: t.status as TaskItemT['status'],
    full: t.full_sync === 1,
    trigger: t.trigger,
    attempts: t.attempts,
    cancel_requested: t.cancel_requested === 1,
    progress: {
      pages: t.pages,
      records_fetched: t.records_fetched,
      records_written: t.records_written,
      total_estimate: t.total_estimate,
      percent: t.status === 'succeeded' ? 100 : percent,
      overall: {
        records_fetched: Number(t.earlier_fetched) + t.records_fetched,
        records_written: Number(t.earlier_written) + t.records_written,
        pages: Number(t.earlier_pages) + t.pages,
        runs: Number(t.earlier_runs) + 1,
      },
    },
    error: t.error,
    created_at: iso(t.created_at) as string,
    started_at: iso(t.started_at),
    heartbeat_at: iso(t.heartbeat_at),
    finished_at: iso(t.finished_at),
    run_after: iso(t.run_after) as string,
  };
}

export const SyncAccepted = Type.Object({
  task_id: Type.String(),
  source: Type.String(),
  status: Type.Enum([...TASK_STATUSES]),
  full: Type.Boolean(),
  task_url: Type.String({ description: 'Where to follow the task' }),
});
