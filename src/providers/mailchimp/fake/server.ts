/**
 * A fake Mailchimp Marketing API 3.0 (campaigns, audiences and their members,
 * and ping) on loopback, for tests and the demo sandbox. Shapes follow
 * Mailchimp's documentation: count/offset paging with total_items,
 * create/send/last-changed time filters, `fields` / `exclude_fields`
 * projections, `_links` on every object, HTTP basic auth with the API key as
 * password, RFC 7807 problem documents for errors, and a 429 past 10
 * simultaneous requests.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FaultInjector, StatusFault } from '../../../sandbox/faults.js';
import { startFakeServer, type FakeProvider, type FakeRequest, type FakeResponse, type FakeServerOptions } from '../../../sandbox/fake-server.js';
import { parseTime } from '../../../sandbox/generated-data.js';
import { MailchimpState, type CampaignSetOptions } from './campaigns.js';
import { LIST_DEFAULT_COUNT, LIST_MAX_COUNT, ListError, listCampaigns, projectFields, type CampaignListQuery } from './list.js';
import { RequestLog } from '../../../sandbox/request-log.js';
import type { InFlightCount } from '../../../sandbox/fake-server.js';
import { AudienceSet, type Audience, type AudienceSetOptions } from './members.js';
import { campaignLinks, memberLinks } from './links.js';
import { isMemberStatus, listMembers, type MemberListQuery } from './member-list.js';

export interface FakeMailchimpOptions extends CampaignSetOptions, AudienceSetOptions, FakeServerOptions {
  /** The API key clients send as the basic-auth password (default 'fakekey-us6'). */
  apiKey?: string;
}

/** Mailchimp's limit of simultaneous connections per user. */
export const MAILCHIMP_MAX_CONNECTIONS = 10;

export interface FakeMailchimp {
  /** Base URL ending in /3.0, e.g. `http://127.0.0.1:PORT/3.0` (what MAILCHIMP_BASE_URL takes). */
  url: string;
  apiKey: string;
  /** The campaigns, mutation helpers and the request log (`state.requests`). */
  state: MailchimpState;
  /** The audiences and their members, with mutation helpers. */
  audiences: AudienceSet;
  /** Requests in flight: the peak, and how many were refused past 10. */
  inFlight: InFlightCount;
  faults: FaultInjector;
  close(): Promise<void>;
}

const ROOT = '/3.0';
const PROBLEM_TYPE = 'https://mailchimp.com/developer/marketing/docs/errors/';
const PROBLEM_JSON = 'application/problem+json; charset=utf-8';
/** Titles and details from Mailchimp's error glossary, for the statuses a client must handle. */
const GLOSSARY: Record<number, [title: string, detail: string]> = {
  400: ['Invalid Resource', 'The resource submitted could not be validated.'],
  401: ['API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter."],
  403: ['Forbidden', 'You are not permitted to access this resource.'],
  404: ['Resource Not Found', 'The requested resource could not be found.'],
  405: ['Method Not Allowed', "The requested method and resource are not compatible. See the Allow header for this resource's available methods."],
  429: ['Too Many Requests', 'You have exceeded the limit of 10 simultaneous connections.'],
  500: ['Internal Server Error', 'An unexpected internal error has occurred. Please contact Support for more information.'],
};

export async function startFakeMailchimp(options: FakeMailchimpOptions = {}): Promise<FakeMailchimp> {
  const apiKey = options.apiKey ?? 'fakekey-us6';
  const state = new MailchimpState(options, new RequestLog(options.requestLogLimit));
  const audiences = new AudienceSet(options, options.seed ?? 'tributary', options.now ?? Date.now);
  const server = await startFakeServer(
    () => mailchimpProvider(apiKey, state, audiences),
    { maxInFlight: MAILCHIMP_MAX_CONNECTIONS, ...options },
    state.requests,
  );
  return { url: `${server.origin}${ROOT}`, apiKey, state, audiences, inFlight: server.inFlight, faults: server.faults, close: () => server.close() };
}

function mailchimpProvider(apiKey: string, state: MailchimpState, audiences: AudienceSet): FakeProvider {
  return {
    collectionKey: 'campaigns',
    authenticate(req) {
      const header = req.headers.authorization;
      if (!header) return problem(401, 'API Key Missing', 'Your request did not include an API key.');
      const match = /^Basic\s+(.+)$/i.exec(header);
      const decoded = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
      const password = decoded.includes(':') ? decoded.slice(decoded.indexOf(':') + 1) : '';
      return password === apiKey ? null : problem(401);
    },
    route(req) {
      if (req.path === `${ROOT}/ping`) return get(req) ?? { status: 200, json: { health_status: "Everything's Chimpy!" } };
      if (req.path === `${ROOT}/campaigns` || req.path === `${ROOT}/campaigns/`) return get(req) ?? list(req);
      const one = new RegExp(`^${ROOT}/campaigns/([^/]+)$`).exec(req.path);
      if (one?.[1] !== undefined) return get(req) ?? getOne(req, decodeURIComponent(one[1]));
      if (req.path === `${ROOT}/lists` || req.path === `${ROOT}/lists/`) return get(req) ?? lists(req);
      const inList = new RegExp(`^${ROOT}/lists/([^/]+)(?:/members(?:/([^/]+))?)?/?$`).exec(req.path);
      if (inList?.[1] !== undefined) {
        const audience = audiences.get(decodeURIComponent(inList[1]));
        if (!audience) return get(req) ?? problem(404);
        if (inList[2] !== undefined) return get(req) ?? member(req, audience, decodeURIComponent(inList[2]));
        if (req.path.replace(/\/$/, '').endsWith('/members')) return get(req) ?? members(req, audience);
        return get(req) ?? project(req, audienceBody(audience));
      }
      return problem(404);
    },
    errorFor: faultAnswer,
  };

  function list(req: FakeRequest): FakeResponse {
    let query: CampaignListQuery;
    try {
      query = parseListQuery(req.query);
    } catch (err) {
      if (err instanceof ListError) return problem(400, 'Invalid Resource', err.message);
      throw err;
    }
    try {
      const page = listCampaigns(state, query);
      const campaigns = excludes(req, 'campaigns._links') ? page.campaigns : page.campaigns.map((c) => ({ ...c, _links: campaignLinks(c.id) }));
      const body = { campaigns, total_items: page.total, _links: collectionLinks('campaigns') };
      return { status: 200, json: projectFields(body, csv(req.query, 'fields'), csv(req.query, 'exclude_fields')) };
    } catch (err) {
      if (err instanceof ListError) return problem(400, 'Invalid Resource', err.message);
      throw err;
    }
  }

  function lists(req: FakeRequest): FakeResponse {
    let count: number;
    let offset: number;
    try {
      count = integer(req.query, 'count', LIST_DEFAULT_COUNT);
      if (count < 1 || count > LIST_MAX_COUNT) throw new ListError(`count must be between 1 and ${LIST_MAX_COUNT}.`);
      offset = integer(req.query, 'offset', 0);
    } catch (err) {
      if (err instanceof ListError) return problem(400, 'Invalid Resource', err.message);
      throw err;
    }
    const all = audiences.audiences;
    const body = {
      lists: all.slice(offset, offset + count).map(audienceBody),
      total_items: all.length,
      constraints: { may_create: true, max_instances: 0, current_total_instances: all.length },
      _links: collectionLinks('lists'),
    };
    return project(req, body);
  }

  function members(req: FakeRequest, audience: Audience): FakeResponse {
    let query: MemberListQuery;
    try {
      query = parseMemberQuery(req.query);
    } catch (err) {
      if (err instanceof ListError) return problem(400, 'Invalid Resource', err.message);
      throw err;
    }
    const page = listMembers(audience, query);
    const list = excludes(req, 'members._links') ? page.members : page.members.map((m) => ({ ...m, _links: memberLinks(audience.id, m.id) }));
    return project(req, { members: list, list_id: audience.id, total_items: page.total, _links: collectionLinks(`lists/${audience.id}/members`) });
  }

  function member(req: FakeRequest, audience: Audience, hash: string): FakeResponse {
    const m = audience.get(hash.toLowerCase());
    if (!m) return problem(404);
    return project(req, excludes(req, '_links') ? m : { ...m, _links: memberLinks(audience.id, m.id) });
  }

  function getOne(req: FakeRequest, id: string): FakeResponse {
    const campaign = state.find(id);
    if (!campaign) return problem(404);
    return project(req, excludes(req, '_links') ? campaign : { ...campaign, _links: campaignLinks(campaign.id) });
  }
}

/** Whether `exclude_fields` drops `path` (or `fields` leaves it out), so the fake need not make it. */
function excludes(req: FakeRequest, path: string): boolean {
  const fields = csv(req.query, 'fields');
  if (fields && !fields.some((f) => f === path || path.startsWith(`${f}.`) || f.startsWith(`${path}.`))) return true;
  return csv(req.query, 'exclude_fields')?.includes(path) ?? false;
}

function project(req: FakeRequest, body: unknown): FakeResponse {
  return { status: 200, json: projectFields(body, csv(req.query, 'fields'), csv(req.query, 'exclude_fields')) };
}

function collectionLinks(path: string): Array<{ rel: string; href: string; method: string }> {
  const href = `https://us6.api.mailchimp.com/3.0/${path}`;
  return [
    { rel: 'self', href, method: 'GET' },
    { rel: 'parent', href: 'https://us6.api.mailchimp.com/3.0/', method: 'GET' },
    { rel: 'create', href, method: 'POST' },
  ];
}

/** An audience as `GET /lists` shows it, with its counts as they are now. */
function audienceBody(a: Audience): Record<string, unknown> {
  const counts: Record<string, number> = {};
  for (const i of a.order(undefined, undefined)) {
    const s = a.statusAt(i);
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return {
    id: a.id,
    web_id: 100_000 + a.position,
    name: a.name,
    contact: { company: 'Tributary Demo', address1: '1 Example St', city: 'Springfield', state: 'IL', zip: '62701', country: 'US' },
    permission_reminder: 'You signed up on our website.',
    use_archive_bar: true,
    campaign_defaults: { from_name: 'Tributary Demo', from_email: 'hello@example.com', subject: '', language: 'en' },
    date_created: '2023-01-01T00:00:00+00:00',
    list_rating: 3,
    email_type_option: false,
    visibility: 'prv',
    double_optin: false,
    has_welcome: false,
    marketing_permissions: false,
    stats: {
      member_count: counts.subscribed ?? 0,
      unsubscribe_count: counts.unsubscribed ?? 0,
      cleaned_count: counts.cleaned ?? 0,
      total_contacts: a.size,
    },
    _links: collectionLinks(`lists/${a.id}`),
  };
}

function parseMemberQuery(q: URLSearchParams): MemberListQuery {
  const count = integer(q, 'count', LIST_DEFAULT_COUNT);
  if (count < 1 || count > LIST_MAX_COUNT) throw new ListError(`count must be between 1 and ${LIST_MAX_COUNT}.`);
  const offset = integer(q, 'offset', 0);
  const sortField = q.get('sort_field');
  // Only last_changed order is served (timestamp_opt and timestamp_signup are Mailchimp's others).
  if (sortField !== null && sortField !== '' && sortField !== 'last_changed') throw new ListError('this fake sorts members by last_changed only.');
  const sortDir = (q.get('sort_dir') ?? 'ASC').toUpperCase();
  if (sortDir !== 'ASC' && sortDir !== 'DESC') throw new ListError('sort_dir must be ASC or DESC.');
  const query: MemberListQuery = { count, offset, descending: sortDir === 'DESC' };
  const status = q.get('status');
  if (status) {
    if (!isMemberStatus(status)) throw new ListError('status must be subscribed, unsubscribed, cleaned, pending, transactional or archived.');
    query.status = status;
  }
  for (const [param, key] of [
    ['since_last_changed', 'sinceLastChanged'],
    ['before_last_changed', 'beforeLastChanged'],
  ] as const) {
    const text = q.get(param);
    if (text === null || text === '') continue;
    const ms = parseTime(text);
    if (Number.isNaN(ms)) throw new ListError(`${param} must be an ISO 8601 time, e.g. 2015-10-21T15:41:36+00:00.`);
    query[key] = ms;
  }
  return query;
}

/** Only GET is served; anything else is a 405 with Allow, as Mailchimp answers. */
function get(req: FakeRequest): FakeResponse | null {
  if (req.method === 'GET') return null;
  return { ...problem(405), headers: { allow: 'GET' } };
}

function parseListQuery(q: URLSearchParams): CampaignListQuery {
  const count = integer(q, 'count', LIST_DEFAULT_COUNT);
  if (count < 1 || count > LIST_MAX_COUNT) throw new ListError(`count must be between 1 and ${LIST_MAX_COUNT}.`);
  const offset = integer(q, 'offset', 0);
  const sortField = q.get('sort_field') ?? 'create_time';
  if (sortField !== 'create_time' && sortField !== 'send_time') throw new ListError('sort_field must be create_time or send_time.');
  const sortDir = (q.get('sort_dir') ?? 'ASC').toUpperCase();
  if (sortDir !== 'ASC' && sortDir !== 'DESC') throw new ListError('sort_dir must be ASC or DESC.');
  const status = q.get('status');
  const type = q.get('type');
  const listId = q.get('list_id');
  const query: CampaignListQuery = { count, offset, sortField, descending: sortDir === 'DESC' };
  for (const [param, key] of [
    ['since_create_time', 'sinceCreateTime'],
    ['before_create_time', 'beforeCreateTime'],
    ['since_send_time', 'sinceSendTime'],
    ['before_send_time', 'beforeSendTime'],
  ] as const) {
    const text = q.get(param);
    if (text === null || text === '') continue;
    const ms = parseTime(text);
    if (Number.isNaN(ms)) throw new ListError(`${param} must be an ISO 8601 time, e.g. 2015-10-21T15:41:36+00:00.`);
    query[key] = ms;
  }
  if (status) query.status = new Set(status.split(','));
  if (type) query.type = type;
  if (listId) query.listId = listId;
  return query;
}

function integer(q: URLSearchParams, name: string, fallback: number): number {
  const text = q.get(name);
  if (text === null || text === '') return fallback;
  if (!/^\d+$/.test(text)) throw new ListError(`${name} must be a non-negative integer.`);
  return Number(text);
}

function csv(q: URLSearchParams, name: string): string[] | null {
  const text = q.get(name);
  return text
    ? text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : null;
}

function faultAnswer(fault: Readonly<StatusFault>): FakeResponse {
  const headers: Record<string, string> = { ...fault.headers };
  if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
  if (fault.body !== undefined) {
    return typeof fault.body === 'string'
      ? { status: fault.status, headers, text: fault.body, contentType: 'text/html; charset=utf-8' }
      : { status: fault.status, headers, json: fault.body };
  }
  return { ...problem(fault.status), headers };
}

/** An RFC 7807 problem document the way Mailchimp sends them. */
function problem(status: number, title?: string, detail?: string): FakeResponse {
  const [glossaryTitle, glossaryDetail] = GLOSSARY[status] ?? [STATUS_CODES[status] ?? 'Error', `HTTP ${status}.`];
  return {
    status,
    text: JSON.stringify({
      type: PROBLEM_TYPE,
      title: title ?? glossaryTitle,
      status,
      detail: detail ?? glossaryDetail,
      instance: randomUUID(),
    }),
    contentType: PROBLEM_JSON,
  };
}
