import type { Provider } from '../provider.js';
import { limitsOf } from '../upstream-limits.js';
import { hubspotSection, hubspotSettings, readHubspotSettings } from './config.js';
import { HubspotSource } from './connector.js';
import { OAuthTokens } from './oauth.js';
import { credentialsFingerprint, HUBSPOT_PROVIDER } from './portal.js';
import { startFakeHubspot } from './fake/server.js';
import { SANDBOX_CUSTOM_PROPERTIES } from './sandbox.js';
import { HUBSPOT_INBOX_ROUTE, HUBSPOT_KEY_PREFIX, HUBSPOT_SOURCE, hubspotDeliveryHandler, hubspotHandlerFor } from './webhook.js';
import { hubspotWebhookRoutes } from './webhook-route.js';

/** HubSpot CRM: contacts synced as customers of the `crm` source, and contact webhooks. */
export const hubspot: Provider = {
  name: HUBSPOT_PROVIDER,
  title: `${HUBSPOT_SOURCE} (HubSpot contacts)`,
  sourceNames: [HUBSPOT_SOURCE],
  settings: { section: hubspotSection, read: (env) => readHubspotSettings(env) },
  connectors: (config, deps) => {
    const { api, portalId } = hubspotSettings(config);
    const state = deps?.state(HUBSPOT_PROVIDER);
    const auth = api.oauth ? new OAuthTokens({ app: api.oauth, baseUrl: api.baseUrl, ...(state ? { state } : {}) }) : undefined;
    const credentials = api.oauth?.refreshToken ?? api.accessToken;
    // With HUBSPOT_PORTAL_ID set there is nothing to read; else the token's portal is read once and kept.
    const portal = state && portalId === null && credentials ? { state, credentials: credentialsFingerprint(credentials) } : undefined;
    return [
      new HubspotSource({
        name: HUBSPOT_SOURCE,
        accessToken: api.accessToken,
        baseUrl: api.baseUrl,
        properties: api.properties,
        client: limitsOf(api),
        ...(auth ? { auth } : {}),
        ...(portal ? { portal } : {}),
        searchRateLimit: api.searchRateLimit,
        archivedIntervalMs: api.archivedIntervalMs,
      }),
    ];
  },
  webhook: {
    inboxRoute: HUBSPOT_INBOX_ROUTE,
    keyPrefix: HUBSPOT_KEY_PREFIX,
    handler: hubspotDeliveryHandler,
    handlerFor: (config) => hubspotHandlerFor(hubspotSettings(config).portalId),
    routes: hubspotWebhookRoutes,
  },
  fake: {
    records: 'contacts',
    defaultRecords: 250,
    async start({ records, port, latencyMs }) {
      // HubSpot's search limit, 4 a second, as the connector's default HUBSPOT_SEARCH_RATE_LIMIT expects.
      const fake = await startFakeHubspot({
        contacts: records ?? 250,
        port: port ?? 0,
        latencyMs: latencyMs ?? 0,
        customProperties: SANDBOX_CUSTOM_PROPERTIES,
        searchRateLimit: { requests: 4, perMs: 1_000 },
      });
      return {
        env: { HUBSPOT_BASE_URL: fake.url, HUBSPOT_ACCESS_TOKEN: fake.token },
        summary: `fake HubSpot at ${fake.url} (${fake.state.size} contacts, ${SANDBOX_CUSTOM_PROPERTIES} custom properties; sync with POST /sync/${HUBSPOT_SOURCE})`,
        close: () => fake.close(),
      };
    },
  },
};
