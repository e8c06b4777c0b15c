import type { GoneCheck, SourceConnector, SyncContext, SyncPage } from '../../sources/connector.js';
import { createSourceClient, type SourceClient, type SourceClientOptions, type SourceResponse } from '../../sources/http-client.js';
import { UpstreamHttpError } from '../../sources/upstream-errors.js';
import type { RecordWrite } from '../../domain/records.js';
import { hasStringId } from '../../sources/keyed-entries.js';
import { writeFromPrepared } from '../../domain/prepared-write.js';
import type { CampaignPageBody } from './campaign-page.js';
import { CampaignPageDecoder, type DecodedCampaignPage } from './campaign-page-decoder.js';
import { campaignFromMailchimp, type MailchimpCampaign } from './campaign-mapping.js';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Mailchimp's largest page. */
const PAGE_SIZE = 1000;
/** Page requests out at once: Mailchimp allows 10 connections. */
const PAGES_AHEAD = 2;
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
export type MailchimpCheckpoint =
  | { phase: 'list'; since: string | null; offset: number; newestCreated: string | null; startedAt?: string; sentSince?: string | null; total?: number }
  | { phase: 'sent'; sentSince: string; offset: number; newestCreated: string | null; startedAt: string; createdBefore?: string; total?: number }
  | { phase: 'idle'; newestCreated: string | null; lastStartedAt?: string };

/** The sent phase starts this long before the last run began, for clock skew and sends in flight. */
const SENT_LOOKBACK_MS = 5 * 60_000;

export interface MailchimpSourceOptions {
  name: string;
  apiKey: string | undefined;
  baseUrl: string | undefined;
  refetchWindowMs?: number;
  client?: Partial<SourceClientOptions>;
}

function isCheckpoint(v: unknown): v is MailchimpCheckpoint {
  return typeof v === 'object' && v !== null && typeof (v as { phase?: unknown }).phase === 'string';
}

/**
 * marketing = Mailchimp Marketing API 3.0 campaigns, paged by count/offset up
 * to total_items, oldest first so that campaigns created during the walk land
 * after the offset instead of shifting it.
 */
export class MailchimpSource implements SourceConnector {
  readonly recordType = 'campaign' as const;
  readonly name: string;
  private client: SourceClient | null = null;
  private decoder: CampaignPageDecoder | null = null;

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
      // Mailchimp allows 10 simultaneous connections per user.
      concurrency: 10,
      ...this.options.client,
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
    await this.decoder?.close();
    this.decoder = null;
  }

  /** Where a run starts: the saved walk, or a new one from what the last run saw. */
  private startingPoint(checkpoint: unknown): Exclude<MailchimpCheckpoint, { phase: 'idle' }> {
    const saved = isCheckpoint(checkpoint) ? checkpoint : null;
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

  async *pages(ctx: SyncContext): AsyncIterable<SyncPage> {
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
      const seen = phase.phase === 'list' && phase.since === null && phase.offset === 0 ? new Set<string>() : null;
      let newest = phase.newestCreated;
      for await (const step of this.walk(ctx, query, phase.offset, typeof phase.total === 'number' ? phase.total : null)) {
        const page = await step.body;
        if (page.skipped > 0) ctx.log.warn({ skipped: page.skipped }, 'Mailchimp campaigns without an id skipped');
        if (page.newestCreated && (!newest || page.newestCreated > newest)) newest = page.newestCreated;
        const records = page.writes.map(writeFromPrepared);
        const hashed = page.writes.map((w) => w.content);
        for (const r of records) seen?.add(r.external_id);
        if (!step.last) {
          cp = { ...phase, offset: step.nextOffset, newestCreated: newest, total: step.total };
          yield { records, hashed, checkpoint: cp, totalEstimate: step.total };
          continue;
        }
        const sentSince = phase.phase === 'list' ? (phase.sentSince ?? null) : null;
        if (sentSince !== null) {
          // The listing had every campaign created after its `since`: the sent phase needs only the older ones
          // (a second's overlap: both bounds are exclusive, and come back "unchanged").
          const createdBefore = phase.phase === 'list' && phase.since !== null ? new Date(Date.parse(phase.since) + SECOND).toISOString() : undefined;
          cp = { phase: 'sent', sentSince, offset: 0, newestCreated: newest, startedAt, ...(createdBefore ? { createdBefore } : {}) };
          yield { records, hashed, checkpoint: cp, totalEstimate: step.total };
          break;
        }
        yield {
          records,
          hashed,
          checkpoint: { phase: 'idle', newestCreated: newest, lastStartedAt: startedAt },
          totalEstimate: step.total,
          ...(seen ? { complete: { seen } } : {}),
        };
        return;
      }
    }
  }

  /**
   * `GET /campaigns` with `query`, ascending, by offset from `offset` to
   * total_items. The next page is asked for before this one is handed on, so
   * upstream time and ours overlap.
   */
  private async *walk(
    ctx: SyncContext,
    query: Record<string, string | undefined>,
    offset: number,
    /** total_items when the walk was saved at `offset`, for a resumed walk. */
    savedTotal: number | null,
  ): AsyncGenerator<{ body: Promise<CampaignPageBody>; nextOffset: number; last: boolean; total: number }> {
    const decoder = (this.decoder ??= new CampaignPageDecoder());
    const decode = async (text: string): Promise<DecodedCampaignPage> => {
      const decoded = await decoder.decode(text, this.name);
      // A SyntaxError is retried by the client like any body that is not JSON; the decoder's own failures are not.
      if (!decoded.head.ok && decoded.head.reason === 'invalid_json') throw new SyntaxError(decoded.head.message);
      return decoded;
    };
    interface Ahead {
      at: number;
      response: Promise<SourceResponse<DecodedCampaignPage>>;
      stop: AbortController;
    }
    const fetchAt = (at: number): Ahead => {
      ctx.signal.throwIfAborted();
      const stop = new AbortController();
      const response = this.http().request<DecodedCampaignPage>({
        path: '/campaigns',
        query: { count: PAGE_SIZE, offset: at, sort_dir: 'ASC', ...query },
        signal: AbortSignal.any([ctx.signal, stop.signal]),
        decode,
      });
      // Awaited in turn, or dropped; until then a rejection (an abort) is not unhandled.
      response.catch(() => {});
      return { at, response, stop };
    };
    const ahead: Ahead[] = [fetchAt(offset)];
    const dropAhead = () => {
      for (const a of ahead.splice(0)) a.stop.abort();
    };
    let prevTotal: number | null = savedTotal;
    try {
      for (;;) {
        // The head only: the campaigns are still being prepared on the decoder's thread.
        const { head, body } = (await (ahead.shift() as Ahead).response).body;
        if (!head.ok) throw new Error(head.message);
        // total_items fell: campaigns were deleted since the last page, and as many campaigns behind
        // `offset` slid back over it unseen. Step back over them (the overlap comes back "unchanged").
        const dropped = prevTotal !== null && head.total < prevTotal ? prevTotal - head.total : 0;
        prevTotal = head.total;
        const nextOffset: number = dropped > 0 ? Math.max(0, offset - dropped) : offset + head.count;
        const last = dropped === 0 && (head.count === 0 || nextOffset >= head.total);
        if (last) {
          dropAhead();
          yield { body, nextOffset, last, total: head.total };
          return;
        }
        // Pages asked for ahead assumed pages as long as this one and no deletions: kept only if that held.
        if (ahead.length > 0 && (ahead[0] as Ahead).at !== nextOffset) dropAhead();
        // The walk is not over, so the next page is always asked for (even
        // past a total that fell to nothing: its empty answer ends the walk).
        if (ahead.length === 0) ahead.push(fetchAt(nextOffset));
        // A page takes about as long to arrive as to prepare and store, so
        // PAGES_AHEAD are asked for at once, never past the total upstream gave.
        const stride = head.count > 0 ? head.count : PAGE_SIZE;
        let at = (ahead[ahead.length - 1] as Ahead).at + stride;
        while (ahead.length < PAGES_AHEAD && at < head.total) {
          ahead.push(fetchAt(at));
          at += stride;
        }
        // On the wire before the caller works on this page.
        await nextTurn();
        yield { body, nextOffset, last, total: head.total };
        offset = nextOffset;
      }
    } finally {
      dropAhead();
    }
  }

  /** GET /campaigns/{id} for each: a 404 means deleted; a campaign still there is written as usual. */
  async confirmGone(ids: readonly string[], ctx: SyncContext): Promise<GoneCheck> {
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
}
