import type { Config, UpstreamLimits } from '../../config/index.js';
import type { RateLimit } from '../../sources/rate-limit.js';
import { duration, integer, list, rateLimit, readSection, section, text, url, variable, type Env } from '../../config/variables.js';

/** HubSpot's variables: the `crm` source's API access and politeness, and the webhook signature secret. */
export const hubspotSection = section('HubSpot: the `crm` source and `POST /webhooks/hubspot`', {
  accessToken: variable('HUBSPOT_ACCESS_TOKEN', text({ format: 'a private app access token' }), {
    unset: undefined,
    means: '`POST /sync/crm` answers 422 naming it',
    description: 'the token the `crm` source (HubSpot CRM v3 contacts) calls the API with',
  }),
  baseUrl: variable('HUBSPOT_BASE_URL', url(), {
    default: 'https://api.hubapi.com',
    description: "the HubSpot API's base URL; tests and the sandbox point it at a fake",
  }),
  // HubSpot private apps: 100 requests per 10 seconds by default.
  rateLimit: variable('HUBSPOT_RATE_LIMIT', rateLimit(), { default: '100/10s', description: 'requests per window to HubSpot' }),
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
    description: "the HubSpot app's client secret: `POST /webhooks/hubspot` then wants a valid `X-HubSpot-Signature-v3`",
  }),
});

export interface HubspotApiConfig extends UpstreamLimits {
  readonly accessToken: string | undefined;
  readonly baseUrl: string;
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
}

declare module '../../config/index.js' {
  interface ProviderSettings {
    readonly hubspot: HubspotSettings;
  }
}

export function readHubspotSettings(env: Env): HubspotSettings {
  const v = readSection(hubspotSection, env);
  return Object.freeze({
    api: Object.freeze({
      accessToken: v.accessToken,
      baseUrl: v.baseUrl,
      rateLimit: v.rateLimit,
      concurrency: v.concurrency,
      searchRateLimit: v.searchRateLimit,
      archivedIntervalMs: v.archivedIntervalMs,
    }),
    clientSecrets: v.clientSecrets,
  });
}

export const hubspotSettings = (config: Config): HubspotSettings => config.providers.hubspot;
