import type { GoneCheck, SourceConnector, SyncContext, SyncPage } from '../connector.js';
import { createSourceClient, type SourceClient, type SourceClientOptions } from '../http-client.js';
import { UpstreamHttpError } from '../upstream-errors.js';
import type { RecordWrite } from '../../domain/records.js';
import { campaignFromMailchimp, type MailchimpCampaign } from './campaign-mapping.js';

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
 * - list: walking `GET /campaigns` oldest first from `since` (null: all) by offset;
 * - idle: between runs; `newestCreated` is the newest create_time seen.
 */
export type MailchimpCheckpoint =
  | { phase: 'list'; since: string | null; offset: number; newestCreated: string | null }
  | { phase: 'idle'; newestCreated: string | null };

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

  async *pages(ctx: SyncContext): AsyncIterable<SyncPage> {
    const saved = isCheckpoint(ctx.checkpoint) ? ctx.checkpoint : null;
    let cp: Extract<MailchimpCheckpoint, { phase: 'list' }>;
    if (saved?.phase === 'list') {
      cp = saved;
    } else if (saved?.phase === 'idle') {
      const window = Date.now() - (this.options.refetchWindowMs ?? DEFAULT_REFETCH_WINDOW_MS);
      // since_create_time means "created after", and create_time has whole seconds: a campaign
      // created later in the same second as the newest one seen would be left out for good.
      // So start a second earlier; the campaigns of that second come back as "unchanged".
      const newest = saved.newestCreated ? Date.parse(saved.newestCreated) - SECOND : Number.NaN;
      const from = Number.isFinite(newest) ? Math.min(window, newest) : window;
      cp = { phase: 'list', since: new Date(from).toISOString(), offset: 0, newestCreated: saved.newestCreated };
    } else {
      cp = { phase: 'list', since: null, offset: 0, newestCreated: null };
    }
    const fetchAt = (at: typeof cp) => {
      ctx.signal.throwIfAborted();
      const p = this.http().request<CampaignPage>({
        path: '/campaigns',
        query: { count: PAGE_SIZE, offset: at.offset, sort_field: 'create_time', sort_dir: 'ASC', since_create_time: at.since ?? undefined },
        signal: ctx.signal,
      });
      // Awaited on the next turn of the loop; until then a rejection is not unhandled.
      p.catch(() => {});
      return p;
    };
    // A walk of every campaign from the first one, started in this run, can tell
    // which stored campaigns Mailchimp no longer has (it keeps no list of deletions).
    const seen = cp.since === null && cp.offset === 0 ? new Set<string>() : null;
    let inFlight = fetchAt(cp);
    for (;;) {
      const page = (await inFlight).body;
      if (typeof page !== 'object' || page === null || !Array.isArray(page.campaigns) || typeof page.total_items !== 'number') {
        throw new Error('Mailchimp campaigns page has no campaigns array or total_items');
      }
      let newest: string | null = cp.newestCreated;
      for (const c of page.campaigns) if (c.create_time && (!newest || c.create_time > newest)) newest = c.create_time;
      const offset: number = cp.offset + page.campaigns.length;
      const last = page.campaigns.length === 0 || offset >= page.total_items;
      const next = { ...cp, offset, newestCreated: newest };
      // The next page is asked for before this one is mapped: upstream time and ours overlap.
      if (!last) {
        inFlight = fetchAt(next);
        // Let the request reach the socket before mapping holds the thread for milliseconds.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const records = page.campaigns.map((c) => campaignFromMailchimp(c, this.name));
      for (const r of records) seen?.add(r.external_id);
      if (last) {
        yield { records, checkpoint: { phase: 'idle', newestCreated: newest }, totalEstimate: page.total_items, ...(seen ? { complete: { seen } } : {}) };
        return;
      }
      cp = next;
      yield { records, checkpoint: cp, totalEstimate: page.total_items };
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
