/**
 * The whole configuration: the service's variables (src/config/) and each
 * provider's (its own config.ts), read together at start.
 */
import { loadServiceConfig, SERVICE_SECTIONS, type Config, type Env, type ProviderSettings } from './config/index.js';
import type { Section, Table } from './config/variables.js';
import { PROVIDERS, reservedSourceNames } from './providers/index.js';

export * from './config/index.js';

/** Every section, in the order the docs list them: the service's, then each provider's. */
export const CONFIG_SECTIONS: readonly Section<Table>[] = [...SERVICE_SECTIONS, ...PROVIDERS.flatMap((p) => (p.settings ? [p.settings.section] : []))];

/** Reads and checks every variable; a bad value throws a one-line ConfigError naming it. */
export function loadConfig(env: Env = process.env): Config {
  const service = loadServiceConfig(env);
  const context = { reservedSourceNames: new Set(reservedSourceNames()) };
  const providers = Object.fromEntries(PROVIDERS.flatMap((p) => (p.settings ? [[p.name, p.settings.read(env, context)]] : [])));
  // Each provider's read() makes the entry its config.ts declares in ProviderSettings.
  return Object.freeze({ ...service, providers: Object.freeze(providers) as unknown as ProviderSettings });
}
