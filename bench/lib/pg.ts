import { randomBytes } from 'node:crypto';
import pg from 'pg';

const created = new Set<string>();

function withDatabase(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** True when the admin URL answers. */
export async function postgresAvailable(adminUrl: string): Promise<boolean> {
  try {
    await admin(adminUrl, (c) => c.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

/** A scratch database, dropped by `dropScratchDatabases` (also on Ctrl-C). */
export async function createScratchDatabase(adminUrl: string, label: string): Promise<{ name: string; url: string }> {
  const name = `tributary_bench_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  created.add(name);
  return { name, url: withDatabase(adminUrl, name) };
}

export async function dropScratchDatabase(adminUrl: string, name: string): Promise<void> {
  await admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  created.delete(name);
}

export async function dropScratchDatabases(adminUrl: string): Promise<void> {
  for (const name of [...created]) {
    try {
      await dropScratchDatabase(adminUrl, name);
    } catch (err) {
      process.stderr.write(`could not drop scratch database ${name}: ${String(err)}\n`);
    }
  }
}
