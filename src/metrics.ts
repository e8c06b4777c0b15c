import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The service's Prometheus metrics, on a registry of its own (one per app, so tests can build several). */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly recordsWritten: Counter<'type' | 'result'>;
  readonly writerBatchRecords: Histogram;
  readonly writerBatchDeliveries: Histogram;
  readonly storeErrors: Counter<'operation'>;
  readonly storeUnavailable: Counter<'operation'>;
  readonly webhookDuplicates: Counter;
  readonly connectionsRefused: Counter;
  readonly webhookQueueFull: Counter;
  readonly webhookSignatureFailures: Counter<'route'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'tributary_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'tributary_http_request_duration_seconds',
      help: 'Time from request to response, by route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    recordsWritten: new Counter({
      name: 'tributary_records_written_total',
      help: 'Record writes applied to the store, by type and outcome (created, updated, unchanged, stale, deleted)',
      labelNames: ['type', 'result'],
      registers: [registry],
    }),
    writerBatchRecords: new Histogram({
      name: 'tributary_writer_batch_records',
      help: 'Records committed per group-commit transaction',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    }),
    writerBatchDeliveries: new Histogram({
      name: 'tributary_writer_batch_deliveries',
      help: 'Webhook deliveries committed per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    storeErrors: new Counter({
      name: 'tributary_store_errors_total',
      help: 'Store operations that failed, by operation',
      labelNames: ['operation'],
      registers: [registry],
    }),
    storeUnavailable: new Counter({
      name: 'tributary_store_unavailable_total',
      help: 'Store operations that failed for a passing reason (busy, full, read-only, connection lost), answered 503 with Retry-After',
      labelNames: ['operation'],
      registers: [registry],
    }),
    webhookDuplicates: new Counter({
      name: 'tributary_webhook_duplicates_total',
      help: 'Webhook deliveries answered from the idempotency record instead of being written again',
      registers: [registry],
    }),
    connectionsRefused: new Counter({
      name: 'tributary_connections_refused_total',
      help: 'Client connections closed on arrival because MAX_CONNECTIONS were open',
      registers: [registry],
    }),
    webhookQueueFull: new Counter({
      name: 'tributary_webhook_queue_full_total',
      help: 'Webhook deliveries answered 503 because WRITER_MAX_QUEUED_BYTES of bodies were already waiting for the store',
      registers: [registry],
    }),
    webhookSignatureFailures: new Counter({
      name: 'tributary_webhook_signature_failures_total',
      help: 'Webhook requests refused 401 because their signature did not verify, by route',
      labelNames: ['route'],
      registers: [registry],
    }),
  };
}

/** Adds what a write did to tributary_records_written_total: one counter call per (type, result), not per record. */
export function countRecordsWritten(metrics: Metrics | undefined, applied: ReadonlyArray<{ type: string; result: string }>): void {
  if (!metrics) return;
  const tally = new Map<string, { type: string; result: string; n: number }>();
  for (const a of applied) {
    const key = `${a.type}\u0000${a.result}`;
    const t = tally.get(key);
    if (t) t.n++;
    else tally.set(key, { type: a.type, result: a.result, n: 1 });
  }
  for (const t of tally.values()) metrics.recordsWritten.inc({ type: t.type, result: t.result }, t.n);
}
