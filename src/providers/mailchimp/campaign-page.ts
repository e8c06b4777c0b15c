import { prepareWrite, type PreparedWrite } from '../../domain/prepared-write.js';
import { hasStringId } from '../../sources/keyed-entries.js';
import { campaignFromMailchimp, type MailchimpCampaign } from './campaign-mapping.js';

/** What the walk needs of a page to ask for the next one: known as soon as it is parsed. */
export type CampaignPageHead = { ok: true; total: number; count: number } | { ok: false; reason: 'invalid_json' | 'shape'; message: string };

/** The rest, made ready for the store. */
export interface CampaignPageBody {
  writes: PreparedWrite[];
  /** Entries without an id, left out (paging still counts them). */
  skipped: number;
  /** The newest create_time among the page's campaigns. */
  newestCreated: string | null;
}

/** Parses a `GET /campaigns` page and checks its shape. */
export function readCampaignPage(text: string): { head: CampaignPageHead; campaigns: unknown[] } {
  let page: unknown;
  try {
    page = text.trim() === '' ? null : JSON.parse(text);
  } catch (err) {
    return { head: { ok: false, reason: 'invalid_json', message: err instanceof Error ? err.message : String(err) }, campaigns: [] };
  }
  const p = page as { campaigns?: unknown; total_items?: unknown } | null;
  if (typeof p !== 'object' || p === null || !Array.isArray(p.campaigns) || typeof p.total_items !== 'number') {
    return { head: { ok: false, reason: 'shape', message: 'Mailchimp campaigns page has no campaigns array or total_items' }, campaigns: [] };
  }
  return { head: { ok: true, total: p.total_items, count: p.campaigns.length }, campaigns: p.campaigns };
}

/** Maps, cleans and hashes the campaigns of a page, one at a time. */
export class CampaignPageBuilder {
  private readonly writes: PreparedWrite[] = [];
  private skipped = 0;
  private newestCreated: string | null = null;

  constructor(private readonly source: string) {}

  add(entry: unknown): void {
    if (!hasStringId(entry)) {
      this.skipped++;
      return;
    }
    const campaign = entry as MailchimpCampaign;
    if (campaign.create_time && (!this.newestCreated || campaign.create_time > this.newestCreated)) this.newestCreated = campaign.create_time;
    this.writes.push(prepareWrite(campaignFromMailchimp(campaign, this.source)));
  }

  result(): CampaignPageBody {
    return { writes: this.writes, skipped: this.skipped, newestCreated: this.newestCreated };
  }
}
