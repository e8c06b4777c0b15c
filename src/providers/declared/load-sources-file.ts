import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { envReferences, SourcesSchemaError, validateSourcesFile, type SourceSpec } from './schema.js';

/** A sources file that cannot be used; `message` is one line naming the file (and the source and field). */
export class SourcesFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'SourcesFileError';
  }
}

/** One declared source, ready to build a connector from. */
export interface DeclaredSourceConfig {
  readonly name: string;
  readonly spec: SourceSpec;
  /**
   * The environment variables the source's auth names, read from the same
   * environment as the rest of the configuration (undefined: unset or empty).
   */
  readonly env: Readonly<Record<string, string | undefined>>;
}

type Env = Record<string, string | undefined>;

function oneLine(text: string): string {
  return (text.split('\n')[0] ?? text).trim().replace(/:$/, '');
}

/** Parses the text of a sources file: JSON when the name ends in .json, else YAML (which JSON also is). */
export function parseSourcesText(text: string, file: string, env: Env = {}, reserved: ReadonlySet<string> = new Set()): DeclaredSourceConfig[] {
  let doc: unknown;
  try {
    doc = path.extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const what = path.extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML';
    throw new SourcesFileError(file, `is not valid ${what}: ${oneLine(err instanceof Error ? err.message : String(err))}`);
  }
  let specs: Map<string, SourceSpec>;
  try {
    specs = validateSourcesFile(doc, reserved);
  } catch (err) {
    if (err instanceof SourcesSchemaError) throw new SourcesFileError(file, err.message);
    throw err;
  }
  return [...specs].map(([name, spec]) => ({
    name,
    spec,
    env: Object.freeze(Object.fromEntries(envReferences(spec).map((v) => [v, env[v]?.trim() || undefined]))),
  }));
}

/** Reads, parses and validates SOURCES_FILE. Throws SourcesFileError with one line on any problem. */
export function loadSourcesFile(file: string, env: Env = {}, reserved: ReadonlySet<string> = new Set()): DeclaredSourceConfig[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : `cannot be read (${code ?? oneLine(String(err))})`;
    throw new SourcesFileError(file, problem);
  }
  return parseSourcesText(text, file, env, reserved);
}
