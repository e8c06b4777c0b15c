import type { Logger } from 'pino';
import type { RecordType, RecordWrite } from '../domain/records.js';

/** One page of upstream records, with the checkpoint to resume after it. */
export interface SyncPage {
  records: RecordWrite[];
  /** Saved with the page in one transaction; the next run starts from it. */
  checkpoint: unknown;
  /** Upstream's count of what this run will fetch, when it says (for progress). */
  totalEstimate?: number | null;
  /** Upstream requests this page took (for progress and tests). */
  requests?: number;
}

export interface SyncContext {
  /** Aborted on cancel or shutdown: abort the in-flight request and stop. */
  signal: AbortSignal;
  /** The last committed checkpoint, or null for a full sync. */
  checkpoint: unknown;
  full: boolean;
  log: Logger;
}

/**
 * A source the sync engine can run. `pages` yields pages in order; the runner
 * commits each (records + checkpoint + progress) while the next is fetched.
 */
export interface SourceConnector {
  readonly name: string;
  readonly recordType: RecordType;
  /** The environment variable(s) to set before this source can sync, or null when ready. */
  missingConfiguration(): string | null;
  pages(ctx: SyncContext): AsyncIterable<SyncPage>;
  close?(): Promise<void>;
}
