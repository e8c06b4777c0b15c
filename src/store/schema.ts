import type { ColumnType, Generated } from 'kysely';

/**
 * Table types for Kysely. Times are integer milliseconds since the epoch in
 * both engines (BIGINT), so ordering, cursors and comparisons are the same
 * everywhere; the HTTP layer renders them as ISO 8601.
 * JSON columns are written as strings (TEXT in SQLite, json in PostgreSQL)
 * and read back through `dialect.decodeJson`.
 */
type Json = ColumnType<unknown, string, string>;
type NullableJson = ColumnType<unknown, string | null, string | null>;

export interface RecordsTable {
  row_id: Generated<number>;
  type: string;
  external_id: string;
  source: string;
  sender_id: number | null;
  name: string | null;
  email: string | null;
  status: string | null;
  budget: number | null;
  details: NullableJson;
  attributes: Json;
  content_hash: string;
  /** The sender's own `updated_at`, used only by the out-of-order guard. */
  source_updated_at: number | null;
  created_at: number;
  /** When Tributary last changed the row: the change-feed clock. */
  updated_at: number;
  deleted_at: number | null;
}

export interface RecordCountsTable {
  type: string;
  source: string;
  deleted: number;
  n: number;
}

export interface WebhookInboxTable {
  id: Generated<number>;
  received_at: number;
  route: string;
  /** Unique among first copies; NULL on duplicate rows, which point at their first copy instead. */
  idempotency_key: string | null;
  headers: Json;
  body: string;
  /** received, processed, failed (a dead letter) or duplicate */
  status: string;
  /** On a duplicate: the id of the first copy of its key. */
  duplicate_of: number | null;
  response_status: number | null;
  response: NullableJson;
  error: string | null;
}

export interface TasksTable {
  id: string;
  source: string;
  /** queued, running, succeeded, failed, cancelled */
  status: string;
  full_sync: number;
  /** api or schedule */
  trigger: string;
  attempts: Generated<number>;
  /** Times the lease lapsed and the task was taken back (TASK_MAX_ATTEMPTS bounds it). */
  lease_losses: Generated<number>;
  cancel_requested: Generated<number>;
  lease_owner: string | null;
  lease_expires_at: number | null;
  /** Not claimed before this time (ms): a parked or rescheduled task waits here. */
  run_after: number;
  pages: Generated<number>;
  records_fetched: Generated<number>;
  records_written: Generated<number>;
  total_estimate: number | null;
  error: string | null;
  created_at: number;
  started_at: number | null;
  heartbeat_at: number | null;
  finished_at: number | null;
  /** Runs this task resumed from (cancelled or failed ones of the same source), and what they had done: set when it is first claimed. */
  earlier_runs: Generated<number>;
  earlier_pages: Generated<number>;
  earlier_fetched: Generated<number>;
  earlier_written: Generated<number>;
}

export interface SyncStateTable {
  source: string;
  checkpoint: NullableJson;
  updated_at: number;
  last_success_at: number | null;
}

/** What a provider keeps across restarts (a rotated refresh token, its portal), by provider and key. */
export interface ProviderStateTable {
  provider: string;
  key: string;
  value: string;
  updated_at: number;
}

/** Inbox rows by status (dead letters: `failed`), kept with every inbox write. */
export interface InboxCountsTable {
  status: string;
  n: number;
}

/** Deliveries by the minute (ms, start of the minute) they were received, and their status now. */
export interface DeliveryMinutesTable {
  minute: number;
  status: string;
  n: number;
}

/** Records written (created, changed or deleted) by minute of the write and source. */
export interface WriteMinutesTable {
  minute: number;
  source: string;
  n: number;
}

/** The ids a complete walk has listed so far (migration 011), by source and walk. */
export interface WalkSeenTable {
  source: string;
  walk: string;
  external_id: string;
}

export interface Database {
  records: RecordsTable;
  record_counts: RecordCountsTable;
  webhook_inbox: WebhookInboxTable;
  tasks: TasksTable;
  sync_state: SyncStateTable;
  provider_state: ProviderStateTable;
  inbox_counts: InboxCountsTable;
  delivery_minutes: DeliveryMinutesTable;
  write_minutes: WriteMinutesTable;
  walk_seen: WalkSeenTable;
}
