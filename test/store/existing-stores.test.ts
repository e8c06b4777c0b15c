import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { recordFromPayload } from '../../src/domain/records.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { countRecords, findRecord } from '../../src/store/record-queries.js';
import { applyRecordWrites } from '../../src/store/record-writes.js';
import { getInboxRow, insertInboxRow } from '../../src/store/webhook-inbox.js';
import { inWriteTransaction } from '../../src/store/write-transaction.js';
import { loadCheckpoint } from '../../src/tasks/sync-state.js';
import { TaskStore } from '../../src/tasks/task-store.js';
import { ENGINES } from '../helpers/databases.js';
import { describePostgresSchema, describeSqliteSchema } from '../helpers/schema-description.js';

// The fixtures were made by the migrations before they were frozen (see
// test/fixtures/make-store-fixtures.ts): a store of that version must open,
// migrate, and read and write as one made today.
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of a fixture in a scratch directory (the committed file stays as it is). */
function copyOf(fixture: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-fixture-'));
  dirs.push(dir);
  const file = path.join(dir, 'warehouse.db');
  fs.copyFileSync(path.join(fixtures, fixture), file);
  return file;
}

async function open(file: string): Promise<Store> {
  const store = await openStore({ kind: 'sqlite', path: file }, { checkpointThread: false });
  stores.push(store);
  return store;
}

function sqliteSchemaOf(file: string): ReturnType<typeof describeSqliteSchema> {
  const sqlite = new SqliteDatabase(file, { readonly: true });
  try {
    return describeSqliteSchema(sqlite);
  } finally {
    sqlite.close();
  }
}

type Schema = { columns: string[]; indexes: string[]; constraints: string[]; sql?: string[] };

/** The schema less one table's columns, indexes, constraints (and SQL): what migrations after the fixture added. */
function without<S extends Schema>(schema: S, table: string): S {
  const keep = (line: string) => !line.includes(table);
  const out = { ...schema, columns: schema.columns.filter(keep), indexes: schema.indexes.filter(keep), constraints: schema.constraints.filter(keep) };
  if (schema.sql) out.sql = schema.sql.filter(keep);
  return out;
}

/** Tables and indexes added by migrations made after the fixtures (007-provider-state, 009-console-stats, 010-record-search's indexes, 011-walk-seen). */
const LATER_TABLES = [
  'provider_state',
  'inbox_counts',
  'delivery_minutes',
  'write_minutes',
  'tasks_source_created_idx',
  'tasks_finished_idx',
  'records_search_',
  'walk_seen',
];
/** Columns added to older tables since (009-console-stats): left out of the column lists and of SQLite's CREATE text. */
const LATER_COLUMNS = /, "earlier_(runs|pages|fetched|written)" [^,)]*/g;
const withoutLaterColumns = <S extends Schema>(schema: S): S => {
  const out = { ...schema, columns: schema.columns.filter((c) => !/ \| earlier_(runs|pages|fetched|written) \| /.test(c)) };
  if (schema.sql) out.sql = schema.sql.map((line) => line.replace(LATER_COLUMNS, ''));
  return out;
};
const withoutLater = <S extends Schema>(schema: S): S => LATER_TABLES.reduce<S>((acc, t) => without(acc, t), withoutLaterColumns(schema));

/** A fresh store made by today's migrations, closed; its file. */
async function freshSqliteStore(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-fresh-'));
  dirs.push(dir);
  const file = path.join(dir, 'warehouse.db');
  await (await openStore({ kind: 'sqlite', path: file }, { checkpointThread: false })).close();
  return file;
}

describe('a SQLite store made before the migrations were frozen', () => {
  it('opens, gives back its records, inbox row, tasks and checkpoint, and takes new writes', async () => {
    const file = copyOf('store-before-frozen-migrations.db');
    const store = await open(file);

    const ann = await findRecord(store, 'customer', 'c-1');
    expect(ann).toMatchObject({ source: 'webhook', fields: { sender_id: 101, name: 'Ann', email: 'ann@example.com' }, attributes: { tier: 'gold' } });
    expect(ann?.sourceUpdatedAt).toBe(Date.parse('2025-01-10T08:00:00Z'));
    expect((await findRecord(store, 'campaign', 'k-1'))?.fields).toMatchObject({ status: 'sent', budget: 1250.5, details: { channel: 'email' } });
    expect((await findRecord(store, 'customer', 'c-3'))?.deletedAt).not.toBeNull();
    expect(await countRecords(store, {})).toBe(3);
    expect(await countRecords(store, { includeDeleted: true })).toBe(4);

    expect(await getInboxRow(store.db, store.dialect.decodeJson, 1)).toMatchObject({
      route: '/webhooks/customers',
      idempotencyKey: 'key-1',
      headers: { 'content-type': 'application/json' },
      status: 'processed',
      responseStatus: 200,
      response: { status: 'processed' },
    });
    expect(await loadCheckpoint(store, 'crm')).toEqual({ phase: 'incremental', since: NOW });

    const tasks = new TaskStore(store);
    const listed = await tasks.list('all', 10);
    expect(listed.map((t) => [t.source, t.status, t.lease_losses])).toEqual([
      ['marketing', 'queued', 0],
      ['crm', 'succeeded', 0],
    ]);

    // New writes: a record created and one updated (counters follow), an inbox row, tasks claimed and queued.
    const results = await inWriteTransaction(store, async (tx) => {
      const applied = await applyRecordWrites(tx, [
        recordFromPayload('customer', { external_id: 'c-4', name: 'Di' }, 'webhook'),
        recordFromPayload('customer', { external_id: 'c-1', id: 101, name: 'Ann B', email: 'ann@example.com', tier: 'gold' }, 'webhook'),
      ]);
      const id = await insertInboxRow(tx, {
        receivedAt: NOW + 5000,
        route: '/webhooks/customers',
        idempotencyKey: 'key-2',
        headers: {},
        body: '{}',
        status: 'received',
      });
      return { applied: applied.map((a) => a.result), id };
    });
    expect(results).toEqual({ applied: ['created', 'updated'], id: 2 });
    expect(await countRecords(store, {})).toBe(4);
    expect((await findRecord(store, 'customer', 'c-1'))?.fields.name).toBe('Ann B');
    const claimed = await tasks.claim('test-owner', 60_000);
    expect(claimed?.source).toBe('marketing');
    expect((await tasks.enqueue('crm', { full: false, trigger: 'api' })).created).toBe(true);

    // And it opens again with what was added.
    await store.close();
    const again = await open(file);
    expect((await findRecord(again, 'customer', 'c-4'))?.fields.name).toBe('Di');
    expect(await getInboxRow(again.db, again.dialect.decodeJson, 2)).toMatchObject({ idempotencyKey: 'key-2', status: 'received' });
  });

  it('has the same tables, columns and indexes as a store made today, once the later migrations ran', async () => {
    const fresh = sqliteSchemaOf(await freshSqliteStore());
    expect(fresh.columns.length).toBeGreaterThan(50);
    // The fixture as committed: everything but the tables of later migrations.
    expect(sqliteSchemaOf(path.join(fixtures, 'store-before-frozen-migrations.db'))).toEqual(withoutLater(fresh));
    expect(fresh.columns.filter((c) => c.startsWith('provider_state |'))).toHaveLength(4);
    const file = copyOf('store-before-frozen-migrations.db');
    await (await open(file)).close();
    expect(sqliteSchemaOf(file)).toEqual(fresh);
  });

  it('migrated up to 005 only, runs 006 when opened and ends with the schema of a store made today', async () => {
    const file = copyOf('store-at-005.db');
    const before = sqliteSchemaOf(file);
    expect(before.columns.some((c) => c.startsWith('tasks |') && c.includes('lease_losses'))).toBe(false);
    const store = await open(file);
    const task = await new TaskStore(store).get('task-before-006');
    expect(task).toMatchObject({ status: 'queued', attempts: 2, lease_losses: 0 });
    await store.close();
    expect(sqliteSchemaOf(file)).toEqual(sqliteSchemaOf(await freshSqliteStore()));
  });
});

const postgres = ENGINES.find((e) => e.name === 'postgres');

describe.runIf(postgres)('the PostgreSQL schema', () => {
  it('made by the migrations today, is the one made before they were frozen', async () => {
    const db = await (postgres as (typeof ENGINES)[number]).create();
    try {
      await (await openStore(db.config)).close();
      const snapshot = JSON.parse(fs.readFileSync(path.join(fixtures, 'postgres-schema-before-frozen-migrations.json'), 'utf8')) as unknown;
      const today = await describePostgresSchema(db.url);
      expect(withoutLater(today)).toEqual(snapshot);
      // What 007 adds, with the types it states for PostgreSQL.
      expect(today.columns.filter((c) => c.includes('provider_state')).join('\n')).toMatch(/updated_at \| bigint/);
      expect(today.constraints.some((c) => c.includes('provider_state') && c.includes('PRIMARY KEY (provider, key)'))).toBe(true);
    } finally {
      await db.drop();
    }
  });
});
