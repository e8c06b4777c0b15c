/**
 * A fake HubSpot CRM v3 (contacts only) on loopback, for tests and the demo
 * sandbox. Shapes follow HubSpot's documentation: list with `after` cursors,
 * search with filterGroups and its 10,000-result cap, Bearer auth, and
 * HubSpot's `{status: "error", message, correlationId, category}` errors.
 */
import { randomUUID } from 'node:crypto';
import type { FaultInjector, StatusFault } from '../../../sandbox/faults.js';
import { startFakeServer, type FakeProvider, type FakeRequest, type FakeResponse, type FakeServerOptions } from '../../../sandbox/fake-server.js';
import { HubspotState, type ContactSetOptions } from './contacts.js';
import { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT, listContacts, propertiesParam, toWire, wireShaper } from './list.js';
import { SearchError, parseSearchRequest, searchContacts } from './search.js';
import { RequestLog } from '../../../sandbox/request-log.js';
import { FakeOAuthApp, type FakeOAuthOptions } from './oauth.js';

export interface FakeHubspotOptions extends ContactSetOptions, FakeServerOptions {
  /** The private-app token clients must send as `Authorization: Bearer <token>`. */
  token?: string;
  /** An OAuth app too: `POST /oauth/v1/token` hands out access tokens, accepted beside the private-app token. */
  oauth?: FakeOAuthOptions;
  /** The account's portal (Hub id), as `GET /account-info/v3/details` answers it (default 62515). */
  portalId?: number;
  /**
   * The search endpoint's own limit: past it, search answers 429 (HubSpot's
   * is 4 a second per token). Default none; the sandbox sets HubSpot's.
   */
  searchRateLimit?: { requests: number; perMs: number } | null;
}

export interface FakeHubspot {
  /** Base URL, e.g. `http://127.0.0.1:PORT` (what HUBSPOT_BASE_URL takes). */
  url: string;
  token: string;
  portalId: number;
  /** The OAuth app, when one was asked for. */
  oauth: FakeOAuthApp | null;
  /** The contacts, mutation helpers and the request log (`state.requests`). */
  state: HubspotState;
  faults: FaultInjector;
  /** Searches refused (429) by `searchRateLimit` so far. */
  searchRefused(): number;
  /**
   * Every request received so far, and per path: unlike `state.requests`,
   * whose log keeps only the newest entries, these count a whole benchmark.
   */
  requestCounts(): { total: number; byPath: Record<string, number> };
  close(): Promise<void>;
}

const CONTACTS = '/crm/v3/objects/contacts';
const PROPERTIES = '/crm/v3/properties/contacts';
/**
 * The longest request target (path and query) the fake takes; past it, 414
 * as HubSpot answers. HubSpot does not document its limit; this one sits just
 * above the connector's 15,000-character `properties` chunks. The server
 * takes heads up to HEAD_LIMIT, so a longer URL gets the 414, not a dropped socket.
 */
export const URL_LIMIT = 15_500;
const HEAD_LIMIT = 256 * 1024;
const TOKEN = '/oauth/v1/token';
const ACCOUNT_DETAILS = '/account-info/v3/details';
const EXPIRED_MESSAGE = 'The OAuth token used to make this call expired 0 second(s) ago.';
const AUTH_MESSAGE =
  'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview';

export async function startFakeHubspot(options: FakeHubspotOptions = {}): Promise<FakeHubspot> {
  const token = options.token ?? 'pat-na1-fake-0000-0000-000000000000';
  const state = new HubspotState(options, new RequestLog(options.requestLogLimit));
  const oauth = options.oauth ? new FakeOAuthApp(options.oauth) : null;
  const portalId = options.portalId ?? 62515;
  const searchWindow = options.searchRateLimit ? new SlidingWindow(options.searchRateLimit.requests, options.searchRateLimit.perMs) : null;
  const counts = { total: 0, byPath: new Map<string, number>() };
  const server = await startFakeServer(
    (origin) => hubspotProvider(origin, token, state, oauth, portalId, searchWindow, counts),
    { maxHeaderSize: HEAD_LIMIT, ...options },
    state.requests,
  );
  return {
    url: server.origin,
    token,
    portalId,
    oauth,
    state,
    faults: server.faults,
    searchRefused: () => searchWindow?.refused ?? 0,
    requestCounts: () => ({ total: counts.total, byPath: Object.fromEntries(counts.byPath) }),
    close: () => server.close(),
  };
}

/** Accepted requests in the last `perMs`; a request past `requests` of them is refused. */
class SlidingWindow {
  private readonly times: number[] = [];
  /** Requests refused so far; tests read it. */
  refused = 0;

  constructor(
    private readonly requests: number,
    private readonly perMs: number,
  ) {}

  admit(now = performance.now()): boolean {
    while (this.times.length > 0 && (this.times[0] as number) <= now - this.perMs) this.times.shift();
    if (this.times.length >= this.requests) {
      this.refused += 1;
      return false;
    }
    this.times.push(now);
    return true;
  }
}

function hubspotProvider(
  origin: string,
  token: string,
  state: HubspotState,
  oauth: FakeOAuthApp | null,
  portalId: number,
  searchWindow: SlidingWindow | null,
  counts: { total: number; byPath: Map<string, number> },
): FakeProvider {
  const defined = (name: string) => state.properties.has(name);
  return {
    collectionKey: 'results',
    authenticate(req) {
      // Every request passes here first, refused or not.
      counts.total += 1;
      const key = /^\/crm\/v3\/objects\/contacts\/\d+$/.test(req.path) ? `${CONTACTS}/{id}` : req.path;
      counts.byPath.set(key, (counts.byPath.get(key) ?? 0) + 1);
      // The token endpoint authenticates by the form it is sent.
      if (req.path === TOKEN) return null;
      const header = req.headers.authorization ?? '';
      const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
      if (bearer === token) return null;
      const status = bearer === undefined || oauth === null ? 'unknown' : oauth.check(bearer);
      if (status === null) return null;
      return status === 'expired' ? error(401, EXPIRED_MESSAGE, 'EXPIRED_AUTHENTICATION') : error(401, AUTH_MESSAGE, 'INVALID_AUTHENTICATION');
    },
    route(req) {
      if (req.path === TOKEN) {
        if (req.method !== 'POST') return notAllowed(req);
        return oauth ? oauth.token(req.headers['content-type'], req.rawBody) : error(400, 'This account has no OAuth app.', 'BAD_CLIENT_ID');
      }
      if (req.path === ACCOUNT_DETAILS) {
        return req.method === 'GET' ? { status: 200, json: accountDetails(portalId) } : notAllowed(req);
      }
      const target = req.path.length + (req.query.size > 0 ? 1 + req.query.toString().length : 0);
      if (target > URL_LIMIT) return error(414, `Request-URI Too Long (${target} characters; at most ${URL_LIMIT})`, 'URI_TOO_LONG');
      if (req.path === PROPERTIES || req.path === `${PROPERTIES}/`) {
        return req.method === 'GET' ? { status: 200, json: { results: state.properties.list() } } : notAllowed(req);
      }
      if (req.path === CONTACTS || req.path === `${CONTACTS}/`) {
        return req.method === 'GET' ? list(req) : notAllowed(req);
      }
      if (req.path === `${CONTACTS}/search`) {
        return req.method === 'POST' ? search(req) : notAllowed(req);
      }
      const one = new RegExp(`^${CONTACTS}/([^/]+)$`).exec(req.path);
      if (one?.[1] !== undefined) return req.method === 'GET' ? getOne(req, decodeURIComponent(one[1])) : notAllowed(req);
      return error(404, `No route for ${req.method} ${req.path}`, 'OBJECT_NOT_FOUND');
    },
    errorFor: faultAnswer,
  };

  function list(req: FakeRequest): FakeResponse {
    const limitText = req.query.get('limit') ?? String(LIST_DEFAULT_LIMIT);
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > LIST_MAX_LIMIT) {
      return error(400, `limit must be an integer between 1 and ${LIST_MAX_LIMIT}; got '${limitText}'.`, 'VALIDATION_ERROR');
    }
    const after = req.query.get('after') ?? undefined;
    if (after !== undefined && !/^\d+$/.test(after)) return error(400, `Invalid paging cursor after='${after}'.`, 'VALIDATION_ERROR');
    const archivedText = req.query.get('archived') ?? 'false';
    if (archivedText !== 'true' && archivedText !== 'false') return error(400, 'archived must be true or false.', 'VALIDATION_ERROR');

    const properties = propertiesParam(req.query);
    const page = listContacts(state, { limit, archived: archivedText === 'true', ...(after === undefined ? {} : { after }) });
    const body: Record<string, unknown> = { results: page.results.map(wireShaper(properties, defined)) };
    if (page.nextAfter !== undefined) {
      const next = new URLSearchParams(req.query);
      next.set('after', page.nextAfter);
      body.paging = { next: { after: page.nextAfter, link: `${origin}${CONTACTS}?${next.toString()}` } };
    }
    return { status: 200, json: body };
  }

  function search(req: FakeRequest): FakeResponse {
    if (searchWindow && !searchWindow.admit()) {
      // HubSpot's search limit answers 429 with no Retry-After.
      return {
        status: 429,
        json: {
          status: 'error',
          message: 'You have reached your secondly limit.',
          errorType: 'RATE_LIMIT',
          correlationId: randomUUID(),
          policyName: 'SECONDLY',
          category: 'RATE_LIMITS',
        },
      };
    }
    if (!req.bodyIsJson) return error(400, 'Invalid input JSON on line 1: the body is not JSON.', 'VALIDATION_ERROR');
    try {
      const query = parseSearchRequest(req.body);
      const page = searchContacts(state, query);
      const body: Record<string, unknown> = { total: page.total, results: page.results.map(wireShaper(query.properties, defined)) };
      if (page.nextAfter !== undefined) {
        const after = String(page.nextAfter);
        body.paging = { next: { after, link: `?after=${after}` } };
      }
      return { status: 200, json: body };
    } catch (err) {
      if (err instanceof SearchError) return error(400, err.message, 'VALIDATION_ERROR');
      throw err;
    }
  }

  function getOne(req: FakeRequest, id: string): FakeResponse {
    let contact = state.find(id);
    // HubSpot answers a merged-away id with the contact it was merged into.
    if (contact?.mergedInto !== undefined) contact = state.find(contact.mergedInto);
    const wantArchived = req.query.get('archived') === 'true';
    if (!contact || contact.archived !== wantArchived) {
      return error(404, 'Object not found.  objectId are usually numeric.', 'OBJECT_NOT_FOUND', { context: { id: [id] } });
    }
    return { status: 200, json: toWire(contact, propertiesParam(req.query), defined) };
  }
}

/** HubSpot's account details, with the portal the token belongs to. */
function accountDetails(portalId: number): Record<string, unknown> {
  return {
    portalId,
    accountType: 'STANDARD',
    timeZone: 'US/Eastern',
    companyCurrency: 'USD',
    additionalCurrencies: [],
    utcOffset: '-05:00',
    utcOffsetMilliseconds: -18_000_000,
    uiDomain: 'app.hubspot.com',
    dataHostingLocation: 'na1',
  };
}

function notAllowed(req: FakeRequest): FakeResponse {
  return error(405, `Method ${req.method} is not allowed on ${req.path}.`, 'METHOD_NOT_ALLOWED');
}

/** The body HubSpot sends with an injected status. */
function faultAnswer(fault: Readonly<StatusFault>): FakeResponse {
  const headers: Record<string, string> = { ...fault.headers };
  if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
  if (fault.body !== undefined) {
    return typeof fault.body === 'string'
      ? { status: fault.status, headers, text: fault.body, contentType: 'text/html; charset=utf-8' }
      : { status: fault.status, headers, json: fault.body };
  }
  if (fault.status === 429) {
    const daily = fault.policyName === 'DAILY';
    return {
      status: 429,
      headers,
      json: {
        status: 'error',
        message: daily ? 'You have reached your daily limit.' : 'You have reached your ten secondly limit.',
        errorType: 'RATE_LIMIT',
        correlationId: randomUUID(),
        policyName: fault.policyName ?? 'TEN_SECONDLY_ROLLING',
        category: 'RATE_LIMITS',
      },
    };
  }
  const categories: Record<number, string> = {
    400: 'VALIDATION_ERROR',
    401: 'INVALID_AUTHENTICATION',
    403: 'MISSING_SCOPES',
    404: 'OBJECT_NOT_FOUND',
  };
  const category = categories[fault.status] ?? (fault.status >= 500 ? 'INTERNAL_ERROR' : 'ERROR');
  const answer = error(fault.status, `Injected fault: HTTP ${fault.status}.`, category);
  return { ...answer, headers };
}

function error(status: number, message: string, category: string, extra: Record<string, unknown> = {}): FakeResponse {
  return { status, json: { status: 'error', message, correlationId: randomUUID(), category, ...extra } };
}
