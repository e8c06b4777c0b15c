import net from 'node:net';
import path from 'node:path';
import {
  ConfigError,
  duration,
  integer,
  list,
  MAX_TIMER_MS,
  oneOf,
  patternVariable,
  rateLimit,
  section,
  size,
  splitList,
  text,
  variable,
  type Kind,
  type RateLimit,
} from './variables.js';

/** Where the store lives; decided once from DATABASE_URL. */
export type DatabaseConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/** Politeness towards one upstream API: requests per window (null: none) and requests at once. */
export interface UpstreamLimits {
  readonly rateLimit: RateLimit;
  readonly concurrency: number;
}

const DEFAULT_DATABASE_URL = 'sqlite:./data/warehouse.db';

export function parseDatabaseUrl(raw: string | undefined): DatabaseConfig {
  const value = raw === undefined || raw.trim() === '' ? DEFAULT_DATABASE_URL : raw.trim();
  if (/^postgres(ql)?:\/\//i.test(value)) {
    try {
      new URL(value);
    } catch {
      // Never quote the URL: it may hold the password.
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

const databaseUrl: Kind<DatabaseConfig> = {
  format: '`sqlite:PATH` (or a bare path) for the embedded store; `postgres://…` or `postgresql://…` for PostgreSQL',
  parse: (value) => Object.freeze(parseDatabaseUrl(value)),
};

/** An IPv4 or IPv6 address, optionally with a /prefix length. */
function isAddressOrRange(s: string): boolean {
  const [address, prefix, extra] = s.split('/');
  const version = net.isIP(address ?? '');
  if (version === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

const trustProxy: Kind<boolean | number | readonly string[]> = {
  format: '`true` (any peer), `false`, a number of proxy hops from 1 to 10, or IP addresses and CIDR ranges such as `10.0.0.0/8, ::1`',
  parse(value, name) {
    const word = value.toLowerCase();
    if (word === 'false' || word === 'off') return false;
    if (word === 'true') return true;
    if (/^\d+$/.test(word)) {
      const hops = Number(word);
      if (hops < 1 || hops > 10) throw new ConfigError(name, `must be a number of proxy hops from 1 to 10 (got "${value}")`);
      return hops;
    }
    const ranges = splitList(value);
    const bad = ranges.find((r) => !isAddressOrRange(r));
    if (bad !== undefined) throw new ConfigError(name, `must be true, false, a number of hops, or IP addresses and CIDR ranges (got "${bad}")`);
    return Object.freeze(ranges);
  },
};

const corsOrigins: Kind<'*' | readonly string[] | null> = {
  format: "`*`, or origins such as `https://app.example.com, http://localhost:3000` (scheme, host and port, as a browser's `Origin` header has them)",
  parse(value, name) {
    const origins = splitList(value);
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
        throw new ConfigError(name, `must be * or origins such as https://app.example.com (scheme, host and port only; got "${o}")`);
      }
    }
    return Object.freeze(origins);
  },
};

/** Standard Webhooks secrets: `whsec_` (optional) and base64 of at least 8 bytes. */
/** An origin (`https://hooks.example.com`): scheme, host and port, nothing else; given back in its normal form. */
const publicOrigin: Kind<string> = {
  format: 'an `http://` or `https://` origin, without a path',
  parse(value, name) {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new ConfigError(name, `must be an origin such as https://hooks.example.com (got "${value}")`);
    }
    const bare = (u.pathname === '/' || u.pathname === '') && u.search === '' && u.hash === '' && u.username === '' && u.password === '';
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !bare) {
      throw new ConfigError(name, `must be an origin such as https://hooks.example.com: scheme and host only, no path, query or user (got "${value}")`);
    }
    return u.origin;
  },
};

function isWebhookSecret(secret: string): boolean {
  const body = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  return /^[A-Za-z0-9+/]+={0,2}$/.test(body) && Buffer.from(body, 'base64').length >= 8;
}

const NO_ITEMS: readonly string[] = Object.freeze([]);

/** A shorter key can be found by guessing; this many characters of random text cannot. */
export const MIN_API_KEY_LENGTH = 16;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const serviceSection = section('The service', {
  host: variable('HOST', text({ format: 'an address or host name' }), { default: '127.0.0.1', description: 'where it listens' }),
  port: variable('PORT', integer(0, 65535), { default: '8000', description: 'the port it listens on (`0`: any free port)' }),
  database: variable('DATABASE_URL', databaseUrl, {
    default: DEFAULT_DATABASE_URL,
    description: 'the store: a SQLite file (its folder is made if missing) or a PostgreSQL database; relative paths are from the working directory',
  }),
  storeLockWaitMs: variable('STORE_LOCK_WAIT', duration({ max: 600_000 }), {
    default: '5s',
    description:
      "how long a write waits for the store's write lock held by another connection (another process on the SQLite file, a long transaction on PostgreSQL) before it gives up: a webhook then gets `503` with `Retry-After`. SQLite waits on timers, so health checks and reads go on meanwhile; PostgreSQL uses it as the write transaction's `lock_timeout`",
  }),
  logLevel: variable('LOG_LEVEL', oneOf(LOG_LEVELS), { default: 'info', description: 'the pino log level; logs are JSON lines on stdout' }),
  apiKeys: variable(
    'API_KEY',
    list({
      format: `a list of keys, each at least ${MIN_API_KEY_LENGTH} characters`,
      check: (key) => key.length >= MIN_API_KEY_LENGTH,
      message: `has a key shorter than ${MIN_API_KEY_LENGTH} characters, which can be guessed: use long random keys (openssl rand -hex 32)`,
    }),
    {
      unset: NO_ITEMS,
      means: 'open, with a warning at start',
      description:
        'when set, every route except the webhook routes, `/healthz`, `/readyz`, `/docs`, `/openapi.json` and the console (`/`, `/ui/…`: its page and files hold no data) wants `Authorization: Bearer <key>` with one of the keys',
    },
  ),
  authFailureLimit: variable('AUTH_FAILURE_LIMIT', rateLimit(), {
    default: '20/1m',
    description:
      'failed `API_KEY` checks (`401`: no key, a wrong one, or a malformed `Authorization` header) allowed per client address in a window; past it, every request of that address to a protected route, even one with a right key, gets `429` with `Retry-After` until the window ends. Failures are logged at `warn` once per address and window, with their count',
  }),
  maxConnections: variable('MAX_CONNECTIONS', integer(1, 1_000_000), {
    default: '4000',
    description:
      "open client connections at once; a connection past it is closed at once. Lowered to the process's open-file limit less 128 when that is lower",
  }),
  pageMaxBytes: variable('PAGE_MAX_BYTES', size(1024), {
    default: '4mb',
    description:
      'the stored size of the items of one page of `GET /data`, `/customers`, `/campaigns` and `/webhooks/events`: a page stops early when its next item would pass it (the first item always comes) and gives `next_cursor` to go on',
  }),
  bodyLimitBytes: variable('BODY_LIMIT', size(1024), { default: '1mb', description: 'the largest request body' }),
  requestTimeoutMs: variable('REQUEST_TIMEOUT', duration({ max: 3_600_000 }), {
    default: '30s',
    description: 'a request, headers and body, must arrive within this; a slower client gets `408` and is disconnected',
  }),
  trustProxy: variable('TRUST_PROXY', trustProxy, {
    unset: false,
    means: 'none; the client is the TCP peer',
    description: 'which peers may name the client in `X-Forwarded-For` (the address `WEBHOOK_RATE_LIMIT` counts)',
  }),
  corsOrigins: variable('CORS_ORIGINS', corsOrigins, {
    unset: null,
    means: 'no CORS headers, so browsers refuse cross-origin calls',
    description:
      'browser origins whose scripts may call the API; preflights are answered before the `API_KEY` check (they carry no key), and the key is still required on the request itself',
  }),
});

export const webhookSection = section('Webhooks', {
  webhookSecrets: variable(
    'WEBHOOK_SECRET',
    list({ check: isWebhookSecret, message: 'must be whsec_ followed by base64 (at least 8 bytes); separate several with spaces or commas' }),
    {
      unset: NO_ITEMS,
      means: 'unsigned webhooks taken, with a warning at start',
      format: 'a list of `whsec_<base64>` secrets (at least 8 bytes each); several allow rotation',
      description: 'when set, webhooks must carry a valid [Standard Webhooks](https://www.standardwebhooks.com/) signature',
    },
  ),
  publicUrl: variable('PUBLIC_URL', publicOrigin, {
    unset: null,
    means: 'rebuilt from `X-Forwarded-Proto`/`X-Forwarded-Host` and `Host`',
    description:
      'the origin webhook senders call (the one in front of any proxy): provider signatures that cover the URL are checked against it plus the request path, instead of a URL rebuilt from the request headers',
  }),
  maxRecordsPerDelivery: variable('MAX_RECORDS_PER_DELIVERY', integer(1, 100_000), { default: '1000', description: 'records in one webhook request' }),
  writerMaxDelayMs: variable('WRITER_MAX_DELAY_MS', duration({ min: 0, max: 1000 }), {
    default: '0',
    description:
      'group commit: how long the first webhook of a batch waits for others. `0`: no wait; a batch holds what arrived in one turn of the event loop, and what arrives while it commits forms the next (see [BENCHMARKS.md](../BENCHMARKS.md))',
  }),
  writerMaxBatchRecords: variable('WRITER_MAX_BATCH_RECORDS', integer(1, 100_000), {
    default: '5000',
    description: 'group commit: records that make a batch full',
  }),
  writerMaxQueuedBytes: variable('WRITER_MAX_QUEUED_BYTES', size(1024), {
    default: '64mb',
    description:
      'webhook bodies waiting for the store at once (queued or in the batch being committed); past it a delivery gets `503` with `Retry-After` and is counted in `tributary_webhook_queue_full_total`',
  }),
  webhookRetentionMs: variable('WEBHOOK_RETENTION', duration(), {
    default: '30d',
    description: 'processed and duplicate inbox rows older than this are deleted; also how long a delivery id is remembered for de-duplication',
  }),
  webhookFailedRetentionMs: variable('WEBHOOK_FAILED_RETENTION', duration(), {
    unset: null,
    means: 'kept until replayed',
    description: 'dead letters (and rows left `received`) older than this are deleted',
  }),
  webhookRateLimit: variable('WEBHOOK_RATE_LIMIT', rateLimit(), {
    unset: null,
    means: 'no limit',
    description: 'requests per client (IP address) over all webhook routes together; over it: `429` with `Retry-After`',
  }),
});

export const taskSection = section('Syncs and tasks', {
  syncIntervals: patternVariable('SYNC_INTERVAL_<SOURCE>', /^SYNC_INTERVAL_([A-Za-z0-9_]+)$/, duration(), {
    means: 'syncs start only when asked',
    // The source part in any case (SYNC_INTERVAL_crm too): a name silently ignored would be a schedule that never runs.
    description:
      "run that source's sync on a schedule, e.g. `SYNC_INTERVAL_CRM=15m` (the source name in any case; a name with `-` cannot have one); never starts a second run while one is active",
  }),
  leaseMs: variable('TASK_LEASE', duration(), {
    default: '15s',
    description: "a running task's lease: a dead process's task is taken back after it",
  }),
  heartbeatMs: variable('TASK_HEARTBEAT', duration({ max: MAX_TIMER_MS }), {
    default: '1s',
    description: 'how often the lease is renewed and the cancel flag read; at most half of `TASK_LEASE`',
  }),
  pollMs: variable('TASK_POLL', duration({ max: MAX_TIMER_MS }), { default: '1s', description: 'how often the queue is polled' }),
  maxConcurrent: variable('TASK_MAX_CONCURRENT', integer(1, 64), { default: '4', description: 'tasks run at once per process' }),
  maxAttempts: variable('TASK_MAX_ATTEMPTS', integer(1, 100), {
    default: '5',
    description:
      'times a task may be lost (its process dies under it and the lease lapses, or the store keeps refusing a page past its retries) before it fails for good; claims after a rate-limit park or a shutdown do not count',
  }),
});

/** A lease that lapses between two renewals would be taken back from a live run every time. */
export function checkHeartbeat(leaseMs: number, heartbeatMs: number): void {
  if (heartbeatMs * 2 > leaseMs) {
    throw new ConfigError('TASK_HEARTBEAT', `must be at most half of TASK_LEASE (${leaseMs} ms), so a renewal always comes before the lease lapses`);
  }
}
