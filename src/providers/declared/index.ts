import type { Provider } from '../provider.js';
import { DeclaredSource } from './connector.js';

/** REST sources declared in SOURCES_FILE: one connector each, no webhooks. */
export const declared: Provider = {
  name: 'declared',
  title: 'any source declared in SOURCES_FILE',
  sourceNames: [],
  connectors: (config) => (config.declaredSources ?? []).map((d) => new DeclaredSource(d)),
};
