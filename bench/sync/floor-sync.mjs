// The sync floor (issue 16): the least a sync of the same upstream does. It
// fetches the same pages as the service's connector, from the same fake, with
// the same HTTP client (undici, a keep-alive Agent), JSON.parses them, and
// upserts each page's rows in one transaction into SQLite (WAL,
// synchronous=FULL, the service's records table and indexes); nothing else:
// no validation, mapping beyond the columns, checkpoints, task rows, counters,
// metrics or logs. The next page is asked for before a page is stored, as the
// connectors do. Plain JavaScript, so no loader runs in it.
//
// Environment: FLOOR_SYNC_KIND hubspot | mailchimp | mailchimp-members, FLOOR_SYNC_URL (the
// fake's base URL), FLOOR_SYNC_CREDENTIAL, FLOOR_DB (SQLite file),
// FLOOR_SCHEMA full | lean. Prints one JSON line at the end: records, pages,
// seconds, cpuUs (this process, user + system, over the loop), peakRssBytes.
import { hash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { openFloorDatabase } from '../floor-store.mjs';

const kind = process.env.FLOOR_SYNC_KIND ?? '';
const base = process.env.FLOOR_SYNC_URL ?? '';
const credential = process.env.FLOOR_SYNC_CREDENTIAL ?? '';
const db = openFloorDatabase(process.env.FLOOR_DB ?? 'floor-sync.db', process.env.FLOOR_SCHEMA || 'full');

const upsert =
  db.prepare(`insert into records (type, external_id, source, sender_id, name, email, status, attributes, content_hash, source_updated_at, created_at, updated_at)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  on conflict (type, external_id) do update set sender_id = excluded.sender_id, name = excluded.name, email = excluded.email, status = excluded.status,
    attributes = excluded.attributes, content_hash = excluded.content_hash, source_updated_at = excluded.source_updated_at, updated_at = excluded.updated_at
  where records.content_hash <> excluded.content_hash`);
/** One page's rows, [type, external_id, source, sender_id, name, email, status, attributes], in one transaction. */
const storePage = db.transaction((rows) => {
  const now = Date.now();
  for (const r of rows) upsert.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], hash('sha256', r[7], 'base64url'), r[8], now, now);
});

// As the service's source client: one keep-alive pool, as many connections as the connector's concurrency.
const agent = new Agent({ connections: kind === 'hubspot' ? 4 : 10, maxResponseSize: 64 * 1024 * 1024 });
const headers = {
  accept: 'application/json',
  'user-agent': 'tributary-floor',
  authorization: kind === 'hubspot' ? `Bearer ${credential}` : `Basic ${Buffer.from(`tributary:${credential}`).toString('base64')}`,
};

async function getJson(path, query) {
  const url = `${base}${path}${query ? `?${new URLSearchParams(query)}` : ''}`;
  const res = await request(url, { headers, dispatcher: agent });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} on ${url.slice(0, 200)}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

let records = 0;
let pages = 0;

// ------------------------------------------------------------------ HubSpot contacts, every property

/** The same `properties` the connector sends (properties.ts, merges.ts): the mapped ones first, cut at 15,000 URL characters. */
const MAPPED = ['email', 'firstname', 'lastname', 'phone', 'company', 'lifecyclestage', 'createdate', 'lastmodifieddate'];
function propertyChunks(defined) {
  const names = [...new Set([...[...new Set([...MAPPED, ...defined])].sort(), 'hs_merged_object_ids'])];
  const ordered = [...names.filter((n) => MAPPED.includes(n)), ...names.filter((n) => !MAPPED.includes(n))];
  const chunks = [];
  let current = [];
  let length = 0;
  for (const name of ordered) {
    const cost = encodeURIComponent(name).length + (current.length > 0 ? 3 : 0);
    if (current.length > 0 && length + cost > 15_000) {
      chunks.push(current);
      current = [];
      length = 0;
    }
    current.push(name);
    length += current.length === 1 ? encodeURIComponent(name).length : cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

async function hubspotPage(chunks, after) {
  const parts = await Promise.all(
    chunks.map((names) => getJson('/crm/v3/objects/contacts', { limit: '100', ...(after ? { after } : {}), properties: names.join(','), archived: 'false' })),
  );
  const [first, ...rest] = parts;
  for (const part of rest) {
    const byId = new Map(part.results.map((c) => [c.id, c]));
    for (const c of first.results) Object.assign(c.properties, byId.get(c.id)?.properties);
  }
  return first;
}

async function hubspot() {
  const defined = (await getJson('/crm/v3/properties/contacts')).results.filter((p) => p.archived !== true).map((p) => p.name);
  const chunks = propertyChunks(defined);
  let next = hubspotPage(chunks, null);
  while (next) {
    const page = await next;
    const after = page.paging?.next?.after;
    next = after ? hubspotPage(chunks, after) : null;
    const rows = page.results.map((c) => {
      const p = c.properties;
      const name = [p.firstname, p.lastname].filter((s) => typeof s === 'string' && s !== '').join(' ');
      const modified = Date.parse(p.lastmodifieddate ?? '');
      return ['customer', c.id, 'crm', Number(c.id), name || null, p.email ?? null, null, JSON.stringify(p), Number.isFinite(modified) ? modified : null];
    });
    storePage(rows);
    records += rows.length;
    pages++;
  }
}

// ------------------------------------------------------------------ Mailchimp campaigns

const CAMPAIGN_PAGE = 1000;

function campaignPage(offset) {
  return getJson('/campaigns', { count: String(CAMPAIGN_PAGE), offset: String(offset), sort_dir: 'ASC', sort_field: 'create_time' });
}

async function mailchimpCampaigns() {
  let offset = 0;
  let next = campaignPage(0);
  while (next) {
    const page = await next;
    offset += page.campaigns.length;
    next = page.campaigns.length > 0 && offset < page.total_items ? campaignPage(offset) : null;
    const rows = page.campaigns.map((c) => [
      'campaign',
      c.id,
      'marketing',
      typeof c.web_id === 'number' ? c.web_id : null,
      c.settings?.title || c.settings?.subject_line || null,
      null,
      c.status ?? null,
      JSON.stringify(c),
      null,
    ]);
    storePage(rows);
    records += rows.length;
    pages++;
  }
}

// ------------------------------------------------------------------ Mailchimp members

const MEMBER_PAGE = 1000;

/** The same listing the connector asks for (member-sync.ts): oldest change first, bounded by the walk's start, links left out. */
function memberPage(listId, listing, before, offset) {
  return getJson(`/lists/${encodeURIComponent(listId)}/members`, {
    count: String(MEMBER_PAGE),
    offset: String(offset),
    sort_field: 'last_changed',
    sort_dir: 'ASC',
    before_last_changed: before,
    ...(listing === 'archived' ? { status: 'archived' } : {}),
    exclude_fields: 'members._links,_links',
  });
}

/** Every audience's members: its default listing, then its archived members (which the default leaves out). */
async function mailchimpMembers() {
  const lists = [];
  for (let offset = 0; ;) {
    const page = await getJson('/lists', { count: String(MEMBER_PAGE), offset: String(offset), fields: 'lists.id,total_items' });
    lists.push(...page.lists.map((l) => l.id));
    offset += page.lists.length;
    if (page.lists.length === 0 || offset >= page.total_items) break;
  }
  for (const listId of lists) {
    const before = new Date().toISOString();
    for (const listing of ['default', 'archived']) {
      let offset = 0;
      let next = memberPage(listId, listing, before, 0);
      while (next) {
        const page = await next;
        offset += page.members.length;
        next = page.members.length > 0 && offset < page.total_items ? memberPage(listId, listing, before, offset) : null;
        const rows = page.members.map((m) => {
          const name = [m.merge_fields?.FNAME, m.merge_fields?.LNAME].filter((s) => typeof s === 'string' && s !== '').join(' ');
          const changed = Date.parse(m.last_changed ?? '');
          return [
            'customer',
            `${listId}:${m.id}`,
            'marketing',
            null,
            name || m.full_name || null,
            m.email_address ?? null,
            m.status ?? null,
            JSON.stringify(m),
            Number.isFinite(changed) ? changed : null,
          ];
        });
        storePage(rows);
        records += rows.length;
        pages++;
      }
    }
  }
}

const WALKS = { hubspot, mailchimp: mailchimpCampaigns, 'mailchimp-members': mailchimpMembers };

const walk = WALKS[kind];
if (!walk) throw new Error(`FLOOR_SYNC_KIND: no floor for "${kind}" (${Object.keys(WALKS).join(', ')})`);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await walk();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await agent.close();
db.close();
process.stdout.write(`${JSON.stringify({ records, pages, seconds, cpuUs: cpu.user + cpu.system, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
