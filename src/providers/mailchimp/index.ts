import type { Provider } from '../provider.js';
import { limitsOf } from '../upstream-limits.js';
import { mailchimpSection, mailchimpSettings, readMailchimpSettings } from './config.js';
import { MailchimpSource } from './connector.js';
import { startFakeMailchimp } from './fake/server.js';
import { MAILCHIMP_INBOX_ROUTE, MAILCHIMP_KEY_PREFIX, MAILCHIMP_SOURCE, mailchimpDeliveryHandler } from './webhook.js';
import { mailchimpWebhookRoutes } from './webhook-route.js';

/** Mailchimp Marketing: campaigns synced under the `marketing` source, and list webhooks. */
export const mailchimp: Provider = {
  name: 'mailchimp',
  title: `${MAILCHIMP_SOURCE} (Mailchimp campaigns and audience members)`,
  sourceNames: [MAILCHIMP_SOURCE],
  settings: { section: mailchimpSection, read: (env) => readMailchimpSettings(env) },
  connectors: (config) => {
    const { api } = mailchimpSettings(config);
    return [
      new MailchimpSource({
        name: MAILCHIMP_SOURCE,
        apiKey: api.apiKey,
        baseUrl: api.baseUrl,
        lists: api.lists,
        fullIntervalMs: api.fullIntervalMs,
        client: limitsOf(api),
      }),
    ];
  },
  webhook: {
    inboxRoute: MAILCHIMP_INBOX_ROUTE,
    keyPrefix: MAILCHIMP_KEY_PREFIX,
    handler: mailchimpDeliveryHandler,
    routes: mailchimpWebhookRoutes,
    // The path carries the webhook secret.
    maskUrl: (url) => url.replace(/^(\/webhooks\/mailchimp\/)[^/?#]*/i, '$1***'),
  },
  fake: {
    records: 'campaigns',
    defaultRecords: 40,
    // Two audiences of this many members each, one address in both.
    moreRecords: { members: 500 },
    async start({ records, port, latencyMs, more }) {
      const members = more?.members ?? 500;
      const fake = await startFakeMailchimp({ campaigns: records ?? 40, audiences: 2, members, port: port ?? 0, latencyMs: latencyMs ?? 0 });
      return {
        env: { MAILCHIMP_BASE_URL: fake.url, MAILCHIMP_API_KEY: fake.apiKey },
        summary: `fake Mailchimp at ${fake.url} (${fake.state.size} campaigns, 2 audiences of ${members} members; sync with POST /sync/${MAILCHIMP_SOURCE})`,
        close: () => fake.close(),
      };
    },
  },
};
