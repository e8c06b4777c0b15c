import { Type, type Static } from 'typebox';
import type { GoneCheck, SourceConnector, SyncContext, SyncPage } from '../../sources/connector.js';
import { createSourceClient, type SourceClient, type SourceClientOptions } from '../../sources/http-client.js';
import { UpstreamHttpError } from '../../sources/upstream-errors.js';
import type { RecordWrite } from '../../domain/records.js';
import { hasStringId } from '../../sources/keyed-entries.js';
import { RequestsAhead } from '../../sources/requests-ahead.js';
import { readCampaignPage, type CampaignPage } from './campaign-page.js';
import { campaignFromMailchimp, type MailchimpCampaign } from './campaign-mapping.js';
import { memberStateSchema, type MemberState } from './member-checkpoint.js';
import { memberFromMailchimp, type MailchimpMember } from './member-mapping.js';
import { beginMemberWalk, memberPages, type MemberSyncOptions } from './member-sync.js';
import type { RecordType } from '../../domain/records.js';

/** Mailchimp's largest page. */
const PAGE_SIZE = 1000;
/**
 * Page requests kept out while a page is handed on (Mailchimp allows 10
 * connections): a page takes about as long to arrive as to map and store.
 */
const REQUESTS_IN_FLIGHT = 2;
/**
 * Campaigns have no last-modified field, and a campaign's status, emails_sent
 * and report keep changing for a while after it is created. So each
 * incremental run lists everything created since the last run (new ones)
 * and also re-fetches this window of recent ones.
 */
const DEFAULT_REFETCH_WINDOW_MS = 30 * 24 * 3_600_000;
/** Mailchimp's times have whole seconds. */
const SECOND = 1_000;

/**
 * - list: walking `GET /campaigns` oldest first by offset, created after `since`
 *   (null: every campaign). `sentSince`, when set, is where the sent phase
 *   starts once the listing is done.
 * - sent: walking the campaigns sent after `sentSince`, by send time, and
 *   created before `createdBefore` (the listing covered the rest): an old
 *   draft sent since the last run is outside the created-since window.
 *   Both keep `total`, the total_items of the last page, so a walk resumed
 *   after deletions upstream steps back over the campaigns that slid past it.
 * - idle: between runs; `newestCreated` is the newest create_time seen and
 *   `lastStartedAt` when the last completed run began.
 */
const Time = Type.String();
const TimeOrNull = Type.Union([Type.String(), Type.Null()]);
const Offset = Type.Integer({ minimum: 0 });
export const mailchimpCheckpointSchema = Type.Union([
  Type.Object({
    phase: Type.Literal('list'),
    since: TimeOrNull,
    offset: Offset,
    newestCreated: TimeOrNull,
    startedAt: Type.Optional(Time),
    sentSince: Type.Optional(TimeOrNull),
    total: Type.Optional(Type.Number()),
    members: Type.Optional(memberStateSchema),
  }),
  Type.Object({
    phase: Type.Literal('sent'),
    sentSince: Time,
    offset: Offset,
    newestCreated: TimeOrNull,
    startedAt: Time,
    createdBefore: Type.Optional(Time),
    total: Type.Optional(Type.Number()),
    members: Type.Optional(memberStateSchema),
  }),
  // With `members.walk`, the campaigns of this run are done and its member walk is under way.
  Type.Object({ phase: Type.Literal('idle'), newestCreated: TimeOrNull, lastStartedAt: Type.Optional(Time), members: Type.Optional(memberStateSchema) }),
]);
export type MailchimpCheckpoint = Static<typeof mailchimpCheckpointSchema>;

/** The sent phase starts this long before the last run began, for clock skew and sends in flight. */
const SENT_LOOKBACK_MS = 5 * 60_000;

export interface MailchimpSourceOptions {
  name: string;
  apiKey: string | undefined;
  baseUrl: string | undefined;
  refetchWindowMs?: number;
  /** MAILCHIMP_LISTS: the audiences whose members are synced; undefined for all. */
  lists?: readonly string[] | undefined;
  /** MAILCHIMP_FULL_INTERVAL (default 7 days). */
  fullIntervalMs?: number;
  client?: Partial<SourceClientOptions>;
}

const DEFAULT_FULL_INTERVAL_MS = 7 * 24 * 3_600_000;

/**
 * marketing = Mailchimp Marketing API 3.0 campaigns, paged by count/offset up
 * to total_items, oldest first so that campaigns created during the walk land
 * after the offset instead of shifting it; then the members of each audience
 * as customers (member-sync.ts).
 */
export class MailchimpSource implements SourceConnector<MailchimpCheckpoint> {
  readonly recordType = 'campaign' as const;
  readonly recordTypes = ['campaign', 'customer'] as const;
  readonly name: string;
  readonly checkpointSchema = mailchimpCheckpointSchema;
  private client: SourceClient | null = null;

  constructor(private readonly options: MailchimpSourceOptions) {
    this.name = options.name;
  }

  missingConfiguration(): string | null {
    return this.options.apiKey && this.options.baseUrl ? null : 'MAILCHIMP_API_KEY';
  }

  private http(): SourceClient {
    this.client ??= createSourceClient({
      name: this.name,
      baseUrl: this.options.baseUrl ?? '',
      // Basic auth: any user name, the API key as the password.
      headers: { authorization: `Basic ${Buffer.from(`tributary:${this.options.apiKey ?? ''}`).toString('base64')}` },
      secrets: this.options.apiKey ? [this.options.apiKey] : [],
      // Mailchimp allows 10 simultaneous connections per user, shared with every other integration.
      concurrency: 4,
      ...this.options.client,
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  /** Where a run starts: the saved walk, or a new one from what the last run saw. */
  private startingPoint(saved: MailchimpCheckpoint | null): Exclude<MailchimpCheckpoint, { phase: 'idle' }> {
    // A walk of every campaign starts over from the first: only a walk done whole in one run
    // tells which stored campaigns Mailchimp no longer has (the rest come back "unchanged").
    if (saved?.phase === 'list' && saved.since === null && saved.offset > 0) {
      const { total: _total, ...rest } = saved;
      return { ...rest, offset: 0 };
    }
    if (saved?.phase === 'list' || saved?.phase === 'sent') return saved;
    const startedAt = new Date().toISOString();
    if (saved?.phase !== 'idle') return { phase: 'list', since: null, offset: 0, newestCreated: null, startedAt, sentSince: null };
    const window = Date.now() - (this.options.refetchWindowMs ?? DEFAULT_REFETCH_WINDOW_MS);
    // since_create_time means "created after", and create_time has whole seconds: a campaign
    // created later in the same second as the newest one seen would be left out for good.
    // So start a second earlier; the campaigns of that second come back as "unchanged".
    const newest = saved.newestCreated ? Date.parse(saved.newestCreated) - SECOND : Number.NaN;
    const lastStart = saved.lastStartedAt ? Date.parse(saved.lastStartedAt) - SENT_LOOKBACK_MS : Number.NaN;
    // The last run's start too: when it saw no campaign at all, the newest is unknown, and
    // a campaign created between that run and the window's start would never be listed.
    const from = Math.min(window, ...[newest, lastStart].filter(Number.isFinite));
    // Sent since the last run, and every campaign sent within the window: one still
    // `sending` when a run looked (big lists and timewarp sends take hours) must be
    // fetched again once `sent`, though its send_time is before the last run's start.
    const sentSince = new Date(Number.isFinite(lastStart) ? Math.min(lastStart, window) : window).toISOString();
    return { phase: 'list', since: new Date(from).toISOString(), offset: 0, newestCreated: saved.newestCreated, startedAt, sentSince };
  }

  private memberOptions(): MemberSyncOptions {
    return {
      source: this.name,
      http: () => this.http(),
      lists: this.options.lists,
      fullIntervalMs: this.options.fullIntervalMs ?? DEFAULT_FULL_INTERVAL_MS,
    };
  }

  async *pages(ctx: SyncContext<MailchimpCheckpoint>): AsyncIterable<SyncPage<MailchimpCheckpoint>> {
    const saved = ctx.checkpoint;
    let idle: Extract<MailchimpCheckpoint, { phase: 'idle' }> | null = saved?.phase === 'idle' && saved.members?.walk ? saved : null;
    if (!idle) {
      for await (const page of this.campaignPages(ctx)) {
        if (page.checkpoint.phase === 'idle') idle = page.checkpoint;
        yield page;
      }
    }
    const members = idle?.members;
    if (!idle || !members?.walk) return;
    const base = idle;
    for await (const step of memberPages(this.memberOptions(), members, ctx)) {
      yield {
        records: step.records,
        checkpoint: { ...base, members: step.state },
        totalEstimate: step.totalEstimate,
        ...(step.walk ? { walk: step.walk } : {}),
      };
    }
  }

  /** The campaign walk; its last page's checkpoint also begins the member walk. */
  private async *campaignPages(ctx: SyncContext<MailchimpCheckpoint>): AsyncIterable<SyncPage<MailchimpCheckpoint>> {
    const members: MemberState | undefined = ctx.checkpoint?.members;
    const keep = <T extends object>(c: T): T => (members ? { ...c, members } : c);
    let handed = 0;
    let cp = this.startingPoint(ctx.checkpoint);
    const startedAt = cp.startedAt ?? new Date().toISOString();
    for (;;) {
      const phase = cp;
      const query =
        phase.phase === 'list'
          ? { sort_field: 'create_time', since_create_time: phase.since ?? undefined }
          : { sort_field: 'send_time', since_send_time: phase.sentSince, before_create_time: phase.createdBefore };
      // A walk of every campaign from the first one, started in this run, can tell
      // which stored campaigns Mailchimp no longer has (it keeps no list of deletions).
      // Its pages are marked, and the runner keeps their ids in the store until the sweep.
      const complete = phase.phase === 'list' && phase.since === null && phase.offset === 0;
      let first = true;
      let newest = phase.newestCreated;
      for await (const step of this.walk(ctx, query, phase.offset, typeof phase.total === 'number' ? phase.total : null)) {
        const { page } = step;
        if (page.skipped > 0) ctx.log.warn({ skipped: page.skipped }, 'Mailchimp campaigns without an id skipped');
        if (page.newestCreated && (!newest || page.newestCreated > newest)) newest = page.newestCreated;
        const { records } = page;
        const walk = complete ? { first } : undefined;
        first = false;
        if (!step.last) {
          cp = keep({ ...phase, offset: step.nextOffset, newestCreated: newest, total: step.total });
          handed += records.length;
          yield { records, checkpoint: cp, totalEstimate: step.total, ...(walk ? { walk } : {}) };
          continue;
        }
        const sentSince = phase.phase === 'list' ? (phase.sentSince ?? null) : null;
        if (sentSince !== null) {
          // The listing had every campaign created after its `since`: the sent phase needs only the older ones
          // (a second's overlap: both bounds are exclusive, and come back "unchanged").
          const createdBefore = phase.phase === 'list' && phase.since !== null ? new Date(Date.parse(phase.since) + SECOND).toISOString() : undefined;
          cp = keep({ phase: 'sent', sentSince, offset: 0, newestCreated: newest, startedAt, ...(createdBefore ? { createdBefore } : {}) });
          handed += records.length;
          yield { records, checkpoint: cp, totalEstimate: step.total };
          break;
        }
        // The audiences are listed before the campaigns' last page is handed on, so it
        // saves where the member walk starts (or that there is none) with the campaigns.
        const memberState = await beginMemberWalk(this.memberOptions(), members, ctx, handed + records.length);
        yield {
          records,
          checkpoint: { phase: 'idle', newestCreated: newest, lastStartedAt: startedAt, members: memberState },
          totalEstimate: step.total,
          ...(walk ? { walk: { ...walk, last: true } } : {}),
        };
        return;
      }
    }
  }

  /**
   * `GET /campaigns` with `query`, ascending, by offset from `offset` to
   * total_items. The next pages are asked for before this one is handed on,
   * so upstream time and ours overlap.
   */
  private async *walk(
    ctx: SyncContext<MailchimpCheckpoint>,
    query: Record<string, string | undefined>,
    offset: number,
    /** total_items when the walk was saved at `offset`, for a resumed walk. */
    savedTotal: number | null,
  ): AsyncGenerator<{ page: CampaignPage; nextOffset: number; last: boolean; total: number }> {
    const requests = new RequestsAhead<number, CampaignPage>(
      REQUESTS_IN_FLIGHT,
      async (at, signal) => {
        const res = await this.http().request<unknown>({
          path: '/campaigns',
          // The links triple a page's size and are nothing we keep.
          query: { count: PAGE_SIZE, offset: at, sort_dir: 'ASC', exclude_fields: 'campaigns._links,_links', ...query },
          signal,
        });
        return readCampaignPage(res.body, this.name);
      },
      ctx.signal,
      String,
    );
    let prevTotal: number | null = savedTotal;
    try {
      for (;;) {
        const page = await requests.take(offset);
        // total_items fell: campaigns were deleted since the last page, and as many campaigns behind
        // `offset` slid back over it unseen. Step back over them (the overlap comes back "unchanged").
        const dropped = prevTotal !== null && page.total < prevTotal ? prevTotal - page.total : 0;
        prevTotal = page.total;
        const nextOffset: number = dropped > 0 ? Math.max(0, offset - dropped) : offset + page.count;
        const last = dropped === 0 && (page.count === 0 || nextOffset >= page.total);
        if (last) {
          requests.drop();
          yield { page, nextOffset, last, total: page.total };
          return;
        }
        // The walk is not over, so the next page is always asked for (even past a total that
        // fell to nothing: its empty answer ends the walk); the ones after it assume pages as
        // long as this one, never past the total upstream gave. Those asked ahead on another
        // assumption (before a deletion) are dropped.
        const stride = page.count > 0 ? page.count : PAGE_SIZE;
        const next = [nextOffset];
        for (let at = nextOffset + stride; next.length < REQUESTS_IN_FLIGHT && at < page.total; at += stride) next.push(at);
        await requests.ahead(next);
        yield { page, nextOffset, last, total: page.total };
        offset = nextOffset;
      }
    } finally {
      requests.drop();
    }
  }

  /**
   * GET /campaigns/{id} (or /lists/{list_id}/members/{hash} for members) for each:
   * a 404 means deleted; a record still there is written as usual.
   */
  async confirmGone(ids: readonly string[], ctx: SyncContext<MailchimpCheckpoint>, recordType: RecordType = 'campaign'): Promise<GoneCheck> {
    if (recordType === 'customer') return this.confirmMembersGone(ids, ctx);
    const gone: string[] = [];
    const present: RecordWrite[] = [];
    // The client's connection limit (10) paces these.
    await Promise.all(
      ids.map(async (id) => {
        try {
          const res = await this.http().request<MailchimpCampaign>({ path: `/campaigns/${encodeURIComponent(id)}`, signal: ctx.signal });
          if (!hasStringId(res.body)) throw new Error(`Mailchimp GET /campaigns/${id} answered without a campaign`);
          present.push(campaignFromMailchimp(res.body, this.name));
        } catch (err) {
          if (err instanceof UpstreamHttpError && err.status === 404) gone.push(id);
          else throw err;
        }
      }),
    );
    return { gone, present };
  }

  private async confirmMembersGone(keys: readonly string[], ctx: SyncContext<MailchimpCheckpoint>): Promise<GoneCheck> {
    const gone: string[] = [];
    const present: RecordWrite[] = [];
    await Promise.all(
      keys.map(async (key) => {
        const at = key.indexOf(':');
        const listId = key.slice(0, at);
        const hash = key.slice(at + 1);
        try {
          const res = await this.http().request<MailchimpMember>({
            path: `/lists/${encodeURIComponent(listId)}/members/${encodeURIComponent(hash)}`,
            query: { exclude_fields: '_links' },
            signal: ctx.signal,
          });
          if (!hasStringId(res.body)) throw new Error(`Mailchimp GET /lists/${listId}/members/${hash} answered without a member`);
          present.push(memberFromMailchimp(res.body, listId, this.name));
        } catch (err) {
          if (err instanceof UpstreamHttpError && err.status === 404) gone.push(key);
          else throw err;
        }
      }),
    );
    return { gone, present };
  }
}
