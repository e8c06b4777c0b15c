/** The API's shapes, as the console reads them (see /openapi.json). */

export type TaskStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Counters {
  records_fetched: number;
  records_written: number;
  pages: number;
}

export interface Task {
  task_id: string;
  source: string;
  status: TaskStatus;
  full: boolean;
  trigger: string;
  attempts: number;
  cancel_requested: boolean;
  progress: Counters & {
    total_estimate: number | null;
    percent: number | null;
    /** This run and the earlier interrupted runs it resumed from. */
    overall?: Counters & { runs: number };
  };
  error: string | null;
  created_at: string;
  started_at: string | null;
  heartbeat_at: string | null;
  finished_at: string | null;
}

export interface Source {
  name: string;
  provider: string;
  configured: boolean;
  missing: string | null;
  record_types: string[];
  schedule: string | null;
  last_task: Task | null;
}

export type InboxStatus = 'received' | 'processed' | 'failed' | 'duplicate';

export interface Delivery {
  id: number;
  received_at: string;
  source: string;
  route: string;
  status: InboxStatus;
  idempotency_key: string | null;
  duplicate_of: number | null;
  error: string | null;
  response_status: number | null;
  response: unknown;
  headers: Record<string, string>;
  body: string | null;
}

export interface ReplayOutcome {
  id: number;
  status: 'processed' | 'failed';
  error: string | null;
}

export interface StoredRecord {
  type: 'customer' | 'campaign';
  external_id: string;
  source: string;
  id?: number | null;
  name?: string | null;
  email?: string | null;
  status?: string | null;
  budget?: number | null;
  details?: Record<string, unknown> | null;
  attributes: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  source_updated_at: string | null;
  deleted_at: string | null;
}

export interface RecordPage {
  items: StoredRecord[];
  total: number | null;
  total_at_least?: boolean;
  next_cursor: string | null;
}

export interface Stats {
  records: Array<{ type: string; source: string; count: number; deleted: number }>;
  deliveries_per_minute: Array<{ minute: string; processed: number; duplicate: number; failed: number; received: number }>;
  writes_per_minute: Array<{ minute: string; source: string; count: number }>;
  tasks: { queued: number; running: number; failed_last_24h: number };
  dead_letters: number;
  time: string;
}
