import type { Logger } from 'pino';
import type { TSchema } from 'typebox';
import type { ReconcileWrite, RecordType, RecordWrite } from '../domain/records.js';

/** One page of upstream records, with the checkpoint to resume after it. */
export interface SyncPage<C = unknown> {
  records: RecordWrite[];
  /** Saved with the page in one transaction; the next run starts from it. */
  checkpoint: C;
  /** Upstream's count of what this run will fetch, when it says (for progress). */
  totalEstimate?: number | null;
  /** Upstream requests this page took (for progress and tests). */
  requests?: number;
  /**
   * On every page of a walk that lists every record the source has (or
   * every one under `idPrefix`): the runner keeps its records' ids in the
   * store as seen (`first`: the walk's first page, which forgets an earlier
   * walk's). On its `last` page, stored live records of the source that it
   * did not see are candidates for deletion, checked with `confirmGone`
   * before they become tombstones (for an upstream that has no list of what
   * it deleted).
   */
  walk?: CompleteWalk;
}

/** A page's place in a walk of every record (SyncPage.walk). */
export interface CompleteWalk {
  /** The type the walk lists, when not the connector's `recordType` (a source of both types). */
  recordType?: RecordType;
  /** The walk lists only the records whose external_id starts with this (one part of the source, such as one audience). */
  idPrefix?: string;
  first?: boolean;
  last?: boolean;
}

/** What upstream says about records a complete walk did not see. */
export interface GoneCheck {
  /** Upstream no longer has these: they become tombstones. */
  gone: string[];
  /** Still there (the walk missed them, e.g. when a deletion shifted the offsets): written as usual. */
  present: RecordWrite[];
}

export interface SyncContext<C = unknown> {
  /** Aborted on cancel or shutdown: abort the in-flight request and stop. */
  signal: AbortSignal;
  /**
   * The last committed checkpoint, already checked against the connector's
   * `checkpointSchema` by the runner; null for a first load.
   */
  checkpoint: C | null;
  full: boolean;
  log: Logger;
}

/**
 * A source the sync engine can run. `pages` yields pages in order; the runner
 * commits each (records + checkpoint + progress) while the connector's next
 * requests (`RequestsAhead`) are out.
 */
export interface SourceConnector<C = unknown> {
  readonly name: string;
  readonly recordType: RecordType;
  /** Every type the source writes, when more than `recordType` (Mailchimp: campaigns and audience members). */
  readonly recordTypes?: readonly RecordType[];
  /**
   * The shape of this connector's checkpoint (a TypeBox schema of `C`). A
   * stored checkpoint that does not match (saved by another release, or
   * damaged) starts a first load instead of reaching `pages`.
   */
  readonly checkpointSchema: TSchema;
  /** The environment variable(s) to set before this source can sync, or null when ready. */
  missingConfiguration(): string | null;
  pages(ctx: SyncContext<C>): AsyncIterable<SyncPage<C>>;
  /** Asks upstream about each id (stored, but not seen by a complete walk). */
  confirmGone?(ids: readonly string[], ctx: SyncContext<C>, recordType?: RecordType): Promise<GoneCheck>;
  /** Merges a fetched record with its stored version before it is written (a webhook's newer values kept). */
  readonly reconcile?: ReconcileWrite;
  close?(): Promise<void>;
}
