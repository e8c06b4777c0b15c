import type { Provider } from '../provider.js';
import { limitsOf } from '../upstream-limits.js';
import { hubspotSection, hubspotSettings, readHubspotSettings } from './config.js';
import { HubspotSource } from './connector.js';
import { startFakeHubspot } from './fake/server.js';
import { HUBSPOT_INBOX_ROUTE, HUBSPOT_KEY_PREFIX, HUBSPOT_SOURCE, hubspotDeliveryHandler } from './webhook.js';
import { hubspotWebhookRoutes } from './webhook-route.js';

/** HubSpot CRM: contacts synced as customers of the `crm` source, and contact webhooks. */
export const hubspot: Provider = {
  name: 'hubspot',
  title: `${HUBSPOT_SOURCE} (HubSpot contacts)`,
  sourceNames: [HUBSPOT_SOURCE],
  settings: { section: hubspotSection, read: (env) => readHubspotSettings(env) },
  connectors: (config) => {
    const { api } = hubspotSettings(config);
    return [
      new HubspotSource({
        name: HUBSPOT_SOURCE,
        accessToken: api.accessToken,
        baseUrl: api.baseUrl,
        client: limitsOf(api),
        searchRateLimit: api.searchRateLimit,
        archivedIntervalMs: api.archivedIntervalMs,
      }),
    ];
  },
  webhook: {
    inboxRoute: HUBSPOT_INBOX_ROUTE,
    keyPrefix: HUBSPOT_KEY_PREFIX,
    handler: hubspotDeliveryHandler,
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
        searchRateLimit: { requests: 4, perMs: 1_000 },
      });
      return {
        env: { HUBSPOT_BASE_URL: fake.url, HUBSPOT_ACCESS_TOKEN: fake.token },
        summary: `fake HubSpot at ${fake.url} (${fake.state.size} contacts; sync with POST /sync/${HUBSPOT_SOURCE})`,
        close: () => fake.close(),
      };
    },
  },
};
