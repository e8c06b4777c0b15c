import type { GoneCheck, SourceConnector, SyncContext, SyncPage } from '../connector.js';
import { createSourceClient, type SourceClient, type SourceClientOptions } from '../http-client.js';
import { UpstreamHttpError } from '../upstream-errors.js';
import type { RecordWrite } from '../../domain/records.js';
import { hasStringId, keyedEntries } from '../keyed-entries.js';
import { campaignFromMailchimp, type MailchimpCampaign } from './campaign-mapping.js';
import { requestAhead } from '../request-ahead.js';

/** Mailchimp's largest page. */
const PAGE_SIZE = 1000;
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
 * - sent: walking the campaigns sent after `sentSince`, by send time: an old
 *   draft sent since the last run is outside the created-since window.
 * - idle: between runs; `newestCreated` is the newest create_time seen and
 *   `lastStartedAt` when the last completed run began.
 */
export type MailchimpCheckpoint =
  | { phase: 'list'; since: string | null; offset: number; newestCreated: string | null; startedAt?: string; sentSince?: string | null }
  | { phase: 'sent'; sentSince: string; offset: number; newestCreated: string | null; startedAt: string }
  | { phase: 'idle'; newestCreated: string | null; lastStartedAt?: string };

/** The sent phase starts this long before the last run began, for clock skew and sends in flight. */
const SENT_LOOKBACK_MS = 5 * 60_000;

interface CampaignPage {
  campaigns: MailchimpCampaign[];
  total_items: number;
}

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
      // Mailchimp allows 10 simultaneous connections per user.
      concurrency: 10,
      ...this.options.client,
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  /** Where a run starts: the saved walk, or a new one from what the last run saw. */
  private startingPoint(checkpoint: unknown): Exclude<MailchimpCheckpoint, { phase: 'idle' }> {
    const saved = isCheckpoint(checkpoint) ? checkpoint : null;
    if (saved?.phase === 'list' || saved?.phase === 'sent') return saved;
    const startedAt = new Date().toISOString();
    if (saved?.phase !== 'idle') return { phase: 'list', since: null, offset: 0, newestCreated: null, startedAt, sentSince: null };
    const window = Date.now() - (this.options.refetchWindowMs ?? DEFAULT_REFETCH_WINDOW_MS);
    // since_create_time means "created after", and create_time has whole seconds: a campaign
    // created later in the same second as the newest one seen would be left out for good.
    // So start a second earlier; the campaigns of that second come back as "unchanged".
    const newest = saved.newestCreated ? Date.parse(saved.newestCreated) - SECOND : Number.NaN;
    const from = Number.isFinite(newest) ? Math.min(window, newest) : window;
    const lastStart = saved.lastStartedAt ? Date.parse(saved.lastStartedAt) : Number.NaN;
    const sentSince = new Date(Number.isFinite(lastStart) ? lastStart - SENT_LOOKBACK_MS : window).toISOString();
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
          : { sort_field: 'send_time', since_send_time: phase.sentSince };
      // A walk of every campaign from the first one, started in this run, can tell
      // which stored campaigns Mailchimp no longer has (it keeps no list of deletions).
      const seen = phase.phase === 'list' && phase.since === null && phase.offset === 0 ? new Set<string>() : null;
      let newest = phase.newestCreated;
      for await (const step of this.walk(ctx, query, phase.offset)) {
        for (const c of step.campaigns) if (c.create_time && (!newest || c.create_time > newest)) newest = c.create_time;
        const records = step.campaigns.map((c) => campaignFromMailchimp(c, this.name));
        for (const r of records) seen?.add(r.external_id);
        if (!step.last) {
          cp = { ...phase, offset: step.nextOffset, newestCreated: newest };
          yield { records, checkpoint: cp, totalEstimate: step.total };
          continue;
        }
        const sentSince = phase.phase === 'list' ? (phase.sentSince ?? null) : null;
        if (sentSince !== null) {
          cp = { phase: 'sent', sentSince, offset: 0, newestCreated: newest, startedAt };
          yield { records, checkpoint: cp, totalEstimate: step.total };
          break;
        }
        yield {
          records,
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
  ): AsyncGenerator<{ campaigns: MailchimpCampaign[]; nextOffset: number; last: boolean; total: number }> {
    const fetchAt = (at: number) => {
      ctx.signal.throwIfAborted();
      return this.http().request<CampaignPage>({
        path: '/campaigns',
        query: { count: PAGE_SIZE, offset: at, sort_dir: 'ASC', ...query },
        signal: ctx.signal,
      });
    };
    let inFlight = fetchAt(offset);
    let prevTotal: number | null = null;
    for (;;) {
      const page = (await inFlight).body;
      if (typeof page !== 'object' || page === null || !Array.isArray(page.campaigns) || typeof page.total_items !== 'number') {
        throw new Error('Mailchimp campaigns page has no campaigns array or total_items');
      }
      // total_items fell: campaigns were deleted since the last page, and as many campaigns behind
      // `offset` slid back over it unseen. Step back over them (the overlap comes back "unchanged").
      const dropped = prevTotal !== null && page.total_items < prevTotal ? prevTotal - page.total_items : 0;
      prevTotal = page.total_items;
      const nextOffset: number = dropped > 0 ? Math.max(0, offset - dropped) : offset + page.campaigns.length;
      const last = dropped === 0 && (page.campaigns.length === 0 || nextOffset >= page.total_items);
      if (!last) inFlight = (await requestAhead(() => fetchAt(nextOffset))).response;
      yield { campaigns: keyedEntries<MailchimpCampaign>(page.campaigns, ctx.log, 'Mailchimp campaigns'), nextOffset, last, total: page.total_items };
      if (last) return;
      offset = nextOffset;
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
