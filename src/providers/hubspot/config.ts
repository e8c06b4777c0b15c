import type { Config, UpstreamLimits } from '../../config/index.js';
import type { RateLimit } from '../../sources/rate-limit.js';
import { ConfigError, duration, integer, list, rateLimit, readSection, section, text, url, variable, type Env, type Kind } from '../../config/variables.js';
import { propertySelection, type PropertySelection } from './properties.js';

/** HubSpot's variables: the `crm` source's API access and politeness, and the webhook signature secret. */
export const hubspotSection = section('HubSpot: the `crm` source and `POST /webhooks/hubspot`', {
  accessToken: variable('HUBSPOT_ACCESS_TOKEN', text({ format: 'a private app access token' }), {
    unset: undefined,
    means: '`POST /sync/crm` answers 422 naming it, unless an OAuth app is set',
    description: 'the token the `crm` source (HubSpot CRM v3 contacts) calls the API with; or set an OAuth app instead',
  }),
  clientId: variable('HUBSPOT_CLIENT_ID', text({ format: "the OAuth app's client id" }), {
    unset: undefined,
    means: 'no OAuth app',
    description:
      'an OAuth app instead of `HUBSPOT_ACCESS_TOKEN`, with `HUBSPOT_CLIENT_SECRET` and `HUBSPOT_REFRESH_TOKEN` (all three or none): access tokens come from `POST /oauth/v1/token` and are refreshed before they expire',
  }),
  refreshToken: variable('HUBSPOT_REFRESH_TOKEN', text({ format: "the OAuth app's refresh token for the portal" }), {
    unset: undefined,
    means: 'no OAuth app',
    description:
      "the refresh token of the OAuth app's install; a newer one HubSpot hands back is kept in the store and used after a restart, until this variable is changed",
  }),
  baseUrl: variable('HUBSPOT_BASE_URL', url(), {
    default: 'https://api.hubapi.com',
    description: "the HubSpot API's base URL; tests and the sandbox point it at a fake",
  }),
  portalId: variable('HUBSPOT_PORTAL_ID', integer(1, 999_999_999_999), {
    unset: null,
    means: "the token's portal, read once from HubSpot's account details (`GET /account-info/v3/details`) and kept in the store",
    description: 'the portal (Hub id) whose webhook events are applied; events of another portal are kept as dead letters',
  }),
  // HubSpot private apps: 100 requests per 10 seconds by default.
  rateLimit: variable('HUBSPOT_RATE_LIMIT', rateLimit(), { default: '100/10s', description: 'requests per window to HubSpot' }),
  properties: variable('HUBSPOT_PROPERTIES', propertySelection() as Kind<PropertySelection>, {
    default: 'all',
    description: 'the contact properties the `crm` source asks for: `all` reads the property definitions at the start of each run and asks for every one',
  }),
  // HubSpot's CRM search: 4 requests per second per token, on top of the general limit.
  searchRateLimit: variable('HUBSPOT_SEARCH_RATE_LIMIT', rateLimit(), {
    default: '4/1s',
    description: "requests per window to HubSpot's CRM search endpoint (incremental runs), within HUBSPOT_RATE_LIMIT",
  }),
  archivedIntervalMs: variable('HUBSPOT_ARCHIVED_INTERVAL', duration({ min: 0 }), {
    default: '24h',
    description: 'how often an incremental run also walks the archived contacts list (`0`: every run); `contact.deletion` webhooks cover the time between',
  }),
  concurrency: variable('HUBSPOT_CONCURRENCY', integer(1, 100), { default: '4', description: 'requests to HubSpot at once' }),
  clientSecrets: variable('HUBSPOT_CLIENT_SECRET', list(), {
    unset: Object.freeze([]) as readonly string[],
    means: 'unsigned HubSpot webhooks taken, with a warning at start',
    format: 'a list of secrets; several allow rotation',
    description:
      "the HubSpot app's client secret: `POST /webhooks/hubspot` then wants a valid `X-HubSpot-Signature-v3`; with an OAuth app, the first one also refreshes its access tokens",
  }),
});

/** An OAuth app's credentials: all three are set, or none. */
export interface HubspotOAuthApp {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
}

export interface HubspotApiConfig extends UpstreamLimits {
  readonly accessToken: string | undefined;
  /** HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, HUBSPOT_REFRESH_TOKEN; null with a private app token (or none). */
  readonly oauth: HubspotOAuthApp | null;
  readonly baseUrl: string;
  /** HUBSPOT_PROPERTIES: `all`, or the property names to ask for. */
  readonly properties: PropertySelection;
  /** HUBSPOT_SEARCH_RATE_LIMIT; null is off. */
  readonly searchRateLimit: RateLimit | null;
  /** HUBSPOT_ARCHIVED_INTERVAL. */
  readonly archivedIntervalMs: number;
}

/** `config.providers.hubspot`. */
export interface HubspotSettings {
  readonly api: HubspotApiConfig;
  /** HUBSPOT_CLIENT_SECRET: the app's client secret(s) that sign X-HubSpot-Signature-v3; empty takes unsigned webhooks. */
  readonly clientSecrets: readonly string[];
  /** HUBSPOT_PORTAL_ID: the portal whose events apply; null means the token's portal, as kept in the store. */
  readonly portalId: number | null;
}

declare module '../../config/index.js' {
  interface ProviderSettings {
    readonly hubspot: HubspotSettings;
  }
}

const OAUTH_VARIABLES = 'an OAuth app needs HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN together';

/** All three OAuth variables or none, and not beside a private app token; the error never quotes a value. */
function oauthApp(
  v: { accessToken: string | undefined; clientId: string | undefined; refreshToken: string | undefined },
  secrets: readonly string[],
): HubspotOAuthApp | null {
  if (v.clientId === undefined && v.refreshToken === undefined) return null;
  if (v.clientId === undefined) throw new ConfigError('HUBSPOT_CLIENT_ID', `must be set with HUBSPOT_REFRESH_TOKEN: ${OAUTH_VARIABLES}`);
  if (v.refreshToken === undefined) throw new ConfigError('HUBSPOT_REFRESH_TOKEN', `must be set with HUBSPOT_CLIENT_ID: ${OAUTH_VARIABLES}`);
  const clientSecret = secrets[0];
  if (clientSecret === undefined) throw new ConfigError('HUBSPOT_CLIENT_SECRET', `must be set with HUBSPOT_CLIENT_ID: ${OAUTH_VARIABLES}`);
  if (v.accessToken !== undefined) {
    throw new ConfigError('HUBSPOT_ACCESS_TOKEN', 'must not be set with an OAuth app (HUBSPOT_CLIENT_ID, HUBSPOT_REFRESH_TOKEN): use one or the other');
  }
  return Object.freeze({ clientId: v.clientId, clientSecret, refreshToken: v.refreshToken });
}

export function readHubspotSettings(env: Env): HubspotSettings {
  const v = readSection(hubspotSection, env);
  const oauth = oauthApp(v, v.clientSecrets);
  return Object.freeze({
    api: Object.freeze({
      accessToken: v.accessToken,
      oauth,
      baseUrl: v.baseUrl,
      properties: v.properties,
      rateLimit: v.rateLimit,
      concurrency: v.concurrency,
      searchRateLimit: v.searchRateLimit,
      archivedIntervalMs: v.archivedIntervalMs,
    }),
    clientSecrets: v.clientSecrets,
    portalId: v.portalId,
  });
}

export const hubspotSettings = (config: Config): HubspotSettings => config.providers.hubspot;
