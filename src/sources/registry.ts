import type { Config } from '../config.js';
import type { SourceConnector } from './connector.js';
import { DeclaredSource } from './declared/declared-source.js';
import { HubspotSource } from './hubspot/hubspot-source.js';
import { MailchimpSource } from './mailchimp/mailchimp-source.js';

/** The sources /sync can run, by name: crm and marketing always (they say what to set when unconfigured). */
export function buildConnectors(config: Config): Map<string, SourceConnector> {
  const connectors = new Map<string, SourceConnector>();
  connectors.set('crm', new HubspotSource({ name: 'crm', accessToken: config.hubspot.accessToken, baseUrl: config.hubspot.baseUrl }));
  connectors.set('marketing', new MailchimpSource({ name: 'marketing', apiKey: config.mailchimp.apiKey, baseUrl: config.mailchimp.baseUrl }));
  // Declared sources (SOURCES_FILE); the file's validation already refused built-in and malformed names.
  for (const declared of config.declaredSources ?? []) {
    if (connectors.has(declared.name)) throw new Error(`declared source "${declared.name}" clashes with a built-in source`);
    connectors.set(declared.name, new DeclaredSource(declared));
  }
  return connectors;
}
