import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/open-store.js';
import { hubspotDeliveryHandler } from './hubspot-webhook.js';
import { genericDeliveryHandler, InboxProcessor, type DeliveryHandler } from './inbox-processing.js';
import { mailchimpDeliveryHandler } from './mailchimp-webhook.js';

/** The inbox `route` of each kind of delivery (the Mailchimp route is kept without its secret). */
export const INBOX_ROUTES = {
  generic: ['/webhook', '/receive_webhook'],
  hubspot: ['/webhooks/hubspot'],
  mailchimp: ['/webhooks/mailchimp'],
} as const;
export type InboxSource = keyof typeof INBOX_ROUTES;

/** The source name an inbox route belongs to. */
export function inboxSourceOf(route: string): InboxSource | 'unknown' {
  for (const [source, routes] of Object.entries(INBOX_ROUTES)) if ((routes as readonly string[]).includes(route)) return source as InboxSource;
  return 'unknown';
}

/** One processor, knowing how to (re)process a stored delivery of every webhook route. */
export function createInboxProcessor(store: Store, metrics: Metrics, log: Logger): InboxProcessor {
  const handlers = new Map<string, DeliveryHandler>([
    ...INBOX_ROUTES.generic.map((r) => [r, genericDeliveryHandler] as const),
    ...INBOX_ROUTES.hubspot.map((r) => [r, hubspotDeliveryHandler] as const),
    ...INBOX_ROUTES.mailchimp.map((r) => [r, mailchimpDeliveryHandler] as const),
  ]);
  return new InboxProcessor(store, handlers, metrics, log);
}
