import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, mailchimpBaseUrlFromKey, parseDatabaseUrl } from '../src/config.js';

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
    expect(config.hubspot).toMatchObject({ accessToken: undefined, baseUrl: 'https://api.hubapi.com' });
    expect(config.mailchimp).toMatchObject({ apiKey: undefined, baseUrl: undefined });
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
    expect(Object.isFrozen(config.hubspot)).toBe(true);
    expect(Object.isFrozen(config.mailchimp)).toBe(true);
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
    expect(loadConfig({ API_KEY: 'k1' }).apiKeys).toEqual(['k1']);
    expect(loadConfig({ API_KEY: 'k1,k2' }).apiKeys).toEqual(['k1', 'k2']);
    expect(loadConfig({ API_KEY: ' k1 , k2  k3 ' }).apiKeys).toEqual(['k1', 'k2', 'k3']);
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
    expect(c.hubspot).toMatchObject({ accessToken: 'pat-na1-abc', baseUrl: 'http://127.0.0.1:9999' });
  });

  it('MAILCHIMP_API_KEY: the data centre comes from the key suffix', () => {
    const c = loadConfig({ MAILCHIMP_API_KEY: '0123456789abcdef0123456789abcdef-us6' });
    expect(c.mailchimp).toMatchObject({ apiKey: '0123456789abcdef0123456789abcdef-us6', baseUrl: 'https://us6.api.mailchimp.com/3.0' });
  });

  it('MAILCHIMP_BASE_URL overrides the data centre', () => {
    const c = loadConfig({ MAILCHIMP_API_KEY: 'abc-us6', MAILCHIMP_BASE_URL: 'http://127.0.0.1:9998/3.0/' });
    expect(c.mailchimp.baseUrl).toBe('http://127.0.0.1:9998/3.0');
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
    it(`${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`, () => {
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
    expect(c.hubspot.rateLimit).toEqual({ requests: 100, perMs: 10_000 });
    expect(c.hubspot.concurrency).toBe(4);
    expect(c.mailchimp.rateLimit).toBeNull();
    expect(c.mailchimp.concurrency).toBe(10);
  });

  it('are configurable, and "off" lifts a rate limit', () => {
    const c = loadConfig({ HUBSPOT_RATE_LIMIT: '50/1s', HUBSPOT_CONCURRENCY: '2', MAILCHIMP_RATE_LIMIT: '10/1m', MAILCHIMP_CONCURRENCY: '3' });
    expect(c.hubspot.rateLimit).toEqual({ requests: 50, perMs: 1_000 });
    expect(c.hubspot.concurrency).toBe(2);
    expect(c.mailchimp.rateLimit).toEqual({ requests: 10, perMs: 60_000 });
    expect(loadConfig({ HUBSPOT_RATE_LIMIT: 'off' }).hubspot.rateLimit).toBeNull();
  });

  it('refuse bad values naming the variable', () => {
    expect(() => loadConfig({ HUBSPOT_RATE_LIMIT: 'lots' })).toThrow(/HUBSPOT_RATE_LIMIT/);
    expect(() => loadConfig({ MAILCHIMP_CONCURRENCY: '11' })).toThrow(/MAILCHIMP_CONCURRENCY/);
    expect(() => loadConfig({ HUBSPOT_CONCURRENCY: '0' })).toThrow(/HUBSPOT_CONCURRENCY/);
  });
});
