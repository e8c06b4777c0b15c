import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { buildConnectors } from '../../../src/providers/index.js';
import { scratchDir, writeSourcesFile } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const scratch = scratchDir();
afterAll(() => scratch.remove());

const VALID = {
  type: 'customer',
  base_url: 'https://api.acme.example/v2',
  path: '/contacts',
  records: 'data',
  auth: { kind: 'bearer', token_env: 'ACME_TOKEN' },
  pagination: { kind: 'offset', limit: 50 },
  mapping: { external_id: 'id', email: 'properties.email' },
};

/** loadConfig with a sources file holding `acme` = VALID with `patch` applied (a null deletes). */
function configError(patch: Record<string, unknown>, name = 'acme', file = 'sources.yaml'): string {
  const spec: Record<string, unknown> = { ...VALID, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === null) delete spec[k];
  const written = writeSourcesFile(scratch.dir, file, { sources: { [name]: spec } });
  return refusal({ SOURCES_FILE: written }, written);
}

function refusal(env: Record<string, string>, file: string): string {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.variable).toBe('SOURCES_FILE');
  expect(err.message).not.toContain('\n');
  expect(err.message).toContain(`invalid configuration: SOURCES_FILE ${file}: `);
  return err.message.slice(err.message.indexOf(`${file}: `) + file.length + 2);
}

describe('SOURCES_FILE', () => {
  it('a valid YAML file declares its sources, which join crm and marketing', () => {
    const file = writeSourcesFile(scratch.dir, 'ok.yaml', {
      version: 1,
      sources: { acme: VALID, 'acme-2': { ...VALID, type: 'campaign', mapping: { external_id: 'id', status: 's' } } },
    });
    const config = loadConfig({ SOURCES_FILE: file, ACME_TOKEN: ' t0k ' });
    expect(config.providers.declared.file).toBe(file);
    expect(config.providers.declared.sources.map((s) => s.name)).toEqual(['acme', 'acme-2']);
    expect(config.providers.declared.sources[0]?.env).toEqual({ ACME_TOKEN: 't0k' });
    const connectors = buildConnectors(config);
    expect([...connectors.keys()]).toEqual(['crm', 'marketing', 'acme', 'acme-2']);
    expect(connectors.get('acme-2')?.recordType).toBe('campaign');
    expect(connectors.get('acme')?.missingConfiguration()).toBeNull();
  });

  it('JSON works too, and an unset credential variable is reported by the source, not at start', () => {
    const file = writeSourcesFile(scratch.dir, 'ok.json', { sources: { acme: VALID } });
    const config = loadConfig({ SOURCES_FILE: file });
    expect(buildConnectors(config).get('acme')?.missingConfiguration()).toBe('ACME_TOKEN');
  });

  it('unset: no declared sources', () => {
    const config = loadConfig({});
    expect(config.providers.declared.file).toBeUndefined();
    expect(config.providers.declared.sources).toEqual([]);
  });

  it('the documented example is valid', () => {
    const config = loadConfig({ SOURCES_FILE: path.join(ROOT, 'examples/sources.example.yaml') });
    expect(config.providers.declared.sources.map((s) => [s.name, s.spec.type, s.spec.pagination.kind])).toEqual([
      ['acme', 'customer', 'offset'],
      ['newsletters', 'campaign', 'cursor'],
    ]);
  });

  it('a missing file, a folder, bad YAML or JSON: one line naming SOURCES_FILE and the file', () => {
    const missing = path.join(scratch.dir, 'nope.yaml');
    expect(refusal({ SOURCES_FILE: missing }, missing)).toBe('no such file');
    expect(refusal({ SOURCES_FILE: scratch.dir }, scratch.dir)).toBe('is a directory, not a file');
    const yamlFile = path.join(scratch.dir, 'bad.yaml');
    fs.writeFileSync(yamlFile, 'sources:\n  acme:\n    type: customer\n    type: campaign\n');
    expect(refusal({ SOURCES_FILE: yamlFile }, yamlFile)).toMatch(/^is not valid YAML: Map keys must be unique at line 4/);
    const jsonFile = path.join(scratch.dir, 'bad.json');
    fs.writeFileSync(jsonFile, '{"sources": {');
    expect(refusal({ SOURCES_FILE: jsonFile }, jsonFile)).toMatch(/^is not valid JSON: /);
    const empty = path.join(scratch.dir, 'empty.yaml');
    fs.writeFileSync(empty, '# nothing yet\n');
    expect(refusal({ SOURCES_FILE: empty }, empty)).toMatch(/the file is empty/);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable file is refused', () => {
    const file = writeSourcesFile(scratch.dir, 'locked.yaml', { sources: { acme: VALID } });
    fs.chmodSync(file, 0o000);
    expect(refusal({ SOURCES_FILE: file }, file)).toBe('cannot be read (permission denied)');
  });

  const CASES: Array<[string, Record<string, unknown>, string]> = [
    [
      'a literal secret',
      { auth: { kind: 'bearer', token: 'abc' } },
      'source "acme": auth.token is not a known field (known: kind, token_env); give credentials as an environment variable reference such as token_env: ACME_TOKEN',
    ],
    ['an unknown auth kind', { auth: { kind: 'oauth' } }, 'source "acme": auth.kind must be one of none, bearer, basic, api_key (got "oauth")'],
    ['an auth without its variable', { auth: { kind: 'api_key', in: 'header', name: 'X-Key' } }, 'source "acme": auth.key_env is required'],
    [
      'a variable name that is not one',
      { auth: { kind: 'bearer', token_env: 'acme token' } },
      'source "acme": auth.token_env must be the name of an environment variable (letters, digits and _)',
    ],
    [
      'a credential header',
      { headers: { Authorization: 'Bearer x' } },
      'source "acme": headers.Authorization is not allowed: credentials go in auth, as an *_env reference',
    ],
    ['no external_id path', { mapping: { email: 'email' } }, 'source "acme": mapping.external_id is required'],
    [
      'a campaign field on a customer',
      { mapping: { external_id: 'id', budget: 'b' } },
      'source "acme": mapping.budget is not a known field (known: external_id, id, name, updated_at, updated_at_format, deleted, email)',
    ],
    ['a bad dot path', { mapping: { external_id: 'data..id' } }, 'source "acme": mapping.external_id must be a dot path such as properties.email'],
    [
      'an unknown paginator',
      { pagination: { kind: 'scroll' } },
      'source "acme": pagination.kind must be one of none, offset, page, cursor, link_header, next_url (got "scroll")',
    ],
    ['a zero page size', { pagination: { kind: 'page', limit: 0 } }, 'source "acme": pagination.limit must be >= 1'],
    ['a cursor paginator without its path', { pagination: { kind: 'cursor' } }, 'source "acme": pagination.cursor_path is required'],
    [
      'a page size with no parameter to carry it',
      { pagination: { kind: 'cursor', cursor_path: 'next', limit: 50 } },
      'source "acme": pagination.limit_param is required when pagination.limit is set (the query parameter that carries it)',
    ],
    ['an incremental without its parameter', { incremental: { field: 'updated_at' } }, 'source "acme": incremental.param is required'],
    [
      'an unknown time format',
      { incremental: { field: 'u', param: 'since', format: 'rfc2822' } },
      'source "acme": incremental.format must be one of iso, epoch_ms, epoch_s',
    ],
    ['a non-http base URL', { base_url: 'ftp://files.acme.example' }, 'source "acme": base_url must be an http(s) URL (got "ftp://files.acme.example")'],
    ['an unknown record type', { type: 'lead' }, 'source "acme": type must be one of customer, campaign'],
    [
      'a misspelt field',
      { pagniation: { kind: 'none' } },
      'source "acme": pagniation is not a known field (known: type, base_url, path, query, headers, auth, records, pagination, mapping, incremental, rate_limit, concurrency, timeout_seconds, max_retries)',
    ],
    ['a bad rate limit', { rate_limit: { requests: 10, per_seconds: 0 } }, 'source "acme": rate_limit.per_seconds must be > 0'],
    ['no path', { path: null }, 'source "acme": path is required'],
  ];
  for (const [what, patch, message] of CASES) {
    it(`refuses ${what}, naming the source and the field`, () => {
      expect(configError(patch)).toBe(message);
    });
  }

  it('refuses built-in and malformed source names', () => {
    expect(configError({}, 'crm')).toBe('source "crm": is a built-in source name; pick another (reserved: crm, marketing, webhook)');
    expect(configError({}, 'marketing')).toMatch(/built-in source name/);
    expect(configError({}, 'Acme')).toMatch(/^source "Acme": is not a valid source name: use lowercase letters, digits, _ and -/);
    expect(configError({}, 'a/b')).toMatch(/is not a valid source name/);
  });

  it('the server refuses to start on a bad file: exit 2, one stderr line naming SOURCES_FILE', async () => {
    const file = writeSourcesFile(scratch.dir, 'proc.yaml', { sources: { acme: { ...VALID, pagination: { kind: 'offset', limit: -1 } } } });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        SOURCES_FILE: file,
        DATABASE_URL: `sqlite:${path.join(scratch.dir, 'never.db')}`,
        PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toBe(`invalid configuration: SOURCES_FILE ${file}: source "acme": pagination.limit must be >= 1\n`);
    expect(fs.existsSync(path.join(scratch.dir, 'never.db'))).toBe(false);
  });
});
