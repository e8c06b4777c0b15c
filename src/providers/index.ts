import type { Config } from '../config/index.js';
import { WEBHOOK_SOURCE } from '../ingest/webhook-payload.js';
import type { SourceConnector } from '../sources/connector.js';
import { declared } from './declared/index.js';
import { hubspot } from './hubspot/index.js';
import { mailchimp } from './mailchimp/index.js';
import type { ConnectorDeps, Provider, WebhookIntake } from './provider.js';

/** Every provider: the one place that names them. Adding one is a folder and a line here. */
export const PROVIDERS: readonly Provider[] = [hubspot, mailchimp, declared];

/** Providers that receive webhooks, with their intake. */
export function webhookProviders(): Array<Provider & { webhook: WebhookIntake }> {
  return PROVIDERS.filter((p): p is Provider & { webhook: WebhookIntake } => p.webhook !== undefined);
}

/** Source names the providers sync under, and the generic webhook's own: a declared source may not take one. */
export function reservedSourceNames(): string[] {
  return [...PROVIDERS.flatMap((p) => p.sourceNames), WEBHOOK_SOURCE];
}

/** The sources /sync can run, by name, in the order of the provider list. */
export function buildConnectors(config: Config, deps?: ConnectorDeps): Map<string, SourceConnector> {
  const connectors = new Map<string, SourceConnector>();
  for (const provider of PROVIDERS) {
    for (const connector of provider.connectors(config, deps)) {
      if (connectors.has(connector.name)) throw new Error(`source "${connector.name}" is offered twice (${provider.name})`);
      connectors.set(connector.name, connector);
    }
  }
  return connectors;
}

/**
 * The provider of each source name: the names a provider reserves, and for a
 * provider whose sources are configured (declared), its connectors' names.
 */
export function sourceProviders(config: Config): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of PROVIDERS) for (const name of p.sourceNames) out.set(name, p.name);
  for (const p of PROVIDERS) {
    if (p.sourceNames.length > 0) continue;
    for (const c of p.connectors(config)) if (!out.has(c.name)) out.set(c.name, p.name);
  }
  return out;
}

/** A request URL fit for logs: any provider whose route carries a secret masks it. */
export function loggableUrl(url: string): string {
  for (const p of PROVIDERS) if (p.webhook?.maskUrl) url = p.webhook.maskUrl(url);
  return url;
}
