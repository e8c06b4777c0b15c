import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config.js';

/** A scratch database for one test file; `drop` removes every trace. */
export interface ScratchDatabase {
  engine: EngineName;
  config: DatabaseConfig;
  /** The DATABASE_URL a child process would be given. */
  url: string;
  drop(): Promise<void>;
}

export type EngineName = 'sqlite' | 'postgres';

export interface Engine {
  name: EngineName;
  create(): Promise<ScratchDatabase>;
}

async function sqliteScratch(): Promise<ScratchDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-test-'));
  const file = path.join(dir, 'nested', 'warehouse.db');
  return {
    engine: 'sqlite',
    config: { kind: 'sqlite', path: file },
    url: `sqlite:${file}`,
    drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresScratch(adminUrl: string): Promise<ScratchDatabase> {
  const name = `tributary_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    engine: 'postgres',
    config: { kind: 'postgres', url: url.toString() },
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

const pgUrl = process.env.TEST_DATABASE_URL?.trim();

/**
 * The engines every store and route suite runs on: SQLite always, and
 * PostgreSQL whenever TEST_DATABASE_URL names a server (CI sets it).
 */
export const ENGINES: Engine[] = [
  { name: 'sqlite', create: sqliteScratch },
  ...(pgUrl ? [{ name: 'postgres' as const, create: () => postgresScratch(pgUrl) }] : []),
];
