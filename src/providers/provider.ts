import type { FastifyPluginAsync } from 'fastify';
import type { Config, Env } from '../config/index.js';
import type { Section, Table } from '../config/variables.js';
import type { DeliveryHandler } from '../ingest/delivery.js';
import type { DeliveryPipeline } from '../ingest/pipeline.js';
import type { SourceConnector } from '../sources/connector.js';
import type { Metrics } from '../metrics.js';
import type { ProviderState } from '../store/provider-state.js';

/** What a provider's webhook routes are given when they are registered. */
export interface WebhookRouteOptions {
  config: Config;
  pipeline: DeliveryPipeline;
  /** Where a route counts what it refuses (absent in tests that mount a route alone). */
  metrics?: Metrics;
}

/** How deliveries of one provider arrive, are kept in the inbox and are applied. */
export interface WebhookIntake {
  /**
   * The inbox `route` its deliveries are stored under; its provider name is
   * their `source` in GET /webhooks/events. A replay looks the handler up by it.
   */
  inboxRoute: string;
  /** Its deliveries' keys start so; a generic delivery may not use it (they share the inbox's key column). */
  keyPrefix: string;
  /** Applies one stored delivery, on arrival and on replay alike. */
  handler: DeliveryHandler<unknown>;
  /** The handler for this configuration, when it depends on it (the portal whose events apply); else `handler`. */
  handlerFor?(config: Config): DeliveryHandler<unknown>;
  /** Registers the public routes that receive it (the webhook rate limit applies to them). */
  routes: FastifyPluginAsync<WebhookRouteOptions>;
  /** The request URL fit for logs, where the URL carries a secret. */
  maskUrl?(url: string): string;
}

/** Environment that points the service at a running fake, and how to stop it. */
export interface RunningFake {
  env: Record<string, string>;
  /** One line: what is serving where. */
  summary: string;
  close(): Promise<void>;
}

/** A local fake of the provider's API, for the demo sandbox. */
export interface ProviderFake {
  /** `records`: how many it serves; `latencyMs`: the delay of each answer. */
  start(options: { records?: number; port?: number; latencyMs?: number; more?: Record<string, number> }): Promise<RunningFake>;
  /** What its records are called: DEMO_<RECORDS> and FAKE_<RECORDS> set their number (DEMO_CONTACTS). */
  records: string;
  defaultRecords: number;
  /** Other records it serves, by name, with their default numbers (DEMO_MEMBERS): passed to `start` as `more`. */
  moreRecords?: Record<string, number>;
}

/** What the service gives a provider's connectors beyond the configuration. */
export interface ConnectorDeps {
  /** Values the provider keeps across restarts (a rotated refresh token), under its own name. */
  state(provider: string): ProviderState;
}

/** What a provider's settings may depend on beyond its own variables. */
export interface SettingsContext {
  /** Source names the providers sync under: no declared source may take one. */
  reservedSourceNames: ReadonlySet<string>;
}

/** A provider's configuration variables, and how they are read into its entry of `config.providers`. */
export interface ProviderSettingsSpec {
  /** Its variables, as the docs list them. */
  section: Section<Table>;
  /** Reads and checks them; throws ConfigError naming a bad one. */
  read(env: Env, context: SettingsContext): unknown;
}

/**
 * Everything about one provider, in its own folder: the only thing the rest
 * of the service knows of it. Listed in providers/index.ts.
 */
export interface Provider {
  /** Lower-case name, also the inbox `source` of its webhooks: 'hubspot'. */
  name: string;
  /** One line for the API docs: what the provider brings. */
  title: string;
  /** The source names this provider syncs under, reserved for it. */
  sourceNames: readonly string[];
  /** Its configuration variables; read into `config.providers.<name>`. */
  settings?: ProviderSettingsSpec;
  /** The sync connectors it offers for this configuration. */
  connectors(config: Config, deps?: ConnectorDeps): SourceConnector[];
  webhook?: WebhookIntake;
  fake?: ProviderFake;
}
