import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import type { Store } from '../../src/store/open-store.js';
import type { ScratchDatabase } from '../helpers/databases.js';

/**
 * A real, passing store fault on the record write path, switched on and off
 * by the test, that leaves the task queue's own statements alone:
 * - SQLite: every record insert also writes to an attached file; moved away,
 *   that file makes the insert fail with SQLITE_READONLY_DBMOVED inside the
 *   open transaction, and moved back it takes writes again;
 * - PostgreSQL: a trigger on records raises SQLSTATE 40001 (serialization
 *   failure) while a switch row says so.
 * `slow` (PostgreSQL) makes each record insert sleep instead, so a test can
 * find the service's backend inside a page commit and terminate it.
 */
export interface RecordWriteFault {
  on(): Promise<void>;
  off(): Promise<void>;
  slow(seconds: number): Promise<void>;
  /** Terminates the service's backends sleeping in a record insert; how many. */
  terminateSleeping(): Promise<number>;
  close(): Promise<void>;
}

export async function recordWriteFault(db: ScratchDatabase, store: Store): Promise<RecordWriteFault> {
  if (db.config.kind === 'sqlite') {
    const file = path.join(path.dirname(db.config.path), 'fault.db');
    const moved = `${file}.moved`;
    const side = new SqliteDatabase(file);
    side.exec('create table if not exists t (x integer)');
    side.close();
    await sql`attach database ${sql.lit(file)} as fault`.execute(store.db);
    await sql`create temp trigger if not exists fault_records before insert on main.records begin insert into fault.t values (1); end`.execute(store.db);
    return {
      on: async () => fs.renameSync(file, moved),
      off: async () => {
        if (fs.existsSync(moved)) fs.renameSync(moved, file);
      },
      slow: async () => {
        throw new Error('slow commits are played on PostgreSQL only');
      },
      terminateSleeping: async () => 0,
      close: async () => {
        if (fs.existsSync(moved)) fs.renameSync(moved, file);
      },
    };
  }
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`
    create table if not exists fault_switch (fail boolean not null, sleep_s double precision not null);
    insert into fault_switch select false, 0 where not exists (select 1 from fault_switch);
    create or replace function fault_records() returns trigger language plpgsql as $$
    declare s fault_switch%rowtype;
    begin
      select * into s from fault_switch limit 1;
      if s.fail then raise exception 'injected serialization failure' using errcode = '40001'; end if;
      if s.sleep_s > 0 then perform pg_sleep(s.sleep_s); end if;
      return new;
    end $$;
    drop trigger if exists fault_records on records;
    create trigger fault_records before insert on records for each statement execute function fault_records();`);
  const dbName = new URL(db.url).pathname.slice(1);
  return {
    on: async () => void (await admin.query('update fault_switch set fail = true')),
    off: async () => void (await admin.query('update fault_switch set fail = false, sleep_s = 0')),
    slow: async (seconds) => void (await admin.query('update fault_switch set sleep_s = $1', [seconds])),
    terminateSleeping: async () => {
      const r = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where datname = $1 and pid <> pg_backend_pid() and state = 'active' and wait_event = 'PgSleep'`,
        [dbName],
      );
      return r.rowCount ?? 0;
    },
    close: async () => {
      await admin.query('update fault_switch set fail = false, sleep_s = 0').catch(() => {});
      await admin.end();
    },
  };
}
