import net from 'node:net';
import path from 'node:path';
import { loadSourcesFile, SourcesFileError, type DeclaredSourceConfig } from './providers/declared/load-sources-file.js';

/** Where the store lives; decided once from DATABASE_URL. */
export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string };

/** Politeness towards one upstream API: requests per window (null: none) and requests at once. */
export interface UpstreamLimits {
  readonly rateLimit: { readonly requests: number; readonly perMs: number } | null;
  readonly concurrency: number;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly database: DatabaseConfig;
  /** Bearer keys accepted on protected routes; empty means the API is open. */
  readonly apiKeys: readonly string[];
  /** Standard Webhooks secrets (`whsec_…`); several allow rotation. Empty means unsigned webhooks are taken. */
  readonly webhookSecrets: readonly string[];
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly maxRecordsPerDelivery: number;
  /** Group commit: how long the writer waits to gather concurrent webhook writes, and how many records make a batch full. */
  readonly writerMaxDelayMs: number;
  readonly writerMaxBatchRecords: number;
  /** Background tasks: lease length, heartbeat (also how fast a cancel is seen), queue poll, parallel tasks per process. */
  readonly tasks: {
    readonly leaseMs: number;
    readonly heartbeatMs: number;
    readonly pollMs: number;
    readonly maxConcurrent: number;
    /** TASK_MAX_ATTEMPTS: lease losses (a dead process) after which a task fails. */
    readonly maxAttempts: number;
  };
  /** SYNC_INTERVAL_<SOURCE>: run that source's sync on this interval (ms). */
  readonly syncIntervals: Readonly<Record<string, number>>;
  readonly hubspot: { readonly accessToken: string | undefined; readonly baseUrl: string } & UpstreamLimits;
  readonly mailchimp: { readonly apiKey: string | undefined; readonly baseUrl: string | undefined } & UpstreamLimits;
  /** SOURCES_FILE: JSON or YAML declaring more REST sources; read and checked at start. */
  readonly sourcesFile: string | undefined;
  /** The sources it declares, their credentials read from the environment variables it names. */
  readonly declaredSources: readonly DeclaredSourceConfig[];
  /** HUBSPOT_CLIENT_SECRET: the app's client secret(s) that sign X-HubSpot-Signature-v3; empty takes unsigned HubSpot webhooks. */
  readonly hubspotClientSecrets: readonly string[];
  /** MAILCHIMP_WEBHOOK_SECRET: the secret in the Mailchimp webhook URL; unset turns the Mailchimp route off. */
  readonly mailchimpWebhookSecret: string | undefined;
  /** WEBHOOK_RETENTION: processed and duplicate inbox rows older than this are deleted (ms). */
  readonly webhookRetentionMs: number;
  /** WEBHOOK_FAILED_RETENTION: dead letters older than this are deleted (ms); null keeps them until replayed. */
  readonly webhookFailedRetentionMs: number | null;
  /** WEBHOOK_RATE_LIMIT: requests per client over the webhook routes; null is no limit. */
  readonly webhookRateLimit: { readonly max: number; readonly windowMs: number } | null;
  /** REQUEST_TIMEOUT: a request (headers and body) must arrive within this (ms). */
  readonly requestTimeoutMs: number;
  /**
   * TRUST_PROXY: which peers' X-Forwarded-For names the client (its IP is
   * what the webhook rate limit counts): false (none), true (any), a number
   * of proxy hops, or addresses and CIDR ranges.
   */
  readonly trustProxy: boolean | number | readonly string[];
  /** CORS_ORIGINS: browser origins allowed to call the API ('*' for any); null answers no cross-origin request. */
  readonly corsOrigins: '*' | readonly string[] | null;
}

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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Env = Record<string, string | undefined>;

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  return value;
}

/** "1mb", "512kb", "1048576" -> bytes. */
function readSize(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const m = /^(\d+)\s*(b|kb|k|kib|mb|m|mib)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `must be a size such as 1048576, 512kb or 1mb (got "${raw}")`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
  const value = Number(m[1]) * factor;
  if (value < 1024) throw new ConfigError(name, `must be at least 1kb (got "${raw}")`);
  if (!Number.isSafeInteger(value)) throw new ConfigError(name, `is too large (got "${raw}")`);
  return value;
}

/** Node's timers take at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** "15m", "30s", "2h", "500ms", or plain milliseconds, at most `max`. */
export function parseDuration(name: string, raw: string, max: number = Number.MAX_SAFE_INTEGER): number {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `must be a duration such as 30s, 15m or 2h (got "${raw}")`);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] as number;
  const value = Number(m[1]) * factor;
  if (value <= 0) throw new ConfigError(name, `must be more than zero (got "${raw}")`);
  if (!(value <= max)) throw new ConfigError(name, `must be at most ${max} ms (got "${raw}")`);
  return value;
}

function readDuration(env: Env, name: string, fallback: number, max?: number): number {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : parseDuration(name, raw, max);
}

function readIntervals(env: Env): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, raw] of Object.entries(env)) {
    // The source part in any case (SYNC_INTERVAL_crm too): a name silently ignored would be a schedule that never runs.
    const m = /^SYNC_INTERVAL_([A-Za-z0-9_]+)$/.exec(name);
    if (!m || raw === undefined || raw.trim() === '') continue;
    out[(m[1] as string).toLowerCase()] = parseDuration(name, raw);
  }
  return out;
}

function readList(env: Env, name: string): string[] {
  const raw = env[name];
  if (!raw) return [];
  return raw
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** An IPv4 or IPv6 address, optionally with a /prefix length. */
function isAddressOrRange(s: string): boolean {
  const [address, prefix, extra] = s.split('/');
  const version = net.isIP(address ?? '');
  if (version === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

function readTrustProxy(env: Env): boolean | number | string[] {
  const raw = env.TRUST_PROXY?.trim().toLowerCase();
  if (!raw || raw === 'false' || raw === 'off') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops < 1 || hops > 10) throw new ConfigError('TRUST_PROXY', `must be a number of proxy hops from 1 to 10 (got "${env.TRUST_PROXY}")`);
    return hops;
  }
  const ranges = readList(env, 'TRUST_PROXY');
  const bad = ranges.find((r) => !isAddressOrRange(r));
  if (bad !== undefined) {
    throw new ConfigError('TRUST_PROXY', `must be true, false, a number of hops, or IP addresses and CIDR ranges (got "${bad}")`);
  }
  return ranges;
}

/** CORS_ORIGINS: unset (off), `*`, or origins such as `https://app.example.com`, each exactly as a browser sends it. */
function readCorsOrigins(env: Env): '*' | string[] | null {
  const origins = readList(env, 'CORS_ORIGINS');
  if (origins.length === 0) return null;
  if (origins.length === 1 && origins[0] === '*') return '*';
  for (const o of origins) {
    let origin: string | null = null;
    try {
      origin = new URL(o).origin;
    } catch {
      // reported below
    }
    // An origin is scheme://host[:port], nothing more: a browser's Origin header never has a path or a trailing slash.
    if (origin === null || origin === 'null' || origin !== o) {
      throw new ConfigError('CORS_ORIGINS', `must be * or origins such as https://app.example.com (scheme, host and port only; got "${o}")`);
    }
  }
  return origins;
}

function readUrl(env: Env, name: string, fallback: string | undefined): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ConfigError(name, `must be an http(s) URL (got "${raw}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `must be an http(s) URL (got "${raw}")`);
  }
  return raw.trim().replace(/\/+$/, '');
}

export function parseDatabaseUrl(raw: string | undefined): DatabaseConfig {
  const value = raw === undefined || raw.trim() === '' ? 'sqlite:./data/warehouse.db' : raw.trim();
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      throw new ConfigError('DATABASE_URL', `is not a valid PostgreSQL URL`);
    }
    return { kind: 'postgres', url: value };
  }
  if (/^sqlite:/i.test(value)) {
    // sqlite:./x.db, sqlite:/abs/x.db, sqlite:///abs/x.db, sqlite://./x.db
    let rest = value.slice('sqlite:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2);
    if (rest === '') throw new ConfigError('DATABASE_URL', 'names no SQLite file (use sqlite:./data/warehouse.db)');
    return { kind: 'sqlite', path: rest === ':memory:' ? rest : path.resolve(rest) };
  }
  // Any other `scheme:` (with or without //) is a mistake, not a file name; one
  // letter before the colon is left alone as a Windows drive (C:\data\x.db).
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(value);
  if (scheme) {
    throw new ConfigError('DATABASE_URL', `has an unknown scheme "${scheme[1]}:" (use sqlite:PATH or postgres://…)`);
  }
  return { kind: 'sqlite', path: value === ':memory:' ? value : path.resolve(value) };
}

/** Mailchimp keys end in `-<dc>`; the API lives at that data centre. */
export function mailchimpBaseUrlFromKey(apiKey: string): string | undefined {
  const dc = /-([a-z]+\d+)$/i.exec(apiKey)?.[1];
  return dc ? `https://${dc.toLowerCase()}.api.mailchimp.com/3.0` : undefined;
}

/** "100/1s", "600/1m", "10/s": requests per window. */
function readRateLimit(env: Env, name: string): { max: number; windowMs: number } | null {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '' || raw.trim().toLowerCase() === 'off') return null;
  const m = /^(\d+)\s*\/\s*(\d*)\s*(ms|s|m|h)?$/i.exec(raw.trim());
  const max = m ? Number(m[1]) : 0;
  if (!m || max < 1 || max > 1_000_000 || (m[2] === '' && !m[3])) {
    throw new ConfigError(name, `must be requests per window such as 100/1s or 600/1m (got "${raw}")`);
  }
  const windowMs = parseDuration(name, `${m[2] || '1'}${m[3] ?? ''}`);
  return Object.freeze({ max, windowMs });
}

/** An upstream's limit: the same "100/10s" form; unset keeps the provider's default, "off" lifts it. */
function readUpstreamRateLimit(env: Env, name: string, fallback: UpstreamLimits['rateLimit']): UpstreamLimits['rateLimit'] {
  if (env[name] === undefined || env[name]?.trim() === '') return fallback;
  const limit = readRateLimit(env, name);
  return limit ? Object.freeze({ requests: limit.max, perMs: limit.windowMs }) : null;
}

/** SOURCES_FILE, read and validated now: a bad file stops the start with one line, like any bad value. */
function readSourcesFile(env: Env): { file: string | undefined; sources: DeclaredSourceConfig[] } {
  const file = env.SOURCES_FILE?.trim() || undefined;
  if (!file) return { file: undefined, sources: [] };
  try {
    return { file, sources: loadSourcesFile(file, env) };
  } catch (err) {
    if (err instanceof SourcesFileError) throw new ConfigError('SOURCES_FILE', err.message);
    throw err;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${env.LOG_LEVEL}")`);
  }
  const webhookSecrets = readList(env, 'WEBHOOK_SECRET');
  for (const secret of webhookSecrets) {
    const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || Buffer.from(body, 'base64').length < 8) {
      throw new ConfigError('WEBHOOK_SECRET', 'must be whsec_ followed by base64 (at least 8 bytes); separate several with spaces or commas');
    }
  }
  const mailchimpKey = env.MAILCHIMP_API_KEY?.trim() || undefined;
  const mailchimpBase = readUrl(env, 'MAILCHIMP_BASE_URL', mailchimpKey ? mailchimpBaseUrlFromKey(mailchimpKey) : undefined);
  if (mailchimpKey && !mailchimpBase) {
    // The key itself is a credential: name the variable, never echo the value.
    throw new ConfigError('MAILCHIMP_API_KEY', 'must end in its data centre, such as -us6 (or set MAILCHIMP_BASE_URL)');
  }
  const declared = readSourcesFile(env);
  const hubspotClientSecrets = readList(env, 'HUBSPOT_CLIENT_SECRET');
  const mailchimpWebhookSecret = env.MAILCHIMP_WEBHOOK_SECRET?.trim() || undefined;
  if (mailchimpWebhookSecret !== undefined && !/^[A-Za-z0-9._~-]{16,256}$/.test(mailchimpWebhookSecret)) {
    // It goes in a URL path: URL-safe characters only, and long enough not to be guessed. Never echoed.
    throw new ConfigError('MAILCHIMP_WEBHOOK_SECRET', 'must be 16 to 256 characters from A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)');
  }
  const requestTimeoutMs = readDuration(env, 'REQUEST_TIMEOUT', 30_000);
  if (requestTimeoutMs > 3_600_000) throw new ConfigError('REQUEST_TIMEOUT', `must be at most 1h (got "${env.REQUEST_TIMEOUT}")`);
  const failedRetention = env.WEBHOOK_FAILED_RETENTION?.trim();
  const leaseMs = readDuration(env, 'TASK_LEASE', 15_000);
  const heartbeatMs = readDuration(env, 'TASK_HEARTBEAT', 1_000, MAX_TIMER_MS);
  // A lease that lapses between two renewals would be taken back from a live run every time.
  if (heartbeatMs * 2 > leaseMs) {
    throw new ConfigError('TASK_HEARTBEAT', `must be at most half of TASK_LEASE (${leaseMs} ms), so a renewal always comes before the lease lapses`);
  }
  const config: Config = {
    host: env.HOST?.trim() || '127.0.0.1',
    port: readInt(env, 'PORT', 8000, 0, 65535),
    database: parseDatabaseUrl(env.DATABASE_URL),
    apiKeys: readList(env, 'API_KEY'),
    webhookSecrets,
    logLevel,
    bodyLimitBytes: readSize(env, 'BODY_LIMIT', 1024 * 1024),
    maxRecordsPerDelivery: readInt(env, 'MAX_RECORDS_PER_DELIVERY', 1000, 1, 100_000),
    writerMaxDelayMs: readInt(env, 'WRITER_MAX_DELAY_MS', 0, 0, 1000),
    writerMaxBatchRecords: readInt(env, 'WRITER_MAX_BATCH_RECORDS', 5000, 1, 100_000),
    tasks: Object.freeze({
      leaseMs,
      heartbeatMs,
      pollMs: readDuration(env, 'TASK_POLL', 1_000, MAX_TIMER_MS),
      maxConcurrent: readInt(env, 'TASK_MAX_CONCURRENT', 4, 1, 64),
      maxAttempts: readInt(env, 'TASK_MAX_ATTEMPTS', 5, 1, 100),
    }),
    syncIntervals: Object.freeze(readIntervals(env)),
    hubspot: Object.freeze({
      accessToken: env.HUBSPOT_ACCESS_TOKEN?.trim() || undefined,
      baseUrl: readUrl(env, 'HUBSPOT_BASE_URL', 'https://api.hubapi.com') as string,
      // HubSpot private apps: 100 requests per 10 seconds by default.
      rateLimit: readUpstreamRateLimit(env, 'HUBSPOT_RATE_LIMIT', { requests: 100, perMs: 10_000 }),
      concurrency: readInt(env, 'HUBSPOT_CONCURRENCY', 4, 1, 100),
    }),
    mailchimp: Object.freeze({
      apiKey: mailchimpKey,
      baseUrl: mailchimpBase,
      rateLimit: readUpstreamRateLimit(env, 'MAILCHIMP_RATE_LIMIT', null),
      // Mailchimp allows 10 simultaneous connections per user.
      concurrency: readInt(env, 'MAILCHIMP_CONCURRENCY', 10, 1, 10),
    }),
    sourcesFile: declared.file,
    declaredSources: Object.freeze(declared.sources),
    hubspotClientSecrets: Object.freeze(hubspotClientSecrets),
    mailchimpWebhookSecret,
    webhookRetentionMs: readDuration(env, 'WEBHOOK_RETENTION', 30 * 86_400_000),
    webhookFailedRetentionMs: failedRetention ? parseDuration('WEBHOOK_FAILED_RETENTION', failedRetention) : null,
    webhookRateLimit: readRateLimit(env, 'WEBHOOK_RATE_LIMIT'),
    requestTimeoutMs,
    trustProxy: readTrustProxy(env),
    corsOrigins: readCorsOrigins(env),
  };
  Object.freeze(config.database);
  Object.freeze(config.apiKeys);
  Object.freeze(config.webhookSecrets);
  if (typeof config.trustProxy === 'object') Object.freeze(config.trustProxy);
  if (Array.isArray(config.corsOrigins)) Object.freeze(config.corsOrigins);
  return Object.freeze(config);
}
