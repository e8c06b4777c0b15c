/**
 * The sync benchmark on its own: `npx tsx bench/sync/main.ts`
 * (or `BENCH_PARTS=sync npm run bench`, which runs the same code).
 *
 * Environment (all optional):
 *   BENCH_SYNC_RECORDS      1000000           records upstream serves and each sync fetches
 *   BENCH_SYNC_SOURCES      bench,marketing   bench: a minimal fast upstream as a declared source;
 *                                             marketing: the sandbox's fake Mailchimp; crm: fake HubSpot
 *                                             (the connector keeps HubSpot's 100 requests / 10 s: 1,000 records/s at most)
 *   BENCH_SYNC_LATENCIES    0,50              upstream latency per page, ms
 *   BENCH_SYNC_PROBE_PAGES  200               pages the upstream-alone probe fetches (at most 30 s)
 *   BENCH_SYNC_FAKE_RECORDS 100000            records for marketing and crm (their fakes are slower than the sync)
 *   BENCH_SYNC_DIST         (unset)           a service already built (folder with server.js) to run instead of building: before/after runs
 *   BENCH_ENGINES           sqlite,postgres   postgres is skipped if the admin URL does not answer
 *   BENCH_PG_ADMIN_URL      postgres://postgres@127.0.0.1:5432/postgres
 *   BENCH_SERVER            build             build: tsc into bench/results/sync-dist and run the JS; tsx: node --import tsx src/server.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropScratchDatabases, postgresAvailable } from '../lib/pg.js';
import { killChildren } from '../lib/proc.js';
import { syncMarkdown, syncPart, syncSettingsFromEnv } from './sync-bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = path.join(root, 'bench', 'results');
const runDir = path.join(resultsDir, `${stamp}-sync`);
fs.mkdirSync(runDir, { recursive: true });
const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-sync-bench-'));
const say = (line: string) => process.stdout.write(`${line}\n`);
const loads: Array<{ phase: string; loadavg: string }> = [];
const markLoad = (phase: string) => {
  const l = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  loads.push({ phase, loadavg: l });
  say(`  [load average ${l}] ${phase}`);
};
const settings = syncSettingsFromEnv({ runDir, scratchDir, say, markLoad });

async function main(): Promise<void> {
  const started = Date.now();
  const cpus = os.cpus();
  const machine = { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  say(`tributary sync bench ${stamp}: records ${settings.records}, sources ${settings.sources.join(',')}, latencies ${settings.latencies.join(',')} ms, engines ${settings.engines.join(',')}`);
  say(`machine: ${JSON.stringify(machine)}`);
  markLoad('start');
  if (settings.engines.includes('postgres') && !(await postgresAvailable(settings.pgAdminUrl))) {
    say(`PostgreSQL does not answer at ${settings.pgAdminUrl}: skipping it`);
    settings.engines = settings.engines.filter((e) => e !== 'postgres');
  }
  const report = await syncPart(settings);
  markLoad('end');
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const text = [
    `# Sync bench run ${stamp}`,
    '',
    `Machine: ${JSON.stringify(machine)}`,
    `Took ${minutes} min.`,
    '',
    syncMarkdown(report),
    '## Load average during the run',
    '',
    ...loads.map((l) => `- ${l.phase}: ${l.loadavg}`),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(runDir, 'results.md'), text);
  fs.writeFileSync(path.join(runDir, 'results.json'), JSON.stringify({ stamp, machine, loads, ...report }, null, 2));
  fs.writeFileSync(path.join(resultsDir, 'latest-sync.md'), text);
  say(`\n${text}`);
  say(`results: ${path.relative(root, runDir)}/results.{md,json}`);
}

let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  killChildren();
  await dropScratchDatabases(settings.pgAdminUrl);
  fs.rmSync(scratchDir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`\n${sig}: stopping children and dropping scratch databases`);
    void cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(cleanup)
  .catch(async (err: unknown) => {
    process.stderr.write(`sync bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
