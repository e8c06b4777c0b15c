import type SqliteDatabase from 'better-sqlite3';
import pg from 'pg';

/**
 * A store's schema as plain data, to compare one made by the migrations of
 * today with one made by those of an older version. Kysely's own migration
 * tables are left out: they belong to Kysely, not to the store.
 */
export interface SchemaDescription {
  columns: string[];
  indexes: string[];
  constraints: string[];
}

const ours = (table: string): boolean => !table.startsWith('kysely_');

/** PostgreSQL: every column (type, nullability, default, identity), index and constraint of the public schema. */
export async function describePostgresSchema(url: string): Promise<SchemaDescription> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query<Record<string, string | null>>(`
      select table_name, column_name, ordinal_position, data_type, is_nullable, column_default, is_identity, identity_generation
      from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position`);
    const indexes = await client.query<{ tablename: string; indexdef: string }>(
      `select tablename, indexdef from pg_indexes where schemaname = 'public' order by tablename, indexname`,
    );
    const constraints = await client.query<{ table_name: string; conname: string; def: string }>(`
      select c.relname as table_name, k.conname, pg_get_constraintdef(k.oid) as def
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' order by c.relname, k.conname`);
    return {
      columns: columns.rows
        .filter((r) => ours(String(r.table_name)))
        .map((r) =>
          [
            r.table_name,
            r.ordinal_position,
            r.column_name,
            r.data_type,
            r.is_nullable,
            r.column_default ?? '',
            r.is_identity,
            r.identity_generation ?? '',
          ].join(' | '),
        ),
      indexes: indexes.rows.filter((r) => ours(r.tablename)).map((r) => r.indexdef),
      constraints: constraints.rows.filter((r) => ours(r.table_name)).map((r) => `${r.table_name} | ${r.conname} | ${r.def}`),
    };
  } finally {
    await client.end();
  }
}

/** SQLite: every column (declared type, nullability, default, key), index and the CREATE text of each table and index. */
export function describeSqliteSchema(sqlite: SqliteDatabase.Database): SchemaDescription & { sql: string[] } {
  const objects = sqlite.prepare(`select type, name, tbl_name, sql from sqlite_master order by type, name`).all() as {
    type: string;
    name: string;
    tbl_name: string;
    sql: string | null;
  }[];
  const tables = objects.filter((o) => o.type === 'table' && ours(o.name)).map((o) => o.name);
  const columns: string[] = [];
  const indexes: string[] = [];
  for (const table of tables) {
    const info = sqlite.pragma(`table_info(${JSON.stringify(table)})`) as {
      cid: number;
      name: string;
      type: string;
      notnull: number;
      dflt_value: string | null;
      pk: number;
    }[];
    for (const c of info) columns.push([table, c.cid, c.name, c.type, c.notnull, c.dflt_value ?? '', c.pk].join(' | '));
    const list = sqlite.pragma(`index_list(${JSON.stringify(table)})`) as { name: string; unique: number; origin: string; partial: number }[];
    for (const i of [...list].sort((a, b) => a.name.localeCompare(b.name))) {
      const cols = (sqlite.pragma(`index_info(${JSON.stringify(i.name)})`) as { seqno: number; name: string }[])
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name);
      indexes.push([table, i.name, i.unique, i.origin, i.partial, cols.join(',')].join(' | '));
    }
  }
  return {
    columns,
    indexes,
    constraints: [],
    sql: objects.filter((o) => ours(o.tbl_name)).map((o) => `${o.type} | ${o.name} | ${o.sql ?? ''}`),
  };
}
