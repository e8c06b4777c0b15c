/**
 * The machinery of the configuration table: kinds of value (how one is
 * written, parsed and described) and variables (a name, a kind, a default and
 * a description). Every variable is read through here, and the documentation
 * is generated from the same declarations, so the two cannot drift apart.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** A bad configuration value: the process prints `message` as one line and exits. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

/** One kind of value: what the docs say it accepts, and how a set value is read. */
export interface Kind<T> {
  /** Markdown, e.g. "a whole number from 1 to 64". */
  readonly format: string;
  /** Reads a set value (trimmed, never blank); throws a ConfigError naming `name`. */
  parse(value: string, name: string): T;
}

/** One row of the table. */
export interface Variable<T> {
  /** The environment variable, or its pattern (`SYNC_INTERVAL_<SOURCE>`). */
  readonly name: string;
  readonly description: string;
  /** Markdown: the accepted form. */
  readonly format: string;
  /** Markdown: the default, or what leaving it unset means. */
  readonly defaultText: string;
  read(env: Env): T;
}

interface Described {
  /** Markdown; what the variable does. */
  readonly description: string;
  /** Replaces the kind's description of the accepted form. */
  readonly format?: string;
}

/**
 * A variable whose default is written as a value would be (`15s`, `1mb`) and
 * parsed like one, so the docs show exactly what setting it to that would do.
 */
export function variable<T>(name: string, kind: Kind<T>, options: Described & { readonly default: string }): Variable<T>;
/** A variable that has no default value to write: `unset` is its value then, `means` says what that does. */
export function variable<T, U>(name: string, kind: Kind<T>, options: Described & { readonly unset: U; readonly means: string }): Variable<T | U>;
export function variable<T, U>(
  name: string,
  kind: Kind<T>,
  options: Described & ({ readonly default: string } | { readonly unset: U; readonly means: string }),
): Variable<T | U> {
  const whenUnset = 'default' in options ? () => kind.parse(options.default, name) : () => options.unset;
  return Object.freeze({
    name,
    description: options.description,
    format: options.format ?? kind.format,
    defaultText: 'default' in options ? code(options.default) : `unset: ${options.means}`,
    read(env: Env): T | U {
      const raw = env[name];
      // Blank is unset: `FOO=` in a .env file or compose file means "not given".
      return raw === undefined || raw.trim() === '' ? whenUnset() : kind.parse(raw.trim(), name);
    },
  });
}

/**
 * A family of variables, one per name matching `pattern` (its first group, in
 * lower case, is the key): `SYNC_INTERVAL_<SOURCE>`. One row in the docs.
 */
export function patternVariable<T>(
  name: string,
  pattern: RegExp,
  kind: Kind<T>,
  options: Described & { readonly means: string },
): Variable<Readonly<Record<string, T>>> {
  return Object.freeze({
    name,
    description: options.description,
    format: options.format ?? kind.format,
    defaultText: `unset: ${options.means}`,
    read(env: Env): Readonly<Record<string, T>> {
      const out: Record<string, T> = {};
      for (const [key, raw] of Object.entries(env)) {
        const m = pattern.exec(key);
        if (!m || raw === undefined || raw.trim() === '') continue;
        out[(m[1] as string).toLowerCase()] = kind.parse(raw.trim(), key);
      }
      return Object.freeze(out);
    },
  });
}

/** A titled group of variables: one section of the docs, read together into one object. */
export interface Section<T extends Table> {
  /** Markdown. */
  readonly title: string;
  readonly variables: T;
}

export type Table = Readonly<Record<string, Variable<unknown>>>;
export type Values<T extends Table> = { readonly [K in keyof T]: T[K] extends Variable<infer V> ? V : never };

export function section<T extends Table>(title: string, variables: T): Section<T> {
  return Object.freeze({ title, variables });
}

/** Reads every variable of a section. */
export function readSection<T extends Table>(s: Section<T>, env: Env): Values<T> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(s.variables)) out[key] = v.read(env);
  return Object.freeze(out) as Values<T>;
}

// ---- kinds ----------------------------------------------------------------

function code(text: string): string {
  return `\`${text}\``;
}

/** Free text; `check` refuses a value with `message`, which must not quote it (it may be a secret). */
export function text(options: { readonly format?: string; readonly check?: (value: string) => boolean; readonly message?: string } = {}): Kind<string> {
  return {
    format: options.format ?? 'text',
    parse(value, name) {
      if (options.check && !options.check(value)) throw new ConfigError(name, options.message ?? 'is not valid');
      return value;
    },
  };
}

export function integer(min: number, max: number): Kind<number> {
  const refuse = (name: string, value: string) => new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${value}")`);
  return {
    format: `a whole number from ${min} to ${max}`,
    parse(value, name) {
      if (!/^\d+$/.test(value)) throw refuse(name, value);
      const n = Number(value);
      if (n < min || n > max) throw refuse(name, value);
      return n;
    },
  };
}

/** Bytes: `1048576`, `512kb`, `1mb` (binary units). */
export function size(minBytes: number): Kind<number> {
  return {
    format: `a size; at least ${formatBytes(minBytes)}`,
    parse(value, name) {
      const m = /^(\d+)\s*(b|kb|k|kib|mb|m|mib)?$/i.exec(value);
      if (!m) throw new ConfigError(name, `must be a size such as 1048576, 512kb or 1mb (got "${value}")`);
      const unit = (m[2] ?? 'b').toLowerCase();
      const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
      const bytes = Number(m[1]) * factor;
      if (bytes < minBytes) throw new ConfigError(name, `must be at least ${formatBytes(minBytes)} (got "${value}")`);
      if (!Number.isSafeInteger(bytes)) throw new ConfigError(name, `is too large (got "${value}")`);
      return bytes;
    },
  };
}

function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}mb`;
  if (bytes % 1024 === 0) return `${bytes / 1024}kb`;
  return `${bytes} bytes`;
}

/** Node's timers take at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * "15m", "30s", "2h", "1d", "500ms", or plain milliseconds, from `min` (more
 * than zero unless said) to `max`. One form for every time the service takes.
 */
export function parseDuration(name: string, raw: string, max: number = Number.MAX_SAFE_INTEGER, min = 1): number {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `must be a duration such as 30s, 15m or 2h (got "${raw}")`);
  const unit = (m[2] ?? 'ms').toLowerCase() as keyof typeof DURATION_UNITS;
  const ms = Number(m[1]) * DURATION_UNITS[unit];
  if (ms < min) throw new ConfigError(name, min === 1 ? `must be more than zero (got "${raw}")` : `must be at least ${formatDuration(min)} (got "${raw}")`);
  // Also refuses Infinity, which 400 digits read as.
  if (!(ms <= max)) throw new ConfigError(name, `must be at most ${formatDuration(max)} (got "${raw}")`);
  return ms;
}

/** Milliseconds in the largest unit that writes them exactly: 90000 -> "90s", 3600000 -> "1h". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const unitMs = DURATION_UNITS[unit];
    if (ms >= unitMs && ms % unitMs === 0) return `${ms / unitMs}${unit}`;
  }
  return `${ms}ms`;
}

export function duration(options: { readonly min?: number; readonly max?: number } = {}): Kind<number> {
  const min = options.min ?? 1;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const bounds = [
    min === 0 ? '`0` for none' : min === 1 ? 'more than zero' : `at least \`${formatDuration(min)}\``,
    ...(max === Number.MAX_SAFE_INTEGER
      ? []
      : [max === MAX_TIMER_MS ? 'at most about 24 days (the longest Node timer)' : `at most \`${formatDuration(max)}\``]),
  ];
  // The forms themselves are explained once, at the top of the docs.
  return { format: `a duration; ${bounds.join(', ')}`, parse: (value, name) => parseDuration(name, value, max, min) };
}

/** An http(s) URL, trailing slashes dropped (paths are appended to it). */
export function url(): Kind<string> {
  return {
    format: 'an `http://` or `https://` URL',
    parse(value, name) {
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        throw new ConfigError(name, `must be an http(s) URL (got "${value}")`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(name, `must be an http(s) URL (got "${value}")`);
      return value.replace(/\/+$/, '');
    },
  };
}

/** Splits on commas and white space: the form every list variable takes. */
export function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Several values separated by commas or spaces; `check` refuses an item with `message`, which must not quote it (secrets). */
export function list(
  options: { readonly format?: string; readonly check?: (item: string) => boolean; readonly message?: string } = {},
): Kind<readonly string[]> {
  return {
    format: options.format ?? 'a list',
    parse(value, name) {
      const items = splitList(value);
      if (options.check && !items.every(options.check)) throw new ConfigError(name, options.message ?? 'has an item that is not valid');
      return Object.freeze(items);
    },
  };
}

/** One of a fixed set of words, any case. */
export function oneOf<const W extends string>(words: readonly W[]): Kind<W> {
  return {
    format: `one of ${words.map(code).join(', ')}`,
    parse(value, name) {
      const word = value.toLowerCase();
      if (!(words as readonly string[]).includes(word)) throw new ConfigError(name, `must be one of ${words.join(', ')} (got "${value}")`);
      return word as W;
    },
  };
}

/** Requests per window; null is no limit. */
export type RateLimit = { readonly requests: number; readonly perMs: number } | null;

/** "100/1s", "600/1m", "10/s": requests per window; "off": none. */
export function rateLimit(): Kind<RateLimit> {
  return {
    format: 'a rate limit',
    parse(value, name) {
      if (value.toLowerCase() === 'off') return null;
      const m = /^(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)?$/i.exec(value);
      const requests = m ? Number(m[1]) : 0;
      if (!m || requests < 1 || requests > 1_000_000 || (m[2] === '' && !m[3])) {
        throw new ConfigError(name, `must be requests per window such as 100/1s or 600/1m (got "${value}")`);
      }
      return Object.freeze({ requests, perMs: parseDuration(name, `${m[2] || '1'}${m[3] ?? ''}`) });
    },
  };
}
