import type { RecordWrite } from '../../domain/records.js';
import { hasStringId } from '../../sources/keyed-entries.js';
import { campaignFromMailchimp, type MailchimpCampaign } from './campaign-mapping.js';

/** A `GET /campaigns` page as the walk reads it. */
export interface CampaignPage {
  /** total_items: what the walk pages up to. */
  total: number;
  /** Entries in the page, with or without an id (paging counts them all). */
  count: number;
  records: RecordWrite[];
  /** Entries without an id, left out. */
  skipped: number;
  /** The newest create_time among the page's campaigns. */
  newestCreated: string | null;
}

/** Checks the shape of a parsed `GET /campaigns` page and maps its campaigns; throws on a page without campaigns or total_items. */
export function readCampaignPage(body: unknown, source: string): CampaignPage {
  const p = body as { campaigns?: unknown; total_items?: unknown } | null;
  if (typeof p !== 'object' || p === null || !Array.isArray(p.campaigns) || typeof p.total_items !== 'number') {
    throw new Error('Mailchimp campaigns page has no campaigns array or total_items');
  }
  const records: RecordWrite[] = [];
  let skipped = 0;
  let newestCreated: string | null = null;
  for (const entry of p.campaigns as unknown[]) {
    if (!hasStringId(entry)) {
      skipped++;
      continue;
    }
    const campaign = entry as MailchimpCampaign;
    if (campaign.create_time && (!newestCreated || campaign.create_time > newestCreated)) newestCreated = campaign.create_time;
    records.push(campaignFromMailchimp(campaign, source));
  }
  return { total: p.total_items, count: p.campaigns.length, records, skipped, newestCreated };
}
