import type { Config } from '../config.js';
import type { SourceConnector } from './connector.js';
import { HubspotSource } from './hubspot/hubspot-source.js';
import { MailchimpSource } from './mailchimp/mailchimp-source.js';

/** The sources /sync can run, by name: crm and marketing always (they say what to set when unconfigured). */
export function buildConnectors(config: Config): Map<string, SourceConnector> {
  const connectors = new Map<string, SourceConnector>();
  connectors.set('crm', new HubspotSource({ name: 'crm', accessToken: config.hubspot.accessToken, baseUrl: config.hubspot.baseUrl }));
  connectors.set('marketing', new MailchimpSource({ name: 'marketing', apiKey: config.mailchimp.apiKey, baseUrl: config.mailchimp.baseUrl }));
  return connectors;
}
