import type { Static } from 'typebox';
import type { RecordItemT, WriteResultItem } from './records.js';
import type { TaskItemT } from './tasks.js';

/**
 * One real-looking item per answer, for the OpenAPI document: the seed
 * customer and campaign as a webhook stores them, and a task of the
 * declared source of examples/sources.example.yaml.
 */

const STORED_AT = '2026-12-01T09:30:00.000Z';

export const CUSTOMER_EXAMPLE: RecordItemT = {
  type: 'customer',
  external_id: 'cust_12345',
  source: 'webhook',
  id: 1,
  name: 'John Doe',
  email: 'john.doe@example.com',
  attributes: {},
  created_at: STORED_AT,
  updated_at: STORED_AT,
  source_updated_at: null,
  deleted_at: null,
};

export const CAMPAIGN_EXAMPLE: RecordItemT = {
  type: 'campaign',
  external_id: 'camp_67890',
  source: 'webhook',
  id: 1,
  name: 'Winter Sale',
  status: 'active',
  budget: 5000,
  details: { discount: '20%', start_date: '2026-12-01', end_date: '2026-12-31' },
  attributes: {},
  created_at: STORED_AT,
  updated_at: STORED_AT,
  source_updated_at: null,
  deleted_at: null,
};

export const WRITE_RESULT_EXAMPLE: Static<typeof WriteResultItem> = { type: 'customer', external_id: 'cust_12345', result: 'created' };

/** A well-formed task id (tasks are named by UUIDs); no task has it. */
export const TASK_ID_EXAMPLE = '3f9a7c1e-5b2d-4e8f-9a6c-0d1e2f3a4b5c';

export const TASK_EXAMPLE: TaskItemT = {
  task_id: TASK_ID_EXAMPLE,
  source: 'acme',
  status: 'succeeded',
  full: false,
  trigger: 'api',
  attempts: 1,
  cancel_requested: false,
  progress: {
    pages: 3,
    records_fetched: 250,
    records_written: 250,
    total_estimate: 250,
    percent: 100,
    overall: { records_fetched: 250, records_written: 250, pages: 3, runs: 1 },
  },
  error: null,
  created_at: '2026-12-01T09:31:00.000Z',
  started_at: '2026-12-01T09:31:00.050Z',
  heartbeat_at: '2026-12-01T09:31:01.050Z',
  finished_at: '2026-12-01T09:31:02.400Z',
  run_after: '2026-12-01T09:31:00.000Z',
};

export const CANCELLED_TASK_EXAMPLE: TaskItemT = {
  ...TASK_EXAMPLE,
  status: 'cancelled',
  cancel_requested: true,
  progress: {
    pages: 1,
    records_fetched: 100,
    records_written: 100,
    total_estimate: 250,
    percent: 40,
    overall: { records_fetched: 100, records_written: 100, pages: 1, runs: 1 },
  },
  finished_at: '2026-12-01T09:31:00.900Z',
};

export const STOPPING_TASK_EXAMPLE: TaskItemT = {
  ...CANCELLED_TASK_EXAMPLE,
  status: 'running',
  error: null,
  finished_at: null,
};
