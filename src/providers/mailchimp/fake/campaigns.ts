/**
 * The fake Mailchimp's campaigns: a generated base of N campaigns computed
 * from their index, plus an overlay of what tests changed (updated, deleted,
 * created). Like the HubSpot fake, a million campaigns cost memory only for
 * the ones touched.
 */
import { TOPICS, Timeline, isoSeconds, mix, pick, seedNumber } from '../../../sandbox/generated-data.js';
import { RequestLog } from '../../../sandbox/request-log.js';
import type { Link } from './links.js';

/** Mailchimp's campaign statuses, canceled, canceling and archived included. */
export type CampaignStatus = 'save' | 'paused' | 'schedule' | 'sending' | 'sent' | 'canceled' | 'canceling' | 'archived';

export interface CampaignSettings {
  subject_line: string;
  preview_text: string;
  title: string;
  from_name: string;
  reply_to: string;
  use_conversation: boolean;
  to_name: string;
  folder_id: string;
  authenticate: boolean;
  auto_footer: boolean;
  inline_css: boolean;
  auto_tweet: boolean;
  fb_comments: boolean;
  timewarp: boolean;
  template_id: number;
  drag_and_drop: boolean;
}

export interface CampaignRecipients {
  list_id: string;
  list_is_active: boolean;
  list_name: string;
  segment_text: string;
  recipient_count: number;
}

export interface CampaignReportSummary {
  opens: number;
  unique_opens: number;
  open_rate: number;
  clicks: number;
  subscriber_clicks: number;
  click_rate: number;
  ecommerce: { total_orders: number; total_spent: number; total_revenue: number };
}

/** A campaign as Mailchimp Marketing API 3.0 returns it. */
export interface Campaign {
  id: string;
  web_id: number;
  parent_campaign_id: string;
  type: 'regular' | 'plaintext' | 'absplit' | 'rss' | 'variate';
  create_time: string;
  archive_url: string;
  long_archive_url: string;
  status: CampaignStatus;
  emails_sent: number;
  /** '' until sent (or scheduled). */
  send_time: string;
  content_type: 'template' | 'html' | 'url' | 'multichannel';
  needs_block_refresh: boolean;
  resendable: boolean;
  recipients: CampaignRecipients;
  settings: CampaignSettings;
  tracking: {
    opens: boolean;
    html_clicks: boolean;
    text_clicks: boolean;
    goal_tracking: boolean;
    ecomm360: boolean;
    google_analytics: string;
    clicktale: string;
  };
  /** Only on campaigns that were sent. */
  report_summary?: CampaignReportSummary;
  delivery_status: { enabled: boolean };
  _links: Link[];
}

/** What updateCampaign may change: top-level fields and parts of the nested objects. `id`, `web_id` and `create_time` stay. */
export type CampaignPatch = Partial<Omit<Campaign, 'id' | 'web_id' | 'create_time' | 'settings' | 'recipients' | 'report_summary'>> & {
  settings?: Partial<CampaignSettings>;
  recipients?: Partial<CampaignRecipients>;
  report_summary?: Partial<CampaignReportSummary>;
};

export interface CampaignSetOptions {
  /** Campaigns that exist at start (default 12); generated on demand, so 1,000,000 costs no memory. */
  campaigns?: number;
  /** Varies ids and content; the same seed serves the same data (default 'tributary'). */
  seed?: string | number;
  /** create_time of the first campaign, epoch ms (default 2023-01-01T00:00:00Z). */
  startTime?: number;
  /** Time between consecutive campaigns' create_time, ms (default 60,000; Mailchimp shows whole seconds). */
  stepMs?: number;
  /** Consecutive campaigns sharing one create_time (default 1: all distinct). */
  tieGroup?: number;
  /** Clock for mutations (default Date.now). */
  now?: () => number;
}

/** 10-hex-digit ids as a bijection of the index, so an id maps back to its campaign without a table. */
const ID_SPACE = 1n << 40n;
const ID_MULTIPLIER = 0x9e3779b97n; // odd, hence invertible modulo 2^40
const ID_INVERSE = inverseModPow2(ID_MULTIPLIER);

export class MailchimpState {
  /** Requests the server received; inspect and clear from tests. */
  readonly requests: RequestLog;
  readonly baseCount: number;
  readonly timeline: Timeline;
  private readonly seed: number;
  private readonly idOffset: bigint;
  private readonly listId: string;
  private readonly now: () => number;
  private lastStamp = 0;
  private readonly overrides = new Map<number, Campaign>();
  /** Deleted base indices, ascending (a hole in the generated sequence). */
  private readonly holes: number[] = [];
  private created: Campaign[] = [];
  private nextIndex: number;

  constructor(options: CampaignSetOptions = {}, requests = new RequestLog()) {
    this.baseCount = options.campaigns ?? 12;
    if (!Number.isInteger(this.baseCount) || this.baseCount < 0) throw new RangeError('campaigns must be an integer >= 0');
    this.seed = seedNumber(options.seed ?? 'tributary');
    this.idOffset = BigInt(this.seed);
    this.listId = hex(mix(this.seed, 0, 7), 10);
    this.timeline = new Timeline(options.startTime ?? Date.UTC(2023, 0, 1), options.stepMs ?? 60_000, options.tieGroup ?? 1);
    this.now = options.now ?? Date.now;
    this.nextIndex = this.baseCount;
    this.requests = requests;
  }

  // ---- what tests use -------------------------------------------------------

  /** Campaigns that exist now. */
  get size(): number {
    return this.baseCount - this.holes.length + this.created.length;
  }

  /** One campaign; a copy, so changing it changes nothing here. */
  getCampaign(id: string): Campaign | undefined {
    const c = this.find(id);
    return c && structuredClone(c);
  }

  /** A new draft ('save') campaign created now; `patch` sets any other field. */
  createCampaign(patch: CampaignPatch = {}): Campaign {
    const index = this.nextIndex++;
    // After every generated campaign, so creation order and create_time order agree.
    const stamp = Math.max(this.stamp(), this.baseCount > 0 ? this.timeline.at(this.baseCount - 1) + 1000 : 0);
    this.lastStamp = stamp;
    const campaign = this.generate(index, stamp, 'save');
    applyPatch(campaign, patch);
    this.created.push(campaign);
    return structuredClone(campaign);
  }

  /** Change fields (a deep merge of settings, recipients, report_summary). Throws for an unknown id. */
  updateCampaign(id: string, patch: CampaignPatch): Campaign {
    const campaign = this.mutable(id);
    applyPatch(campaign, patch);
    return structuredClone(campaign);
  }

  /** Mark a campaign sent now: status 'sent', send_time, emails_sent and a report_summary. */
  sendCampaign(id: string, options: { emailsSent?: number; sendTime?: number } = {}): Campaign {
    const campaign = this.mutable(id);
    const emails = options.emailsSent ?? campaign.recipients.recipient_count;
    campaign.status = 'sent';
    campaign.send_time = isoSeconds(options.sendTime ?? this.stamp());
    campaign.emails_sent = emails;
    campaign.resendable = true;
    campaign.report_summary = reportFor(emails, mix(this.seed, Number(this.indexOf(id) ?? 0), 3));
    return structuredClone(campaign);
  }

  /** Delete for good (Mailchimp has no soft delete): gone from lists, 404 on reads. */
  deleteCampaign(id: string): void {
    const index = this.indexOf(id);
    if (index === undefined || !this.find(id)) throw new Error(`no campaign with id ${id}`);
    if (index < this.baseCount) {
      this.overrides.delete(index);
      this.holes.splice(lowerBound(this.holes, index), 0, index);
    } else {
      this.created = this.created.filter((c) => c.id !== id);
    }
  }

  // ---- what the server uses -------------------------------------------------

  /** The campaign at position `index` of the generated set, as it is now. */
  current(index: number): Campaign {
    return this.overrides.get(index) ?? this.generate(index, this.timeline.at(index));
  }

  /** Create time of generated campaign `index` as shown (whole seconds), epoch ms. */
  createTimeAt(index: number): number {
    return Math.floor(this.timeline.at(index) / 1000) * 1000;
  }

  /** Deleted generated indices, ascending. */
  deletedIndices(): readonly number[] {
    return this.holes;
  }

  /** Created campaigns, oldest first. */
  createdCampaigns(): readonly Campaign[] {
    return this.created;
  }

  find(id: string): Campaign | undefined {
    const index = this.indexOf(id);
    if (index === undefined) return undefined;
    if (index < this.baseCount) return isHole(this.holes, index) ? undefined : this.current(index);
    return this.created.find((c) => c.id === id);
  }

  idAt(index: number): string {
    const value = ((BigInt(index) + 1n) * ID_MULTIPLIER + this.idOffset) % ID_SPACE;
    return value.toString(16).padStart(10, '0');
  }

  indexOf(id: string): number | undefined {
    if (!/^[0-9a-f]{10}$/.test(id)) return undefined;
    const k = ((((BigInt(`0x${id}`) - this.idOffset) % ID_SPACE) + ID_SPACE) * ID_INVERSE) % ID_SPACE;
    const index = Number(k) - 1;
    return index >= 0 && index < this.nextIndex ? index : undefined;
  }

  private mutable(id: string): Campaign {
    const index = this.indexOf(id);
    const campaign = this.find(id);
    if (index === undefined || !campaign) throw new Error(`no campaign with id ${id}`);
    if (index < this.baseCount && !this.overrides.has(index)) this.overrides.set(index, campaign);
    return campaign;
  }

  private generate(index: number, createMs: number, forcedStatus?: CampaignStatus): Campaign {
    const h = mix(this.seed, index);
    const id = this.idAt(index);
    const webId = 100_000 + index;
    const roll = h % 10;
    const status: CampaignStatus = forcedStatus ?? (roll === 0 ? 'save' : roll === 1 ? 'schedule' : 'sent');
    const recipients = 200 + (h % 4_800);
    const sendMs = status === 'sent' ? createMs + (h % 48) * 3_600_000 : status === 'schedule' ? createMs + 7 * 86_400_000 : 0;
    const topic = pick(TOPICS, h >>> 8);
    return {
      id,
      web_id: webId,
      parent_campaign_id: '',
      type: 'regular',
      create_time: isoSeconds(createMs),
      archive_url: `http://eepurl.com/fake${id}`,
      long_archive_url: `https://us6.campaign-archive.com/?u=${this.listId}&id=${id}`,
      status,
      emails_sent: status === 'sent' ? recipients : 0,
      send_time: sendMs === 0 ? '' : isoSeconds(sendMs),
      content_type: 'template',
      needs_block_refresh: false,
      resendable: status === 'sent',
      recipients: {
        list_id: this.listId,
        list_is_active: true,
        list_name: 'Tributary Newsletter',
        segment_text: '',
        recipient_count: recipients,
      },
      settings: {
        subject_line: `${topic} #${webId}`,
        preview_text: `What is new in ${topic.toLowerCase()}`,
        title: `${topic} ${index + 1}`,
        from_name: 'Tributary Demo',
        reply_to: 'hello@example.com',
        use_conversation: false,
        to_name: '*|FNAME|*',
        folder_id: '',
        authenticate: true,
        auto_footer: false,
        inline_css: false,
        auto_tweet: false,
        fb_comments: true,
        timewarp: false,
        template_id: 10_000 + (h % 100),
        drag_and_drop: true,
      },
      tracking: {
        opens: true,
        html_clicks: true,
        text_clicks: false,
        goal_tracking: false,
        ecomm360: false,
        google_analytics: '',
        clicktale: '',
      },
      ...(status === 'sent' ? { report_summary: reportFor(recipients, mix(this.seed, index, 3)) } : {}),
      delivery_status: { enabled: false },
      // Added as the server answers, unless excluded (most of a campaign's size; see links.ts).
      _links: [],
    };
  }

  private stamp(): number {
    this.lastStamp = Math.max(this.now(), this.lastStamp);
    return this.lastStamp;
  }
}

function reportFor(emailsSent: number, h: number): CampaignReportSummary {
  const uniqueOpens = Math.floor((emailsSent * (15 + (h % 35))) / 100);
  const subscriberClicks = Math.floor((uniqueOpens * (5 + ((h >>> 8) % 25))) / 100);
  return {
    opens: uniqueOpens + (h % 97),
    unique_opens: uniqueOpens,
    open_rate: emailsSent === 0 ? 0 : uniqueOpens / emailsSent,
    clicks: subscriberClicks + ((h >>> 4) % 31),
    subscriber_clicks: subscriberClicks,
    click_rate: emailsSent === 0 ? 0 : subscriberClicks / emailsSent,
    ecommerce: { total_orders: 0, total_spent: 0, total_revenue: 0 },
  };
}

function applyPatch(campaign: Campaign, patch: CampaignPatch): void {
  const { settings, recipients, report_summary, ...top } = patch;
  Object.assign(campaign, top);
  if (settings) Object.assign(campaign.settings, settings);
  if (recipients) Object.assign(campaign.recipients, recipients);
  if (report_summary) campaign.report_summary = { ...reportFor(0, 0), ...campaign.report_summary, ...report_summary };
}

function inverseModPow2(a: bigint): bigint {
  // Newton's iteration doubles the correct low bits each round: 3 -> 6 -> 12 -> 24 -> 48 >= 40.
  let x = a;
  for (let i = 0; i < 5; i += 1) x = (x * (2n - a * x)) % ID_SPACE;
  return ((x % ID_SPACE) + ID_SPACE) % ID_SPACE;
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0').slice(-width);
}

/** First position in a sorted array whose value is >= `value`. */
export function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isHole(holes: readonly number[], index: number): boolean {
  return holes[lowerBound(holes, index)] === index;
}
