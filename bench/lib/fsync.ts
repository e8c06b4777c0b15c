import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { percentile } from './stats.js';

/**
 * The floor under every SQLite group commit on this disk: the time of one
 * small commit with the service's own settings (WAL, synchronous=FULL).
 * better-sqlite3 runs it on the event-loop thread, so the service can do
 * nothing else meanwhile. Bounded: `commits` commits.
 */
export function sqliteCommitFloor(dir: string, commits: number): { p50: number; p99: number } {
  const file = path.join(dir, `commit-floor-${process.pid}.db`);
  const db = new SqliteDatabase(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('create table t (id integer primary key, body text not null)');
    const insert = db.prepare('insert into t (body) values (?)');
    const write = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run('x'.repeat(300));
    });
    const times: number[] = [];
    for (let i = 0; i < commits; i++) {
      const t0 = process.hrtime.bigint();
      write(25);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { p50: percentile(times, 50), p99: percentile(times, 99) };
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  }
}
