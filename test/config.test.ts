import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, CONFIG_SECTIONS, loadConfig, parseDatabaseUrl, parseDuration } from '../src/config.js';
import { renderConfigDocs } from '../src/config/docs.js';
import { formatDuration, patternVariable, duration, variable, integer } from '../src/config/variables.js';
import { mailchimpBaseUrlFromKey } from '../src/providers/mailchimp/config.js';

/** loadConfig must throw a ConfigError that names `variable`, in its field and in its one-line message. */
function expectConfigError(env: Record<string, string>, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  expect(caught, `${JSON.stringify(env)} should be refused`).toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.variable).toBe(variable);
  expect(err.message).toContain(variable);
  expect(err.message).not.toContain('\n');
  return err;
}

describe('loadConfig: defaults', () => {
  const config = loadConfig({});

  it('listens on 127.0.0.1:8000 with the embedded store in ./data/warehouse.db', () => {
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8000);
    expect(config.database).toEqual({ kind: 'sqlite', path: path.resolve('data/warehouse.db') });
  });

  it('is open (no API keys, no webhook secrets) and logs at info', () => {
    expect(config.apiKeys).toEqual([]);
    expect(config.webhookSecrets).toEqual([]);
    expect(config.logLevel).toBe('info');
  });

  it('takes 1 MiB bodies, 1000 records a delivery and the documented group-commit settings', () => {
    expect(config.bodyLimitBytes).toBe(1024 * 1024);
    expect(config.maxRecordsPerDelivery).toBe(1000);
    expect(config.writerMaxDelayMs).toBe(0);
    expect(config.writerMaxBatchRecords).toBe(5000);
  });

  it('has HubSpot at its public base and no Mailchimp without a key', () => {
    expect(config.providers.hubspot.api).toMatchObject({ accessToken: undefined, baseUrl: 'https://api.hubapi.com' });
    expect(config.providers.mailchimp.api).toMatchObject({ apiKey: undefined, baseUrl: undefined });
  });

  it('treats empty and blank values as unset', () => {
    const blank = loadConfig({
      PORT: '',
      HOST: ' ',
      DATABASE_URL: '  ',
      LOG_LEVEL: '',
      API_KEY: '',
      WEBHOOK_SECRET: '',
      BODY_LIMIT: ' ',
      HUBSPOT_BASE_URL: '',
      MAILCHIMP_API_KEY: ' ',
    });
    expect(blank).toEqual(config);
  });

  it('is frozen, nested parts included', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.database)).toBe(true);
    expect(Object.isFrozen(config.apiKeys)).toBe(true);
    expect(Object.isFrozen(config.webhookSecrets)).toBe(true);
    expect(Object.isFrozen(config.providers.hubspot.api)).toBe(true);
    expect(Object.isFrozen(config.providers.mailchimp.api)).toBe(true);
  });
});

describe('loadConfig: good values', () => {
  it('PORT and HOST', () => {
    const c = loadConfig({ PORT: '9001', HOST: '0.0.0.0' });
    expect(c.port).toBe(9001);
    expect(c.host).toBe('0.0.0.0');
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535);
    expect(loadConfig({ PORT: ' 8080 ' }).port).toBe(8080);
  });

  it('DATABASE_URL for either engine', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:./x.db' }).database).toEqual({ kind: 'sqlite', path: path.resolve('x.db') });
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/t' }).database).toEqual({ kind: 'postgres', url: 'postgres://u:p@db:5432/t' });
  });

  it('API_KEY: one key, or several separated by commas or spaces', () => {
    const [k1, k2, k3] = ['key-one-0123456789', 'key-two-0123456789', 'key-three-0123456789'];
    expect(loadConfig({ API_KEY: k1 }).apiKeys).toEqual([k1]);
    expect(loadConfig({ API_KEY: `${k1},${k2}` }).apiKeys).toEqual([k1, k2]);
    expect(loadConfig({ API_KEY: ` ${k1} , ${k2}  ${k3} ` }).apiKeys).toEqual([k1, k2, k3]);
  });

  it('WEBHOOK_SECRET: whsec_<base64>, bare base64, several for rotation', () => {
    const a = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const b = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
    expect(loadConfig({ WEBHOOK_SECRET: a }).webhookSecrets).toEqual([a]);
    expect(loadConfig({ WEBHOOK_SECRET: `${a} ${b}` }).webhookSecrets).toEqual([a, b]);
    expect(loadConfig({ WEBHOOK_SECRET: `${a},${b}` }).webhookSecrets).toEqual([a, b]);
    const bare = Buffer.alloc(16, 3).toString('base64');
    expect(loadConfig({ WEBHOOK_SECRET: bare }).webhookSecrets).toEqual([bare]);
  });

  it('LOG_LEVEL: every pino level, any case', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    }
    expect(loadConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
  });

  it('BODY_LIMIT: bytes, kb, mb', () => {
    expect(loadConfig({ BODY_LIMIT: '2048' }).bodyLimitBytes).toBe(2048);
    expect(loadConfig({ BODY_LIMIT: '512kb' }).bodyLimitBytes).toBe(512 * 1024);
    expect(loadConfig({ BODY_LIMIT: '2mb' }).bodyLimitBytes).toBe(2 * 1024 * 1024);
    expect(loadConfig({ BODY_LIMIT: '1MB' }).bodyLimitBytes).toBe(1024 * 1024);
  });

  it('MAX_RECORDS_PER_DELIVERY, WRITER_MAX_DELAY_MS, WRITER_MAX_BATCH_RECORDS', () => {
    const c = loadConfig({ MAX_RECORDS_PER_DELIVERY: '50', WRITER_MAX_DELAY_MS: '0', WRITER_MAX_BATCH_RECORDS: '100' });
    expect(c.maxRecordsPerDelivery).toBe(50);
    expect(c.writerMaxDelayMs).toBe(0);
    expect(c.writerMaxBatchRecords).toBe(100);
  });

  it('TASK_* durations and SYNC_INTERVAL_<SOURCE> schedules', () => {
    const c = loadConfig({ TASK_LEASE: '30s', TASK_POLL: '250ms', SYNC_INTERVAL_CRM: '15m', SYNC_INTERVAL_MARKETING: '2h' });
    expect(c.tasks.leaseMs).toBe(30_000);
    expect(c.tasks.pollMs).toBe(250);
    expect(c.syncIntervals).toEqual({ crm: 15 * 60_000, marketing: 2 * 3_600_000 });
    expect(loadConfig({}).syncIntervals).toEqual({});
    // Written in lower case, it was ignored without a word.
    expect(loadConfig({ SYNC_INTERVAL_crm: '15m' }).syncIntervals).toEqual({ crm: 15 * 60_000 });
  });

  it('HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_URL (trailing slash dropped)', () => {
    const c = loadConfig({ HUBSPOT_ACCESS_TOKEN: 'pat-na1-abc', HUBSPOT_BASE_URL: 'http://127.0.0.1:9999/' });
    expect(c.providers.hubspot.api).toMatchObject({ accessToken: 'pat-na1-abc', baseUrl: 'http://127.0.0.1:9999' });
  });

  it('MAILCHIMP_API_KEY: the data centre comes from the key suffix', () => {
    const c = loadConfig({ MAILCHIMP_API_KEY: '0123456789abcdef0123456789abcdef-us6' });
    expect(c.providers.mailchimp.api).toMatchObject({ apiKey: '0123456789abcdef0123456789abcdef-us6', baseUrl: 'https://us6.api.mailchimp.com/3.0' });
  });

  it('MAILCHIMP_BASE_URL overrides the data centre', () => {
    const c = loadConfig({ MAILCHIMP_API_KEY: 'abc-us6', MAILCHIMP_BASE_URL: 'http://127.0.0.1:9998/3.0/' });
    expect(c.providers.mailchimp.api.baseUrl).toBe('http://127.0.0.1:9998/3.0');
  });
});

describe('loadConfig: each bad value throws a ConfigError naming its variable', () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql:x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'sqlite:' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'postgres://u@[bad' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ WEBHOOK_SECRET: 'not-base64!' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_SECRET: 'whsec_' }, 'WEBHOOK_SECRET'],
    [{ WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }, 'WEBHOOK_SECRET'], // "short": under 8 bytes
    [{ WEBHOOK_SECRET: `whsec_${Buffer.alloc(24).toString('base64')} whsec_!!` }, 'WEBHOOK_SECRET'],
    [{ BODY_LIMIT: 'huge' }, 'BODY_LIMIT'],
    [{ BODY_LIMIT: '10' }, 'BODY_LIMIT'],
    [{ HUBSPOT_BASE_URL: 'ftp://x' }, 'HUBSPOT_BASE_URL'],
    [{ HUBSPOT_BASE_URL: 'not a url' }, 'HUBSPOT_BASE_URL'],
    [{ MAILCHIMP_BASE_URL: 'file:///etc/passwd' }, 'MAILCHIMP_BASE_URL'],
    [{ MAX_RECORDS_PER_DELIVERY: '0' }, 'MAX_RECORDS_PER_DELIVERY'],
    [{ MAX_RECORDS_PER_DELIVERY: 'many' }, 'MAX_RECORDS_PER_DELIVERY'],
    [{ WRITER_MAX_DELAY_MS: '5000' }, 'WRITER_MAX_DELAY_MS'],
    [{ WRITER_MAX_BATCH_RECORDS: '0' }, 'WRITER_MAX_BATCH_RECORDS'],
    [{ TASK_LEASE: 'soon' }, 'TASK_LEASE'],
    [{ TASK_LEASE: '2s', TASK_HEARTBEAT: '1500ms' }, 'TASK_HEARTBEAT'],
    // Numbers past what they configure: 400 nines read as Infinity, and Node's
    // timers turn a delay over 2^31-1 ms into 1 ms.
    [{ BODY_LIMIT: '9'.repeat(400) }, 'BODY_LIMIT'],
    [{ TASK_LEASE: '9'.repeat(400) }, 'TASK_LEASE'],
    [{ WEBHOOK_RETENTION: `${'9'.repeat(400)}d` }, 'WEBHOOK_RETENTION'],
    [{ TASK_POLL: '30d' }, 'TASK_POLL'],
    [{ TASK_LEASE: '90d', TASK_HEARTBEAT: '30d' }, 'TASK_HEARTBEAT'],
    [{ TASK_MAX_CONCURRENT: '0' }, 'TASK_MAX_CONCURRENT'],
    [{ SYNC_INTERVAL_CRM: 'hourly' }, 'SYNC_INTERVAL_CRM'],
    [{ SYNC_INTERVAL_CRM: '0' }, 'SYNC_INTERVAL_CRM'],
  ];
  for (const [env, variable] of cases) {
    it(`${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`, () => {
      const err = expectConfigError(env, variable);
      // The message shows what was wrong, not only that something was.
      expect(err.message.length).toBeGreaterThan(variable.length + 20);
    });
  }

  it('does not echo a secret it refuses', () => {
    const err = expectConfigError({ WEBHOOK_SECRET: 'whsec_top$ecretvalue' }, 'WEBHOOK_SECRET');
    expect(err.message).not.toContain('top$ecretvalue');
  });

  it('does not echo the password of a PostgreSQL URL it refuses', () => {
    const err = expectConfigError({ DATABASE_URL: 'postgres://user:hunter2@[bad/db' }, 'DATABASE_URL');
    expect(err.message).not.toContain('hunter2');
  });
});

describe('parseDatabaseUrl', () => {
  it('sqlite:./x.db is relative to the working directory', () => {
    expect(parseDatabaseUrl('sqlite:./x.db')).toEqual({ kind: 'sqlite', path: path.resolve('./x.db') });
    expect(parseDatabaseUrl('sqlite:data/x.db')).toEqual({ kind: 'sqlite', path: path.resolve('data/x.db') });
  });

  it('sqlite:///abs and sqlite:/abs name an absolute path', () => {
    expect(parseDatabaseUrl('sqlite:///var/lib/tributary/x.db')).toEqual({ kind: 'sqlite', path: '/var/lib/tributary/x.db' });
    expect(parseDatabaseUrl('sqlite:/var/lib/tributary/x.db')).toEqual({ kind: 'sqlite', path: '/var/lib/tributary/x.db' });
  });

  it('sqlite://./x.db is relative too', () => {
    expect(parseDatabaseUrl('sqlite://./x.db')).toEqual({ kind: 'sqlite', path: path.resolve('./x.db') });
  });

  it('a bare path is a SQLite file', () => {
    expect(parseDatabaseUrl('./bare.db')).toEqual({ kind: 'sqlite', path: path.resolve('bare.db') });
    expect(parseDatabaseUrl('/tmp/abs.db')).toEqual({ kind: 'sqlite', path: '/tmp/abs.db' });
    expect(parseDatabaseUrl('plain.db')).toEqual({ kind: 'sqlite', path: path.resolve('plain.db') });
  });

  it(':memory: stays in memory', () => {
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('postgres:// and postgresql:// name PostgreSQL, kept as given', () => {
    expect(parseDatabaseUrl('postgres://postgres@127.0.0.1:5432/db')).toEqual({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/db' });
    expect(parseDatabaseUrl('postgresql://u:p@h/db?sslmode=require')).toEqual({
      kind: 'postgres',
      url: 'postgresql://u:p@h/db?sslmode=require',
    });
    expect(parseDatabaseUrl('POSTGRES://h/db').kind).toBe('postgres');
  });

  it('unset means sqlite:./data/warehouse.db', () => {
    expect(parseDatabaseUrl(undefined)).toEqual({ kind: 'sqlite', path: path.resolve('data/warehouse.db') });
    expect(parseDatabaseUrl('')).toEqual({ kind: 'sqlite', path: path.resolve('data/warehouse.db') });
  });

  it('an unknown scheme is refused, with or without //', () => {
    for (const raw of ['mysql://x', 'mysql:x', 'http://h/db', 'redis://h']) {
      expect(() => parseDatabaseUrl(raw), raw).toThrow(ConfigError);
      expect(() => parseDatabaseUrl(raw), raw).toThrow(/DATABASE_URL/);
    }
  });
});

describe('mailchimpBaseUrlFromKey', () => {
  it('takes the data centre from the suffix after the last dash', () => {
    expect(mailchimpBaseUrlFromKey('abcdef0123-us6')).toBe('https://us6.api.mailchimp.com/3.0');
    expect(mailchimpBaseUrlFromKey('abc-def-us21')).toBe('https://us21.api.mailchimp.com/3.0');
    expect(mailchimpBaseUrlFromKey('abc-US19')).toBe('https://us19.api.mailchimp.com/3.0');
  });

  it('has no base for a key without a data centre', () => {
    expect(mailchimpBaseUrlFromKey('abcdef0123')).toBeUndefined();
    expect(mailchimpBaseUrlFromKey('abcdef0123-')).toBeUndefined();
    expect(mailchimpBaseUrlFromKey('abc-us6/evil.example')).toBeUndefined();
  });

  it('a key without a data centre and no MAILCHIMP_BASE_URL is refused, naming the variable', () => {
    expectConfigError({ MAILCHIMP_API_KEY: 'no-datacentre-here!' }, 'MAILCHIMP_API_KEY');
  });
});

describe('upstream politeness limits', () => {
  it('default to HubSpot 100 per 10 s with 4 at once, and Mailchimp 10 connections without a rate', () => {
    const c = loadConfig({});
    expect(c.providers.hubspot.api.rateLimit).toEqual({ requests: 100, perMs: 10_000 });
    expect(c.providers.hubspot.api.concurrency).toBe(4);
    expect(c.providers.mailchimp.api.rateLimit).toBeNull();
    expect(c.providers.mailchimp.api.concurrency).toBe(4);
  });

  it('are configurable, and "off" lifts a rate limit', () => {
    const c = loadConfig({ HUBSPOT_RATE_LIMIT: '50/1s', HUBSPOT_CONCURRENCY: '2', MAILCHIMP_RATE_LIMIT: '10/1m', MAILCHIMP_CONCURRENCY: '3' });
    expect(c.providers.hubspot.api.rateLimit).toEqual({ requests: 50, perMs: 1_000 });
    expect(c.providers.hubspot.api.concurrency).toBe(2);
    expect(c.providers.mailchimp.api.rateLimit).toEqual({ requests: 10, perMs: 60_000 });
    expect(loadConfig({ HUBSPOT_RATE_LIMIT: 'off' }).providers.hubspot.api.rateLimit).toBeNull();
  });

  it('refuse bad values naming the variable', () => {
    expect(() => loadConfig({ HUBSPOT_RATE_LIMIT: 'lots' })).toThrow(/HUBSPOT_RATE_LIMIT/);
    expect(() => loadConfig({ MAILCHIMP_CONCURRENCY: '11' })).toThrow(/MAILCHIMP_CONCURRENCY/);
    expect(() => loadConfig({ HUBSPOT_CONCURRENCY: '0' })).toThrow(/HUBSPOT_CONCURRENCY/);
  });
});

describe('durations: one form for every time', () => {
  const forms: Array<[string, number]> = [
    ['500ms', 500],
    ['250', 250],
    ['30s', 30_000],
    ['15m', 15 * 60_000],
    ['2h', 2 * 3_600_000],
    ['1d', 86_400_000],
    [' 5 S ', 5_000],
  ];
  for (const [raw, ms] of forms) {
    it(`"${raw}" is ${ms} ms for each time variable`, () => {
      const c = loadConfig({
        TASK_LEASE: '90d', // long enough for any heartbeat below
        TASK_HEARTBEAT: raw,
        TASK_POLL: raw,
        WEBHOOK_RETENTION: raw,
        WEBHOOK_FAILED_RETENTION: raw,
        SYNC_INTERVAL_CRM: raw,
      });
      expect([c.tasks.heartbeatMs, c.tasks.pollMs, c.webhookRetentionMs, c.webhookFailedRetentionMs, c.syncIntervals.crm]).toEqual(Array(5).fill(ms));
      expect(loadConfig({ TASK_LEASE: raw, TASK_HEARTBEAT: '1' }).tasks.leaseMs).toBe(ms);
      // REQUEST_TIMEOUT stops at an hour; WRITER_MAX_DELAY_MS at a second.
      if (ms <= 3_600_000) expect(loadConfig({ REQUEST_TIMEOUT: raw }).requestTimeoutMs).toBe(ms);
      if (ms <= 1000) expect(loadConfig({ WRITER_MAX_DELAY_MS: raw }).writerMaxDelayMs).toBe(ms);
    });
  }

  it('WRITER_MAX_DELAY_MS keeps its plain milliseconds and takes the duration forms, 0 included', () => {
    expect(loadConfig({ WRITER_MAX_DELAY_MS: '5' }).writerMaxDelayMs).toBe(5);
    expect(loadConfig({ WRITER_MAX_DELAY_MS: '5ms' }).writerMaxDelayMs).toBe(5);
    expect(loadConfig({ WRITER_MAX_DELAY_MS: '0' }).writerMaxDelayMs).toBe(0);
    expect(loadConfig({ WRITER_MAX_DELAY_MS: '0ms' }).writerMaxDelayMs).toBe(0);
    expect(loadConfig({ WRITER_MAX_DELAY_MS: '1s' }).writerMaxDelayMs).toBe(1000);
    expect(loadConfig({ WRITER_MAX_DELAY_MS: '1000' }).writerMaxDelayMs).toBe(1000);
  });

  it('the bounds are checked in milliseconds whatever the unit', () => {
    expect(expectConfigError({ WRITER_MAX_DELAY_MS: '2s' }, 'WRITER_MAX_DELAY_MS').message).toContain('at most 1s');
    expectConfigError({ WRITER_MAX_DELAY_MS: '1001' }, 'WRITER_MAX_DELAY_MS');
    expectConfigError({ WRITER_MAX_DELAY_MS: '5 ms later' }, 'WRITER_MAX_DELAY_MS');
    expectConfigError({ WRITER_MAX_DELAY_MS: '-5' }, 'WRITER_MAX_DELAY_MS');
    expect(expectConfigError({ REQUEST_TIMEOUT: '61m' }, 'REQUEST_TIMEOUT').message).toContain('at most 1h');
    expect(loadConfig({ REQUEST_TIMEOUT: '60m' }).requestTimeoutMs).toBe(3_600_000);
    expect(expectConfigError({ TASK_LEASE: '0s' }, 'TASK_LEASE').message).toContain('more than zero');
    expectConfigError({ WEBHOOK_FAILED_RETENTION: '0' }, 'WEBHOOK_FAILED_RETENTION');
    expectConfigError({ WEBHOOK_RETENTION: '1.5h' }, 'WEBHOOK_RETENTION');
    expectConfigError({ TASK_POLL: '1w' }, 'TASK_POLL');
  });

  it('parseDuration and formatDuration agree', () => {
    for (const text of ['1ms', '999ms', '1s', '90s', '15m', '2h', '30d']) expect(formatDuration(parseDuration('X', text))).toBe(text);
    expect(formatDuration(2_147_483_647)).toBe('2147483647ms');
    expect(formatDuration(0)).toBe('0ms');
  });
});

describe('the table, kind by kind', () => {
  it('text: HOST as given, trimmed', () => {
    expect(loadConfig({ HOST: ' ::1 ' }).host).toBe('::1');
  });

  it('text with a check: MAILCHIMP_WEBHOOK_SECRET is refused without being quoted', () => {
    const good = 'a'.repeat(16);
    expect(loadConfig({ MAILCHIMP_WEBHOOK_SECRET: good }).providers.mailchimp.webhookSecret).toBe(good);
    const err = expectConfigError({ MAILCHIMP_WEBHOOK_SECRET: 'short/secret#' }, 'MAILCHIMP_WEBHOOK_SECRET');
    expect(err.message).not.toContain('short/secret#');
  });

  it('integer: bounds inclusive, whole numbers only', () => {
    expect(loadConfig({ TASK_MAX_CONCURRENT: '64', TASK_MAX_ATTEMPTS: '1' }).tasks).toMatchObject({ maxConcurrent: 64, maxAttempts: 1 });
    expect(expectConfigError({ TASK_MAX_CONCURRENT: '65' }, 'TASK_MAX_CONCURRENT').message).toContain('from 1 to 64');
    expectConfigError({ TASK_MAX_ATTEMPTS: '1e2' }, 'TASK_MAX_ATTEMPTS');
  });

  it('size: k and m units are binary, at least 1kb', () => {
    expect(loadConfig({ BODY_LIMIT: '1kb' }).bodyLimitBytes).toBe(1024);
    expect(loadConfig({ BODY_LIMIT: '3m' }).bodyLimitBytes).toBe(3 * 1024 * 1024);
    expect(expectConfigError({ BODY_LIMIT: '1023' }, 'BODY_LIMIT').message).toContain('at least 1kb');
  });

  it('url: http(s) only, trailing slashes dropped', () => {
    expect(loadConfig({ HUBSPOT_BASE_URL: 'https://h.example/api//' }).providers.hubspot.api.baseUrl).toBe('https://h.example/api');
    expectConfigError({ MAILCHIMP_BASE_URL: 'mailchimp.example' }, 'MAILCHIMP_BASE_URL');
  });

  it('list: commas or spaces, frozen; a list item check refuses without quoting', () => {
    const c = loadConfig({ HUBSPOT_CLIENT_SECRET: 'one, two three' });
    expect(c.providers.hubspot.clientSecrets).toEqual(['one', 'two', 'three']);
    expect(Object.isFrozen(c.providers.hubspot.clientSecrets)).toBe(true);
    expect(loadConfig({ API_KEY: ' , ' }).apiKeys).toEqual([]);
  });

  it('rate limit: per window, a bare unit meaning one of it, or off', () => {
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: '100/1s' }).webhookRateLimit).toEqual({ max: 100, windowMs: 1000 });
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: '10/s' }).webhookRateLimit).toEqual({ max: 10, windowMs: 1000 });
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: '600 / 1m' }).webhookRateLimit).toEqual({ max: 600, windowMs: 60_000 });
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: '5/250ms' }).webhookRateLimit).toEqual({ max: 5, windowMs: 250 });
    expect(loadConfig({ WEBHOOK_RATE_LIMIT: 'OFF' }).webhookRateLimit).toBeNull();
    expect(loadConfig({ MAILCHIMP_RATE_LIMIT: '10/2h' }).providers.mailchimp.api.rateLimit).toEqual({ requests: 10, perMs: 7_200_000 });
    for (const bad of ['100', '100/', '0/1s', '100/0s', '1/1w', 'fast']) expectConfigError({ WEBHOOK_RATE_LIMIT: bad }, 'WEBHOOK_RATE_LIMIT');
  });

  it('enum: LOG_LEVEL lists the levels it takes', () => {
    expect(expectConfigError({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL').message).toContain('fatal, error, warn, info, debug, trace, silent');
  });

  it('pattern: one SYNC_INTERVAL_<SOURCE> per source, keyed in lower case, blank ones skipped', () => {
    const c = loadConfig({ SYNC_INTERVAL_ACME_CRM: '1h', SYNC_INTERVAL_Other: '30s', SYNC_INTERVAL_BLANK: ' ', SYNC_INTERVAL_: '1h' });
    expect(c.syncIntervals).toEqual({ acme_crm: 3_600_000, other: 30_000 });
    expect(Object.isFrozen(c.syncIntervals)).toBe(true);
  });

  it('a variable declared with a default reads that default through its own parser', () => {
    const v = variable('EXAMPLE_TIMEOUT', duration(), { default: '2m', description: 'x' });
    expect(v.read({})).toBe(120_000);
    expect(v.read({ EXAMPLE_TIMEOUT: '' })).toBe(120_000);
    expect(v.read({ EXAMPLE_TIMEOUT: '3s' })).toBe(3_000);
    expect(v.defaultText).toBe('`2m`');
    const unset = variable('EXAMPLE_COUNT', integer(1, 9), { unset: null, means: 'none', description: 'x' });
    expect(unset.read({})).toBeNull();
    expect(unset.defaultText).toBe('unset: none');
    const family = patternVariable('EXAMPLE_<X>', /^EXAMPLE_([A-Z]+)$/, integer(1, 9), { means: 'none', description: 'x' });
    expect(() => family.read({ EXAMPLE_A: '10' })).toThrow(/EXAMPLE_A must be/);
  });
});

describe('the table is the whole configuration', () => {
  const variables = CONFIG_SECTIONS.flatMap((s) => Object.values(s.variables));

  it('declares each name once', () => {
    const names = variables.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('every variable loadConfig reads is declared (SOURCES_FILE reads the ones its file names)', () => {
    const read = new Set<string>();
    const env = new Proxy({} as Record<string, string | undefined>, {
      get(target, key) {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    });
    loadConfig(env);
    const declared = new Set(variables.map((v) => v.name));
    expect([...read].filter((name) => !declared.has(name))).toEqual([]);
    // And every plain (non-pattern) variable is actually read.
    expect([...declared].filter((name) => !name.includes('<') && !read.has(name))).toEqual([]);
  });

  it('docs/configuration.md is what `npm run docs:config` generates from it', () => {
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/configuration.md');
    const committed = fs.readFileSync(file, 'utf8');
    expect(committed, 'docs/configuration.md is out of date: run npm run docs:config').toBe(renderConfigDocs(CONFIG_SECTIONS));
    for (const v of variables) expect(committed).toContain(`| \`${v.name}\` |`);
  });

  it('every documented default is accepted', () => {
    // Each default is written as a value and parsed like one: loading with none set proves they all parse.
    expect(() => loadConfig({})).not.toThrow();
  });
});
