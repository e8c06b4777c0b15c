/**
 * The fake Mailchimp's GET /campaigns: filters, sorting and count/offset
 * paging over the generated set, plus Mailchimp's `fields` /
 * `exclude_fields` projections.
 *
 * The usual incremental query (filter and sort on create_time) is answered by
 * binary search and offset arithmetic, so a deep offset into a million
 * campaigns costs the page size. Anything else scans, refused above
 * SCAN_LIMIT rather than left to time out.
 */
import { firstIndex } from '../../../sandbox/generated-data.js';
import { lowerBound, type Campaign, type MailchimpState } from './campaigns.js';

export const LIST_MAX_COUNT = 1000;
export const LIST_DEFAULT_COUNT = 10;
export const SCAN_LIMIT = 200_000;

export interface CampaignListQuery {
  count: number;
  offset: number;
  /** Epoch ms bounds, all exclusive ("created after", "created before"). */
  sinceCreateTime?: number;
  beforeCreateTime?: number;
  sinceSendTime?: number;
  beforeSendTime?: number;
  status?: ReadonlySet<string>;
  type?: string;
  listId?: string;
  sortField: 'create_time' | 'send_time';
  descending: boolean;
}

export interface CampaignPage {
  campaigns: Campaign[];
  total: number;
}

/** A 400 for a query this fake will not answer. */
export class ListError extends Error {}

export function listCampaigns(state: MailchimpState, query: CampaignListQuery): CampaignPage {
  const onlyCreateTime =
    query.sinceSendTime === undefined &&
    query.beforeSendTime === undefined &&
    query.status === undefined &&
    query.type === undefined &&
    query.listId === undefined &&
    query.sortField === 'create_time';
  return onlyCreateTime ? createTimeWindow(state, query) : scan(state, query);
}

function createTimeWindow(state: MailchimpState, query: CampaignListQuery): CampaignPage {
  const n = state.baseCount;
  const { sinceCreateTime: since, beforeCreateTime: before } = query;
  const lo = since === undefined ? 0 : firstIndex(n, (i) => state.createTimeAt(i) > since);
  const hi = Math.max(lo, before === undefined ? n : firstIndex(n, (i) => state.createTimeAt(i) >= before));
  const allHoles = state.deletedIndices();
  const holes = allHoles.slice(lowerBound(allHoles, lo), lowerBound(allHoles, hi));
  const baseLength = hi - lo - holes.length;
  // Created campaigns are stamped after every generated one, so they follow the base in create_time order.
  const created = state.createdCampaigns().filter((c) => inWindow(Date.parse(c.create_time), since, before));
  const total = baseLength + created.length;

  const at = (position: number): Campaign => {
    if (position >= baseLength) return created[position - baseLength] as Campaign;
    let index = lo + position;
    for (const hole of holes) {
      if (hole <= index) index += 1;
      else break;
    }
    return state.current(index);
  };

  const campaigns: Campaign[] = [];
  for (let p = query.offset; p < Math.min(total, query.offset + query.count); p += 1) {
    campaigns.push(at(query.descending ? total - 1 - p : p));
  }
  return { campaigns, total };
}

function scan(state: MailchimpState, query: CampaignListQuery): CampaignPage {
  const all = state.size;
  if (all > SCAN_LIMIT) {
    throw new ListError(
      `fake-mailchimp: this query needs a scan of ${all} campaigns; with more than ${SCAN_LIMIT} only create_time filters ` +
        'and sort_field=create_time are supported.',
    );
  }
  const hits: Array<{ campaign: Campaign; position: number }> = [];
  const consider = (campaign: Campaign) => {
    if (keeps(campaign, query)) hits.push({ campaign, position: hits.length });
  };
  const holes = new Set(state.deletedIndices());
  for (let i = 0; i < state.baseCount; i += 1) if (!holes.has(i)) consider(state.current(i));
  for (const c of state.createdCampaigns()) consider(c);

  const key = (c: Campaign) => {
    const text = c[query.sortField];
    return text === '' ? Number.POSITIVE_INFINITY : Date.parse(text); // unsent last
  };
  hits.sort((a, b) => key(a.campaign) - key(b.campaign) || a.position - b.position);
  if (query.descending) hits.reverse();
  return {
    campaigns: hits.slice(query.offset, query.offset + query.count).map((h) => h.campaign),
    total: hits.length,
  };
}

function keeps(c: Campaign, q: CampaignListQuery): boolean {
  if (q.status && !q.status.has(c.status)) return false;
  if (q.type !== undefined && c.type !== q.type) return false;
  if (q.listId !== undefined && c.recipients.list_id !== q.listId) return false;
  if (!inWindow(Date.parse(c.create_time), q.sinceCreateTime, q.beforeCreateTime)) return false;
  if (q.sinceSendTime !== undefined || q.beforeSendTime !== undefined) {
    if (c.send_time === '' || c.status !== 'sent') return false;
    if (!inWindow(Date.parse(c.send_time), q.sinceSendTime, q.beforeSendTime)) return false;
  }
  return true;
}

function inWindow(ms: number, since: number | undefined, before: number | undefined): boolean {
  return (since === undefined || ms > since) && (before === undefined || ms < before);
}

/**
 * Mailchimp's `fields` / `exclude_fields`: comma-separated dot paths
 * (`campaigns.id,campaigns.settings.title,total_items`); arrays are
 * looked through, so `campaigns.id` applies to every campaign.
 */
export function projectFields(value: unknown, fields: string[] | null, excludeFields: string[] | null): unknown {
  let out = value;
  if (fields) out = keepPaths(out, pathTree(fields));
  if (excludeFields) out = dropPaths(out, pathTree(excludeFields));
  return out;
}

interface PathTree {
  [key: string]: PathTree | true;
}

function pathTree(paths: string[]): PathTree {
  // No prototype: a `fields=__proto__...` path must stay an ordinary key.
  const root = Object.create(null) as PathTree;
  for (const path of paths) {
    const parts = path.split('.').filter((p) => p !== '');
    let node = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) node[part] = true;
      else {
        const child = node[part];
        if (child === true) return; // a shorter path already keeps the whole subtree
        node = node[part] = child ?? (Object.create(null) as PathTree);
      }
    });
  }
  return root;
}

function keepPaths(value: unknown, tree: PathTree): unknown {
  if (Array.isArray(value)) return value.map((v) => keepPaths(v, tree));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(tree)) {
    if (!(key in value)) continue;
    out[key] = sub === true ? value[key] : keepPaths(value[key], sub);
  }
  return out;
}

function dropPaths(value: unknown, tree: PathTree): unknown {
  if (Array.isArray(value)) return value.map((v) => dropPaths(v, tree));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const sub = tree[key];
    if (sub === true) continue;
    out[key] = sub === undefined ? v : dropPaths(v, sub);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
