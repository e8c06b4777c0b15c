/**
 * One sync into a scratch SQLite file (or PROFILE_DATABASE_URL), the service
 * run with extra node flags (for example `--cpu-prof`), for profiling:
 *   PROFILE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npx tsx bench/sync/profile-run.ts [records]
 * PROFILE_SOURCE=marketing syncs the sandbox's fake Mailchimp instead of the
 * plain upstream, PROFILE_SOURCE=crm the fake HubSpot's contacts (all their
 * properties, HUBSPOT_RATE_LIMIT=off; BENCH_SYNC_CUSTOM_PROPERTIES sets the
 * portal's custom properties), PROFILE_SOURCE=members the `marketing` source against one audience of
 * members and no campaigns; PROFILE_LATENCY_MS sets the upstream latency per page.
 * The service must be built first (bench/results/dist, as `npm run bench` leaves it; PROFILE_DIST names another build).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuSeconds, SERVICE_NODE_FLAGS } from '../lib/proc.js';
import { startUpstream } from './children.js';
import { plainSourceDeclaration, startPlainUpstream } from './plain-upstream.js';

const records = Number(process.argv[2] ?? 200_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-profile-'));
const latencyMs = Number(process.env.PROFILE_LATENCY_MS ?? 0);
const wanted = process.env.PROFILE_SOURCE;
const source = wanted === 'marketing' || wanted === 'crm' || wanted === 'members' ? wanted : 'bench';
const up =
  source === 'bench'
    ? await startPlainUpstream({ records, latencyMs, pageSize: 1000 })
    : await startUpstream({
        kind: source === 'crm' ? 'hubspot' : source === 'members' ? 'mailchimp-members' : 'mailchimp',
        records,
        latencyMs,
        pageSize: source === 'crm' ? 100 : 1000,
        customProperties: Number(process.env.BENCH_SYNC_CUSTOM_PROPERTIES ?? 0),
        logFile: path.join(dir, 'upstream.log'),
      });
const sourceEnv: Record<string, string> = {};
if (source === 'marketing' || source === 'members') {
  const m = up as Awaited<ReturnType<typeof startUpstream>>;
  Object.assign(sourceEnv, { MAILCHIMP_API_KEY: m.credential, MAILCHIMP_BASE_URL: m.url });
} else if (source === 'crm') {
  const h = up as Awaited<ReturnType<typeof startUpstream>>;
  Object.assign(sourceEnv, { HUBSPOT_ACCESS_TOKEN: h.credential, HUBSPOT_BASE_URL: h.url, HUBSPOT_RATE_LIMIT: 'off' });
} else {
  const p = up as Awaited<ReturnType<typeof startPlainUpstream>>;
  fs.writeFileSync(path.join(dir, 'sources.json'), JSON.stringify(plainSourceDeclaration('bench', p.url, 1000, 'BENCH_TOKEN')));
  Object.assign(sourceEnv, { SOURCES_FILE: path.join(dir, 'sources.json'), BENCH_TOKEN: p.token });
}
const port = 18000 + Math.floor(Math.random() * 1000);
const flags = (process.env.PROFILE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...flags, process.env.PROFILE_DIST ?? 'bench/results/dist/server.js'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: process.env.PROFILE_DATABASE_URL ?? `sqlite:${path.join(dir, 'db.sqlite')}`,
    ...sourceEnv,
    LOG_LEVEL: 'warn',
  },
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 600; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    /* not yet */
  }
  await sleep(100);
}
const t0 = Date.now();
const cpu0 = cpuSeconds(child.pid as number);
const { task_id } = (await (await fetch(`${base}/sync/${source === 'members' ? 'marketing' : source}`, { method: 'POST' })).json()) as { task_id: string };
for (;;) {
  await sleep(200);
  const t = (await (await fetch(`${base}/tasks/${task_id}`)).json()) as { status: string };
  if (t.status !== 'running' && t.status !== 'queued') {
    console.log(t);
    break;
  }
}
const secs = (Date.now() - t0) / 1000;
const cpu = cpuSeconds(child.pid as number);
console.log(`${records} records in ${secs.toFixed(1)} s = ${Math.round(records / secs)} records/s`);
if (cpu !== null && cpu0 !== null) console.log(`service CPU ${(((cpu - cpu0) * 1e6) / records).toFixed(1)} µs a record`);
const hwm = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)/)?.[1];
console.log(`VmHWM ${Math.round(Number(hwm) / 1024)} MiB`);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
await ('close' in up ? up.close() : up.stop());
fs.rmSync(dir, { recursive: true, force: true });
