import type { Config } from '../../config/index.js';
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

/** `config.providers.declared`. */
export interface DeclaredSettings {
  /** SOURCES_FILE: JSON or YAML declaring more REST sources; read and checked at start. */
  readonly file: string | undefined;
  /** The sources it declares, their credentials read from the environment variables it names. */
  readonly sources: readonly DeclaredSourceConfig[];
}

declare module '../../config/index.js' {
  interface ProviderSettings {
    readonly declared: DeclaredSettings;
  }
}

export const declaredSettings = (config: Config): DeclaredSettings => config.providers.declared;

/** SOURCES_FILE, read and validated now: a bad file stops the start with one line, like any bad value. */
export function readDeclaredSettings(env: Env, reserved: ReadonlySet<string> = new Set()): DeclaredSettings {
  const { file } = readSection(declaredSection, env);
  if (!file) return Object.freeze({ file: undefined, sources: Object.freeze([]) });
  try {
    return Object.freeze({ file, sources: Object.freeze(loadSourcesFile(file, env, reserved)) });
  } catch (err) {
    if (err instanceof SourcesFileError) throw new ConfigError('SOURCES_FILE', err.message);
    throw err;
  }
}
