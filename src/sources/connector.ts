import type { Logger } from 'pino';
import type { HashedContent, RecordType, RecordWrite } from '../domain/records.js';

/** One page of upstream records, with the checkpoint to resume after it. */
export interface SyncPage {
  records: RecordWrite[];
  /**
   * When given: `records` are storable already (storableWrite), and these
   * are their hashed contents, in the same order (prepared off the event loop).
   */
  hashed?: readonly HashedContent[];
  /** Saved with the page in one transaction; the next run starts from it. */
  checkpoint: unknown;
  /** Upstream's count of what this run will fetch, when it says (for progress). */
  totalEstimate?: number | null;
  /** Upstream requests this page took (for progress and tests). */
  requests?: number;
  /**
   * On the last page of a walk that listed every record the source has: the
   * ids it saw. Stored live records of the source that are not among them are
   * candidates for deletion, checked with `confirmGone` before they become
   * tombstones (for an upstream that has no list of what it deleted).
   */
  complete?: { seen: ReadonlySet<string> };
}

/** What upstream says about records a complete walk did not see. */
export interface GoneCheck {
  /** Upstream no longer has these: they become tombstones. */
  gone: string[];
  /** Still there (the walk missed them, e.g. when a deletion shifted the offsets): written as usual. */
  present: RecordWrite[];
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
  /** Asks upstream about each id (stored, but not seen by a complete walk). */
  confirmGone?(ids: readonly string[], ctx: SyncContext): Promise<GoneCheck>;
  close?(): Promise<void>;
}
