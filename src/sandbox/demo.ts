/**
 * `npm run demo`: the service beside every provider's fake API, seeded with
 * sample data, so `curl -X POST localhost:8000/sync/<source>` works on a
 * fresh machine with no accounts. The fakes run in this process; the service
 * runs as a child process with the environment pointing at them.
 *
 * It starts from an empty database (data/demo.db) unless DEMO_KEEP_DATA=1:
 * a kept one would make the first sync an incremental run with nothing new.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROVIDERS } from '../providers/index.js';
import { fakeEnv, startFakes } from './start-fakes.js';

const DEFAULT_DB = './data/demo.db';
const keep = process.env.DEMO_KEEP_DATA === '1';
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${DEFAULT_DB}`;
if (!process.env.DATABASE_URL && !keep) {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${DEFAULT_DB}${suffix}`, { force: true });
}

const fakes = await startFakes('DEMO');
const port = process.env.PORT ?? '8000';
const host = process.env.HOST ?? '127.0.0.1';
const env: NodeJS.ProcessEnv = { ...process.env, ...fakeEnv(fakes), DATABASE_URL: databaseUrl, PORT: port };

const stopFakes = () => Promise.all(fakes.map((f) => f.close()));
const child = spawn(process.execPath, [fileURLToPath(new URL('../server.js', import.meta.url))], { env, stdio: 'inherit' });
process.on('SIGINT', () => child.kill('SIGINT'));
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code) => {
  void stopFakes().then(() => process.exit(code ?? 0));
});

/** The "Try:" lines are printed once the service answers, not before it may fail to start. */
async function waitUntilListening(): Promise<boolean> {
  for (let i = 0; i < 300 && child.exitCode === null; i++) {
    try {
      if ((await fetch(`http://${host}:${port}/healthz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

if (await waitUntilListening()) {
  const sources = PROVIDERS.filter((p) => p.fake).flatMap((p) => p.sourceNames);
  const base = `localhost:${port}`;
  process.stdout.write(
    [
      ...fakes.map((f) => `sandbox: ${f.summary}`),
      `sandbox: data in ${databaseUrl} (${process.env.DATABASE_URL ? 'as DATABASE_URL names it' : keep ? 'kept from the last demo' : 'a fresh database; DEMO_KEEP_DATA=1 keeps it'}). Try:`,
      ...sources.map((s) => `  curl -s -X POST ${base}/sync/${s}`),
      `  curl -s '${base}/tasks?status=all'`,
      `  curl -s '${base}/customers?limit=5'`,
      '',
    ].join('\n'),
  );
}
