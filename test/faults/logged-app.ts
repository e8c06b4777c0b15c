import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/open-store.js';
import type { TestApp } from '../helpers/app.js';
import type { ScratchDatabase } from '../helpers/databases.js';

/** One JSON log line as pino writes it. */
export interface LogLine {
  level: number;
  msg: string;
  err?: { message?: string; code?: string; type?: string };
  [field: string]: unknown;
}

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

/** The real app on a scratch database, its log (app and store) kept in `lines`; the task runner only when `runTasks`. */
export async function startLoggedApp(db: ScratchDatabase, env: Record<string, string> = {}, runTasks = false): Promise<TestApp & { lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const config = { ...loadConfig({ LOG_LEVEL: 'debug', ...env }), database: db.config };
  const store = await openStore(config.database, { lockWaitMs: config.storeLockWaitMs, log: logger });
  const app = await buildApp({ config, store, logger, runTasks });
  await app.ready();
  return {
    app,
    store,
    config,
    lines,
    close: async () => {
      await app.close();
      await store.close();
    },
  };
}
