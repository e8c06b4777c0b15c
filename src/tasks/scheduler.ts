import type { Logger } from 'pino';
import type { TaskRunner } from './runner.js';
import type { TaskStore } from './task-store.js';

/**
 * SYNC_INTERVAL_<SOURCE>: queues a sync of the source when its last task is
 * older than the interval. Deciding from the newest task in the store (not a
 * local timer) keeps several processes on one database from multiplying the
 * rate, and the one-active-per-source index means a schedule never starts a
 * second run while one is queued or running.
 */
export class SyncScheduler {
  private timer: NodeJS.Timeout | null = null;
  /** The check under way, if any: stop() waits for it, so none queues after the store closes. */
  private checking: Promise<void> | null = null;

  constructor(
    private readonly intervals: Readonly<Record<string, number>>,
    private readonly tasks: TaskStore,
    private readonly runner: TaskRunner,
    private readonly log: Logger,
  ) {}

  start(): void {
    const sources = Object.keys(this.intervals);
    if (sources.length === 0) return;
    const shortest = Math.min(...Object.values(this.intervals));
    const every = Math.max(250, Math.min(shortest / 4, 30_000));
    const tick = () => {
      if (this.checking) return; // a slow check is not overlapped by the next
      const checking: Promise<void> = this.check()
        .catch((err: unknown) => this.log.error({ err }, 'schedule check failed; will try again'))
        .finally(() => {
          if (this.checking === checking) this.checking = null;
        });
      this.checking = checking;
    };
    tick();
    this.timer = setInterval(tick, every);
    this.log.info({ schedules: this.intervals }, 'sync schedules active');
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  async check(now = Date.now()): Promise<void> {
    for (const [source, interval] of Object.entries(this.intervals)) {
      const task = await this.tasks.enqueueIfDue(source, interval, now);
      if (task) {
        this.log.info({ source, task: task.id }, 'scheduled sync queued');
        this.runner.wake();
      }
    }
  }
}
