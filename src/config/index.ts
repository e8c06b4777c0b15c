/**
 * The service's configuration: every variable is declared once in a section
 * table (the service's in core.ts, each provider's in its own folder), read
 * from the environment by that table, and documented from it
 * (docs/configuration.md). src/config.ts puts the two together.
 */
import { checkHeartbeat, serviceSection, taskSection, webhookSection, type DatabaseConfig, type UpstreamLimits } from './core.js';
import { readSection, type Env, type Section, type Table } from './variables.js';

export { ConfigError, parseDuration, type Env } from './variables.js';
export { parseDatabaseUrl } from './core.js';
export type { DatabaseConfig, UpstreamLimits };

/**
 * Each provider's settings, by provider name. Empty here: each provider adds
 * its entry (declaration merging) in its own config.ts, so the service core
 * names none of them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProviderSettings {}

export interface Config extends ServiceConfig {
  readonly providers: ProviderSettings;
}

/** The variables of the service itself. */
export interface ServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly database: DatabaseConfig;
  /** STORE_LOCK_WAIT: how long a write waits for another connection's write lock (ms). */
  readonly storeLockWaitMs: number;
  /** Bearer keys accepted on protected routes; empty means the API is open. */
  readonly apiKeys: readonly string[];
  /** AUTH_FAILURE_LIMIT: failed key checks per client address per window; null is no limit. */
  readonly authFailureLimit: { readonly max: number; readonly windowMs: number } | null;
  /** MAX_CONNECTIONS: open client connections at once, before the open-file limit lowers it. */
  readonly maxConnections: number;
  /** PAGE_MAX_BYTES: stored bytes of the items of one listing page. */
  readonly pageMaxBytes: number;
  /** Standard Webhooks secrets (`whsec_…`); several allow rotation. Empty means unsigned webhooks are taken. */
  readonly webhookSecrets: readonly string[];
  /** PUBLIC_URL: the origin webhook senders call; null rebuilds it from the request's headers. */
  readonly publicUrl: string | null;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly maxRecordsPerDelivery: number;
  /** Group commit: how long the writer waits to gather concurrent webhook writes, and how many records make a batch full. */
  readonly writerMaxDelayMs: number;
  readonly writerMaxBatchRecords: number;
  /** WRITER_MAX_QUEUED_BYTES: webhook bodies waiting for the store at once; past it, 503. */
  readonly writerMaxQueuedBytes: number;
  /** Background tasks: lease length, heartbeat (also how fast a cancel is seen), queue poll, parallel tasks per process. */
  readonly tasks: {
    readonly leaseMs: number;
    readonly heartbeatMs: number;
    readonly pollMs: number;
    readonly maxConcurrent: number;
    /** TASK_MAX_ATTEMPTS: lease losses (a dead process) and store faults past the page retries after which a task fails. */
    readonly maxAttempts: number;
  };
  /** SYNC_INTERVAL_<SOURCE>: run that source's sync on this interval (ms), by source name in lower case. */
  readonly syncIntervals: Readonly<Record<string, number>>;
  /** WEBHOOK_RETENTION: processed and duplicate inbox rows older than this are deleted (ms). */
  readonly webhookRetentionMs: number;
  /** WEBHOOK_FAILED_RETENTION: dead letters older than this are deleted (ms); null keeps them until replayed. */
  readonly webhookFailedRetentionMs: number | null;
  /** WEBHOOK_RATE_LIMIT: requests per client over the webhook routes; null is no limit. */
  readonly webhookRateLimit: { readonly max: number; readonly windowMs: number } | null;
  /** REQUEST_TIMEOUT: a request (headers and body) must arrive within this (ms). */
  readonly requestTimeoutMs: number;
  /**
   * TRUST_PROXY: which peers' X-Forwarded-For names the client (its IP is
   * what the webhook rate limit counts): false (none), true (any), a number
   * of proxy hops, or addresses and CIDR ranges.
   */
  readonly trustProxy: boolean | number | readonly string[];
  /** CORS_ORIGINS: browser origins allowed to call the API ('*' for any); null answers no cross-origin request. */
  readonly corsOrigins: '*' | readonly string[] | null;
}

/** The service's sections, in the order the docs list them. */
export const SERVICE_SECTIONS: readonly Section<Table>[] = [serviceSection, webhookSection, taskSection];

/** Reads and checks the service's variables; a bad value throws a one-line ConfigError naming its variable. */
export function loadServiceConfig(env: Env = process.env): ServiceConfig {
  const service = readSection(serviceSection, env);
  const webhooks = readSection(webhookSection, env);
  const tasks = readSection(taskSection, env);
  checkHeartbeat(tasks.leaseMs, tasks.heartbeatMs);
  const rate = webhooks.webhookRateLimit;
  const authFailures = service.authFailureLimit;
  return Object.freeze({
    host: service.host,
    port: service.port,
    database: service.database,
    storeLockWaitMs: service.storeLockWaitMs,
    apiKeys: service.apiKeys,
    authFailureLimit: authFailures && Object.freeze({ max: authFailures.requests, windowMs: authFailures.perMs }),
    maxConnections: service.maxConnections,
    pageMaxBytes: service.pageMaxBytes,
    webhookSecrets: webhooks.webhookSecrets,
    publicUrl: webhooks.publicUrl,
    logLevel: service.logLevel,
    bodyLimitBytes: service.bodyLimitBytes,
    maxRecordsPerDelivery: webhooks.maxRecordsPerDelivery,
    writerMaxDelayMs: webhooks.writerMaxDelayMs,
    writerMaxBatchRecords: webhooks.writerMaxBatchRecords,
    writerMaxQueuedBytes: webhooks.writerMaxQueuedBytes,
    tasks: Object.freeze({
      leaseMs: tasks.leaseMs,
      heartbeatMs: tasks.heartbeatMs,
      pollMs: tasks.pollMs,
      maxConcurrent: tasks.maxConcurrent,
      maxAttempts: tasks.maxAttempts,
    }),
    syncIntervals: tasks.syncIntervals,
    webhookRetentionMs: webhooks.webhookRetentionMs,
    webhookFailedRetentionMs: webhooks.webhookFailedRetentionMs,
    webhookRateLimit: rate && Object.freeze({ max: rate.requests, windowMs: rate.perMs }),
    requestTimeoutMs: service.requestTimeoutMs,
    trustProxy: service.trustProxy,
    corsOrigins: service.corsOrigins,
  });
}
