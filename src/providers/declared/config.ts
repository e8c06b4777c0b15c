import { ConfigError, readSection, section, text, variable, type Env } from '../../config/variables.js';
import { loadSourcesFile, SourcesFileError, type DeclaredSourceConfig } from './load-sources-file.js';

/** Declared sources: more REST sources described in a file instead of code. */
export const declaredSection = section('Declared sources', {
  file: variable('SOURCES_FILE', text({ format: 'a path to a YAML file, or JSON when the name ends in `.json`' }), {
    unset: undefined,
    means: 'none',
    description:
      'a file declaring more REST sources, read and checked at start; each source names the variables its credentials are read from ([`examples/sources.example.yaml`](../examples/sources.example.yaml) documents every field)',
  }),
});

/** SOURCES_FILE, read and validated now: a bad file stops the start with one line, like any bad value. */
export function readDeclaredConfig(env: Env): { file: string | undefined; sources: readonly DeclaredSourceConfig[] } {
  const { file } = readSection(declaredSection, env);
  if (!file) return { file: undefined, sources: Object.freeze([]) };
  try {
    return { file, sources: Object.freeze(loadSourcesFile(file, env)) };
  } catch (err) {
    if (err instanceof SourcesFileError) throw new ConfigError('SOURCES_FILE', err.message);
    throw err;
  }
}
