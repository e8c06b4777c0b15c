import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ConfigError, type Config } from './config.js';
import { EventFeed } from './console/event-feed.js';
import { toTaskItem } from './http/schemas/tasks.js';
import { GENERIC_INTAKE, InboxCatalog } from './ingest/inbox-catalog.js';
import { DeliveryPipeline } from './ingest/pipeline.js';
import { InboxReplayer } from './ingest/replay.js';
import { InboxRetention } from './ingest/inbox-retention.js';
import type { Metrics } from './metrics.js';
import { buildConnectors, webhookProviders } from './providers/index.js';
import type { SourceConnector } from './sources/connector.js';
import type { Store } from './store/open-store.js';
import { StoreOutage } from './store/outage.js';
import { providerState } from './store/provider-state.js';
import { StoreReadiness } from './store/readiness.js';
import { TaskRunner } from './tasks/runner.js';
import { SyncScheduler } from './tasks/scheduler.js';
import { TaskStore } from './tasks/task-store.js';

export interface ServicesDeps {
  config: Config;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** The sources /sync can run; the providers' connectors by default. */
  connectors?: ReadonlyMap<string, SourceConnector>;
}

/**
 * What runs behind the routes: the delivery pipeline and inbox replays, the task
 * runner and scheduler, inbox retention. Built together, started once the
 * app is ready, stopped in one place and in a safe order.
 */
export class Services {
  readonly pipeline: DeliveryPipeline;
  readonly catalog: InboxCatalog;
  readonly replayer: InboxReplayer;
  readonly tasks: TaskStore;
  readonly runner: TaskRunner;
  readonly connectors: ReadonlyMap<string, SourceConnector>;
  /** One outage tracker for the store's uses behind the routes and the task runner: one outage, a few log lines. */
  readonly outage: StoreOutage;
  /** What /readyz answers: the last webhook writes and a bounded store probe. */
  readonly readiness: StoreReadiness;
  /** The shared poll of the store behind GET /events. */
  readonly feed: EventFeed;
  private readonly scheduler: SyncScheduler;
  private readonly retention: InboxRetention;

  constructor({ config, store, logger, metrics, connectors }: ServicesDeps) {
    this.outage = new StoreOutage(logger.child({ component: 'store' }), metrics);
    this.readiness = new StoreReadiness(store);
    this.pipeline = new DeliveryPipeline(
      store,
      {
        maxDelayMs: config.writerMaxDelayMs,
        maxBatchRecords: config.writerMaxBatchRecords,
        maxQueuedBytes: config.writerMaxQueuedBytes,
        writes: this.readiness,
      },
      metrics,
      logger,
      this.outage,
    );
    this.catalog = new InboxCatalog([
      GENERIC_INTAKE,
      ...webhookProviders().map((p) => ({ source: p.name, routes: [p.webhook.inboxRoute], handler: p.webhook.handlerFor?.(config) ?? p.webhook.handler })),
    ]);
    this.replayer = new InboxReplayer(store, this.catalog, metrics, logger.child({ component: 'inbox' }), this.outage);
    this.retention = new InboxRetention(
      store,
      { retentionMs: config.webhookRetentionMs, failedRetentionMs: config.webhookFailedRetentionMs, intervalMs: 3_600_000 },
      logger.child({ component: 'inbox-retention' }),
      metrics,
    );
    this.connectors = connectors ?? buildConnectors(config, { state: (provider) => providerState(store, provider) });
    for (const source of Object.keys(config.syncIntervals)) {
      if (!this.connectors.has(source)) {
        throw new ConfigError(`SYNC_INTERVAL_${source.toUpperCase()}`, `names no known source (known: ${[...this.connectors.keys()].join(', ')})`);
      }
    }
    this.tasks = new TaskStore(store);
    this.runner = new TaskRunner(
      store,
      this.tasks,
      this.connectors,
      { owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`, ...config.tasks },
      logger.child({ component: 'tasks' }),
      metrics,
      this.outage,
    );
    this.feed = new EventFeed(store, { taskItem: toTaskItem, log: logger.child({ component: 'events' }) });
    this.scheduler = new SyncScheduler(config.syncIntervals, this.tasks, this.runner, logger.child({ component: 'scheduler' }));
  }

  /** Inbox retention always; the task runner and scheduler unless `runTasks` is false (tests of the queue alone). */
  start(runTasks: boolean): void {
    this.retention.start();
    if (!runTasks) return;
    this.runner.start();
    this.scheduler.start();
  }

  /** Before the server closes: interrupted syncs go back to the queue. */
  async stopBackground(): Promise<void> {
    // Open event streams would keep the server from closing.
    await this.feed.close();
    await this.retention.stop();
    await this.scheduler.stop();
    await this.runner.stop();
    await Promise.all([...this.connectors.values()].map((c) => c.close?.()));
  }

  /** Once no request is in flight: what the pipeline holds is committed. */
  async flush(): Promise<void> {
    await this.pipeline.close();
  }
}
