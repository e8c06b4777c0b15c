import type { Provider } from '../provider.js';
import { declaredSection, declaredSettings, readDeclaredSettings } from './config.js';
import { DeclaredSource } from './connector.js';

/** REST sources declared in SOURCES_FILE: one connector each, no webhooks. */
export const declared: Provider = {
  name: 'declared',
  title: 'any source declared in SOURCES_FILE',
  sourceNames: [],
  settings: { section: declaredSection, read: (env, { reservedSourceNames }) => readDeclaredSettings(env, reservedSourceNames) },
  connectors: (config) => declaredSettings(config).sources.map((d) => new DeclaredSource(d)),
};
