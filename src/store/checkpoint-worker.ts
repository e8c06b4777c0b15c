/**
 * The thread that checkpoints a SQLite store's WAL (see WalCheckpointer):
 * its own connection, a PASSIVE checkpoint every interval (250 ms by default). PASSIVE
 * never waits for a lock and never blocks the writer: it copies what it can.
 */
import SqliteDatabase from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerData {
  file: string;
  intervalMs: number;
}

const { file, intervalMs } = workerData as CheckpointWorkerData;
const db = new SqliteDatabase(file);
// As the main connection: a checkpoint syncs the WAL before copying it and the database after.
db.pragma('synchronous = FULL');
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)');

const timer = setInterval(() => {
  try {
    checkpoint.run();
  } catch {
    // Busy or locked: the next tick tries again.
  }
}, intervalMs);

parentPort?.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
