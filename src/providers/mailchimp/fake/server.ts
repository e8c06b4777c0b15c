/**
 * A fake Mailchimp Marketing API 3.0 (campaigns and ping) on loopback, for
 * tests and the demo sandbox. Shapes follow Mailchimp's documentation:
 * count/offset paging with total_items, create/send time filters, `fields`
 * projections, HTTP basic auth with the API key as password, and RFC 7807
 * problem documents for errors.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { FaultInjector, StatusFault } from '../../../sandbox/faults.js';
import { startFakeServer, type FakeProvider, type FakeRequest, type FakeResponse, type FakeServerOptions } from '../../../sandbox/fake-server.js';
import { parseTime } from '../../../sandbox/generated-data.js';
import { MailchimpState, type CampaignSetOptions } from './campaigns.js';
import { LIST_DEFAULT_COUNT, LIST_MAX_COUNT, ListError, listCampaigns, projectFields, type CampaignListQuery } from './list.js';
import { RequestLog } from '../../../sandbox/request-log.js';

export interface FakeMailchimpOptions extends CampaignSetOptions, FakeServerOptions {
  /** The API key clients send as the basic-auth password (default 'fakekey-us6'). */
  apiKey?: string;
}

export interface FakeMailchimp {
  /** Base URL ending in /3.0, e.g. `http://127.0.0.1:PORT/3.0` (what MAILCHIMP_BASE_URL takes). */
  url: string;
  apiKey: string;
  /** The campaigns, mutation helpers and the request log (`state.requests`). */
  state: MailchimpState;
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
  const server = await startFakeServer(() => mailchimpProvider(apiKey, state), options, state.requests);
  return { url: `${server.origin}${ROOT}`, apiKey, state, faults: server.faults, close: () => server.close() };
}

function mailchimpProvider(apiKey: string, state: MailchimpState): FakeProvider {
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
      const body = { campaigns: page.campaigns, total_items: page.total, _links: [] };
      return { status: 200, json: projectFields(body, csv(req.query, 'fields'), csv(req.query, 'exclude_fields')) };
    } catch (err) {
      if (err instanceof ListError) return problem(400, 'Invalid Resource', err.message);
      throw err;
    }
  }

  function getOne(req: FakeRequest, id: string): FakeResponse {
    const campaign = state.find(id);
    if (!campaign) return problem(404);
    return { status: 200, json: projectFields(campaign, csv(req.query, 'fields'), csv(req.query, 'exclude_fields')) };
  }
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
