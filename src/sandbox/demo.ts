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
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { PROVIDERS } from '../providers/index.js';
import { HUBSPOT_DEMO_CONTACT, HUBSPOT_PROVIDER } from '../providers/hubspot/sandbox.js';
import { LISTENING_MESSAGE, type ListeningMessage } from '../server-messages.js';
import { fakeEnv, startFakes } from './start-fakes.js';

const DEFAULT_DB = './data/demo.db';
const keep = process.env.DEMO_KEEP_DATA === '1';
const databaseUrl = process.env.DATABASE_URL ?? `sqlite:${DEFAULT_DB}`;
const kept = !process.env.DATABASE_URL && keep && fs.existsSync(DEFAULT_DB);
const port = process.env.PORT || '8000';
const host = process.env.HOST || '127.0.0.1';

/** True when another process listens on host:port; any other failure (a bad PORT or HOST) is left for the server to report. */
function portTaken(n: number): Promise<boolean> {
  if (!Number.isInteger(n) || n <= 0 || n > 65535) return Promise.resolve(false);
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRINUSE'));
    probe.listen({ host, port: n, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

// Checked before anything else: the usual holder of the port is an earlier
// demo, whose database the fresh start below would otherwise delete under it.
if (await portTaken(Number(port))) {
  const other = Number(port) < 65535 ? Number(port) + 1 : 8001;
  process.stderr.write(
    `demo: port ${port} is taken on ${host} by another process (an earlier demo or npm start?): stop it, or run PORT=${other} npm run demo\n`,
  );
  process.exit(2);
}
if (!process.env.DATABASE_URL && !keep) {
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${DEFAULT_DB}${suffix}`, { force: true });
}

const fakes = await startFakes('DEMO');
const env: NodeJS.ProcessEnv = { ...process.env, ...fakeEnv(fakes), DATABASE_URL: databaseUrl, PORT: port };

// The built server beside the built demo; run from source (tsx), the source server with the same loader.
const server = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../server.ts' : '../server.js', import.meta.url));
const stopFakes = () => Promise.all(fakes.map((f) => f.close()));
// The IPC channel carries the server's "listening" message: only then is the port ours.
const child = spawn(process.execPath, [...process.execArgv, server], { env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] });
process.on('SIGINT', () => child.kill('SIGINT'));
process.on('SIGTERM', () => child.kill('SIGTERM'));
// A taken port or a bad variable: the server has said so in one line and exited 2; the demo exits with it.
child.on('exit', (code, signal) => {
  void stopFakes().then(() => process.exit(code ?? (signal ? 0 : 1)));
});

const whichDatabase = process.env.DATABASE_URL
  ? 'as DATABASE_URL names it'
  : kept
    ? 'kept from the last demo, as DEMO_KEEP_DATA=1 asks'
    : keep
      ? 'a fresh database: there was none to keep'
      : 'a fresh database; DEMO_KEEP_DATA=1 keeps the last one';

child.on('message', (message: ListeningMessage) => {
  if (message?.type !== LISTENING_MESSAGE) return;
  const sources = PROVIDERS.filter((p) => p.fake).flatMap((p) => p.sourceNames);
  const base = `localhost:${message.port}`;
  // The fake HubSpot's contacts carry a few hundred custom properties: one contact shows them.
  const hubspot = PROVIDERS.find((p) => p.name === HUBSPOT_PROVIDER && p.fake);
  const contact = hubspot
    ? [
        `  curl -s ${base}/customers/${HUBSPOT_DEMO_CONTACT}    # after the ${hubspot.sourceNames[0] ?? 'crm'} sync: a HubSpot contact, custom properties in attributes`,
      ]
    : [];
  process.stdout.write(
    [
      ...fakes.map((f) => `sandbox: ${f.summary}`),
      `sandbox: the console is at http://${base}/ui/ (start and watch syncs there)`,
      `sandbox: data in ${databaseUrl} (${whichDatabase}). Try:`,
      ...sources.map((s) => `  curl -s -X POST ${base}/sync/${s}`),
      `  curl -s '${base}/tasks?status=all'`,
      `  curl -s -X POST ${base}/tasks/<task_id>/cancel`,
      `  curl -s '${base}/customers?limit=5'`,
      ...contact,
      '',
    ].join('\n'),
  );
});
