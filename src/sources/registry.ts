import type { Config, UpstreamLimits } from '../config.js';
import type { SourceConnector } from './connector.js';
import { DeclaredSource } from './declared/declared-source.js';
import { HubspotSource } from './hubspot/hubspot-source.js';
import { MailchimpSource } from './mailchimp/mailchimp-source.js';

/** The sources /sync can run, by name: crm and marketing always (they say what to set when unconfigured). */
export function buildConnectors(config: Config): Map<string, SourceConnector> {
  const connectors = new Map<string, SourceConnector>();
  const { hubspot, mailchimp } = config;
  // A null limit ("off") must reach the client as an explicit undefined, so it overrides the connector's default.
  const limits = (l: UpstreamLimits) => ({ concurrency: l.concurrency, rateLimit: l.rateLimit ?? undefined });
  connectors.set('crm', new HubspotSource({ name: 'crm', accessToken: hubspot.accessToken, baseUrl: hubspot.baseUrl, client: limits(hubspot) }));
  connectors.set(
    'marketing',
    new MailchimpSource({ name: 'marketing', apiKey: mailchimp.apiKey, baseUrl: mailchimp.baseUrl, client: limits(mailchimp) }),
  );
  // Declared sources (SOURCES_FILE); the file's validation already refused built-in and malformed names.
  for (const declared of config.declaredSources ?? []) {
    if (connectors.has(declared.name)) throw new Error(`declared source "${declared.name}" clashes with a built-in source`);
    connectors.set(declared.name, new DeclaredSource(declared));
  }
  return connectors;
}
