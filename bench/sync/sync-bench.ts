/**
 * The sync part of `npm run bench` (`BENCH_PARTS=sync npm run bench` alone).
 *
 * Environment (all optional):
 *   BENCH_SYNC_RECORDS      1000000           records upstream serves and each sync fetches
 *   BENCH_SYNC_SOURCES      bench,marketing,crm,members  bench: a minimal fast upstream as a declared source;
 *                                             marketing: the sandbox's fake Mailchimp; crm: fake HubSpot;
 *                                             members: the marketing source against a fake Mailchimp of one audience
 *                                             (BENCH_SYNC_FAKE_RECORDS members, 1,000 a page) and no campaigns
 *   BENCH_SYNC_LATENCIES    0,50              upstream latency per page, ms
 *   BENCH_SYNC_PROBE_PAGES  200               pages the upstream-alone probe fetches (at most 30 s)
 *   BENCH_SYNC_FAKE_RECORDS 100000            records for marketing and crm (their fakes are slower than the sync)
 *   BENCH_SYNC_HUBSPOT_RATE_LIMIT off         HUBSPOT_RATE_LIMIT for crm; `100/10s` keeps HubSpot's own (1,000 records/s at most)
 *   BENCH_SYNC_CUSTOM_PROPERTIES 0    custom properties the fake HubSpot defines (the sandbox's has 300); every one is synced
 *   BENCH_SYNC_FLOORS       1                 0: no sync floor runs
 *   BENCH_SYNC_FLOOR_ROUNDS 3                 rounds of service, then floor (SQLite, 0 ms) for each source the floor syncs
 *   BENCH_SYNC_DIST         (unset)           a service already built (folder with server.js) to run instead of this
 *                                             run's build: before/after comparisons
 *
 * A full sync of the service, run as a real process, from
 * a fake upstream in a second process, into a scratch SQLite file
 * (synchronous=FULL, as shipped) and a scratch PostgreSQL database.
 *
 * For each engine, source and upstream latency:
 *   - the upstream alone first (pages fetched one after another, bodies read
 *     but not parsed): the ceiling no sync against it can pass, and with a
 *     latency the real time an upstream page takes;
 *   - then POST /sync/{source}, /tasks/{id} polled until the task ends, the
 *     service's RSS sampled at every poll and its VmHWM read at the end.
 * Throughput is records / (finished_at - started_at) of the task. With a
 * latency, the baseline is pages × latency: a sync that only ever waits for
 * upstream takes exactly that, so the ratio is what the store adds.
 *
 * The sync floor (floor-sync.mjs: the same pages, the same client, JSON.parse
 * and one upsert transaction a page into SQLite FULL, nothing else) runs
 * after the service's SQLite sync at 0 ms of each source it can sync, in
 * BENCH_SYNC_FLOOR_ROUNDS alternating rounds: the service's CPU per record is
 * read against the floor's of the same round.
 *
 * Everything on 127.0.0.1; every loop bounded in count and time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { intEnv, listEnv } from '../lib/env.js';
import { createScratchDatabase, dropScratchDatabase } from '../lib/pg.js';
import { cpuSeconds, SERVICE_NODE_FLAGS, startChild, type Child } from '../lib/proc.js';
import { fmt, table } from '../lib/stats.js';
import { memoryOf, startUpstream, type Upstream, type UpstreamKind } from './children.js';
import { FLOOR_KINDS, floorSyncOnce, type SyncFloorRun } from './floor-run.js';
import { plainSourceDeclaration } from './plain-upstream.js';
import { probeUpstream, type ProbeResult } from './upstream-probe.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** bench: the plain fast upstream as a declared source; marketing: fake Mailchimp; crm: fake HubSpot (rate-limited to 10 pages/s by the connector). */
export type SyncSource = 'bench' | 'marketing' | 'crm' | 'members';
type Engine = 'sqlite' | 'postgres';

const UPSTREAM: Record<SyncSource, { kind: UpstreamKind; pageSize: number }> = {
  bench: { kind: 'plain', pageSize: 1000 },
  marketing: { kind: 'mailchimp', pageSize: 1000 },
  crm: { kind: 'hubspot', pageSize: 100 },
  members: { kind: 'mailchimp-members', pageSize: 1000 },
};

/** The service's source a bench source syncs (members are part of `marketing`). */
const serviceSource = (source: SyncSource): string => (source === 'members' ? 'marketing' : source);

export interface SyncBenchSettings {
  engines: Engine[];
  sources: SyncSource[];
  /** Records upstream serves and the sync fetches (source bench). */
  records: number;
  /** The same for marketing and crm, whose fakes are slower (see the upstream-alone probe). */
  fakeRecords: number;
  /** Upstream latencies to run, ms per page. */
  latencies: number[];
  /** Pages the upstream-alone probe fetches at most (and 30 s). */
  probePages: number;
  /** HUBSPOT_RATE_LIMIT for crm (`off` by default). */
  hubspotRateLimit: string;
  /** Custom properties the fake HubSpot defines. */
  hubspotCustomProperties: number;
  /** Rounds of service then floor, for the sources the floor syncs; 0 runs no floor. */
  floorRounds: number;
  pgAdminUrl: string;
  /** The built service (folder with server.js) to run; null runs the TypeScript sources under tsx. */
  dist: string | null;
  runDir: string;
  scratchDir: string;
  say(line: string): void;
  markLoad(phase: string): void;
}

export interface SyncRun {
  engine: Engine;
  /** 1 unless the run is one of several rounds against the sync floor. */
  round: number;
  source: SyncSource;
  latencyMs: number;
  records: number;
  status: string;
  error: string | null;
  pages: number;
  fetched: number;
  written: number;
  /** finished_at - started_at of the task (s). */
  seconds: number;
  recordsPerSecond: number;
  /** pages × latency (s), for latency > 0. */
  latencyBaseline: number | null;
  /** pages × the upstream's own time per page measured alone with this latency (s). */
  upstreamBaseline: number | null;
  /** Requests the upstream received, when it counts them (the fake HubSpot does), and per path. */
  upstreamRequests: number | null;
  upstreamRequestsByPath: Record<string, number> | null;
  /** Records the store holds for the source afterwards (GET /data total). */
  stored: number | null;
  rssIdleMiB: number | null;
  rssMaxSampledMiB: number | null;
  /** VmHWM at the end of the sync: peak resident memory of the process's whole life. */
  peakMiB: number | null;
  rssSamples: number;
  /** RSS growth per 100,000 records fetched, least squares over the second half of the samples. */
  rssSlopeMiBPer100k: number | null;
  serviceCpuUsPerRecord: number | null;
  /** Service CPU seconds / wall seconds during the sync. */
  serviceCpuShare: number | null;
  upstreamCpuUsPerRecord: number | null;
  loadavg: string;
  cutShort: boolean;
}

export interface SyncProbe {
  source: SyncSource;
  latencyMs: number;
  probe: ProbeResult;
  loadavg: string;
}

export interface SyncReport {
  settings: Omit<SyncBenchSettings, 'say' | 'markLoad' | 'runDir' | 'scratchDir'>;
  probes: SyncProbe[];
  runs: SyncRun[];
  floors: SyncFloorRun[];
}

const MiB = 2 ** 20;
const loadavg = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (
      k === 'API_KEY' ||
      k === 'WEBHOOK_SECRET' ||
      k === 'SOURCES_FILE' ||
      k === 'DATABASE_URL' ||
      k.startsWith('HUBSPOT_') ||
      k.startsWith('MAILCHIMP_') ||
      k.startsWith('SYNC_INTERVAL_') ||
      k.startsWith('BENCH_')
    ) {
      delete env[k];
    }
  }
  return { ...env, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', ...extra };
}

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 300)}`);
  }
}

interface TaskView {
  status: string;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  progress: { pages: number; records_fetched: number; records_written: number };
}

/** One sync, start to end, on a fresh scratch database, service and upstream. */
async function syncOnce(s: SyncBenchSettings, serverArgs: string[], engine: Engine, source: SyncSource, latencyMs: number, round = 1): Promise<SyncRun> {
  const label = `${engine}-${source}-${latencyMs}ms${round > 1 ? `-${round}` : ''}`;
  const { kind, pageSize } = UPSTREAM[source];
  const records = recordsFor(s, source);
  // Members: the campaigns' empty page and the audience's archived listing are pages more.
  const pagesExpected = Math.ceil(records / pageSize) + (source === 'members' ? 2 : 0);

  // Scratch store.
  let databaseUrl: string;
  let drop: () => Promise<void>;
  const dir = fs.mkdtempSync(path.join(s.scratchDir, `sync-${label}-`));
  if (engine === 'sqlite') {
    databaseUrl = `sqlite:${path.join(dir, 'warehouse.db')}`;
    drop = async () => {};
  } else {
    const db = await createScratchDatabase(s.pgAdminUrl, 'sync');
    databaseUrl = db.url;
    drop = () => dropScratchDatabase(s.pgAdminUrl, db.name);
  }

  let upstream: Upstream | null = null;
  let service: Child | null = null;
  try {
    upstream = await startUpstream({
      kind,
      records,
      latencyMs,
      pageSize,
      customProperties: s.hubspotCustomProperties,
      logFile: path.join(s.runDir, `sync-upstream-${label}.log`),
    });
    const extra: Record<string, string> = { DATABASE_URL: databaseUrl };
    if (source === 'bench') {
      const file = path.join(dir, 'sources.json');
      fs.writeFileSync(file, JSON.stringify(plainSourceDeclaration('bench', upstream.url, pageSize, 'SYNC_BENCH_TOKEN')));
      extra.SOURCES_FILE = file;
    } else if (source === 'marketing' || source === 'members') {
      extra.MAILCHIMP_API_KEY = upstream.credential;
      extra.MAILCHIMP_BASE_URL = upstream.url;
    } else {
      extra.HUBSPOT_ACCESS_TOKEN = upstream.credential;
      extra.HUBSPOT_BASE_URL = upstream.url;
      // HubSpot's own limit (100 requests / 10 s) would pace crm at 10 pages/s; `off` measures the sync itself.
      extra.HUBSPOT_RATE_LIMIT = s.hubspotRateLimit;
    }
    if (source === 'bench') extra.SYNC_BENCH_TOKEN = upstream.credential;
    const env = serviceEnv(extra);
    service = await startChild({ name: `tributary (${label})`, args: serverArgs, env, cwd: root, logFile: path.join(s.runDir, `sync-service-${label}.log`) });

    const idle = memoryOf(service.pid);
    const cpu0 = cpuSeconds(service.pid);
    const upCpu0 = cpuSeconds(upstream.pid);
    const res = await fetch(`${service.url}/sync/${serviceSource(source)}`, { method: 'POST' });
    const accepted = await json<{ task_id?: string }>(res);
    if (res.status !== 202 || !accepted.task_id) throw new Error(`POST /sync/${serviceSource(source)} answered ${res.status}: ${JSON.stringify(accepted)}`);

    // Long enough for 2,000 records/s plus three times the latency floor; then the task is cancelled.
    // crm at HubSpot's 100 requests / 10 s: three times that floor too, a page taking one request per
    // 15,000 characters of property names (see src/providers/hubspot/properties.ts).
    const chunks = Math.max(1, Math.ceil((s.hubspotCustomProperties * 64 + 200) / 15_000));
    const rateFloorMs = source === 'crm' && s.hubspotRateLimit !== 'off' ? pagesExpected * chunks * 100 : 0;
    const limitMs = 60_000 + (records / 500) * 1000 + 3 * pagesExpected * latencyMs + 3 * rateFloorMs;
    const t0 = performance.now();
    let task: TaskView | null = null;
    let rssMax = 0;
    let samples = 0;
    const growth: Array<[fetched: number, rss: number]> = [];
    let cutShort = false;
    for (let i = 0; i < 100_000; i++) {
      await sleep(200);
      const m = memoryOf(service.pid);
      if (m && Number.isFinite(m.rss)) {
        rssMax = Math.max(rssMax, m.rss);
        samples++;
      }
      task = await json<TaskView>(await fetch(`${service.url}/tasks/${accepted.task_id}`));
      if (m && Number.isFinite(m.rss)) growth.push([task.progress.records_fetched, m.rss]);
      if (task.status !== 'queued' && task.status !== 'running') break;
      if (performance.now() - t0 > limitMs) {
        cutShort = true;
        await fetch(`${service.url}/tasks/cancel`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task_id: accepted.task_id }),
        });
        s.say(`  ${label}: time limit (${Math.round(limitMs / 1000)} s) reached; cancelled`);
        task = await json<TaskView>(await fetch(`${service.url}/tasks/${accepted.task_id}`));
        break;
      }
    }
    const end = memoryOf(service.pid);
    const cpu1 = cpuSeconds(service.pid);
    const upCpu1 = cpuSeconds(upstream.pid);
    if (!task) throw new Error('no task state read');
    const started = task.started_at ? Date.parse(task.started_at) : Number.NaN;
    const finished = task.finished_at ? Date.parse(task.finished_at) : Date.now();
    const seconds = (finished - started) / 1000;
    const totalRes = await fetch(`${service.url}/data?limit=1&source=${serviceSource(source)}`);
    const stored = totalRes.ok ? (await json<{ total: number | null }>(totalRes)).total : null;
    const fetched = task.progress.records_fetched;
    const pages = task.progress.pages;
    // Stopped here, not in `finally`, to read the requests it counted.
    const counts = await upstream.stop();
    upstream = null;
    return {
      engine,
      round,
      source,
      latencyMs,
      records,
      status: task.status,
      error: task.error,
      pages,
      fetched,
      written: task.progress.records_written,
      seconds,
      recordsPerSecond: fetched / seconds,
      latencyBaseline: latencyMs > 0 ? (pages * latencyMs) / 1000 : null,
      upstreamBaseline: null,
      upstreamRequests: counts?.requests ?? null,
      upstreamRequestsByPath: counts?.byPath ?? null,
      stored,
      rssIdleMiB: idle ? idle.rss / MiB : null,
      rssMaxSampledMiB: samples > 0 ? rssMax / MiB : null,
      peakMiB: end ? end.hwm / MiB : null,
      rssSamples: samples,
      rssSlopeMiBPer100k: rssSlope(growth),
      serviceCpuUsPerRecord: cpu0 !== null && cpu1 !== null && fetched > 0 ? ((cpu1 - cpu0) * 1e6) / fetched : null,
      serviceCpuShare: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / ((performance.now() - t0) / 1000) : null,
      upstreamCpuUsPerRecord: upCpu0 !== null && upCpu1 !== null && fetched > 0 ? ((upCpu1 - upCpu0) * 1e6) / fetched : null,
      loadavg: loadavg(),
      cutShort,
    };
  } finally {
    if (service) {
      const code = await service.stop();
      if (code !== 0) s.say(`  warning: service (${label}) exited with ${code}`);
    }
    await upstream?.stop();
    await drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Least-squares RSS growth (MiB per 100,000 records) over the second half of
 * the samples, past the start's growth; null when that half spans fewer than
 * 8 samples or 20,000 records, too short to tell growth from the heap's steps.
 */
function rssSlope(samples: ReadonlyArray<[number, number]>): number | null {
  const half = samples.slice(Math.floor(samples.length / 2));
  if (half.length < 8 || (half.at(-1)?.[0] ?? 0) - (half[0]?.[0] ?? 0) < 20_000) return null;
  const n = half.length;
  const mx = half.reduce((a, [x]) => a + x, 0) / n;
  const my = half.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = half.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  if (sxx === 0) return null;
  const sxy = half.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  return ((sxy / sxx) * 100_000) / MiB;
}

/** The upstream alone, at one latency. */
async function probeAlone(s: SyncBenchSettings, source: SyncSource, latencyMs: number): Promise<SyncProbe> {
  const { kind, pageSize } = UPSTREAM[source];
  const records = recordsFor(s, source);
  const up = await startUpstream({
    kind,
    records,
    latencyMs,
    pageSize,
    customProperties: s.hubspotCustomProperties,
    logFile: path.join(s.runDir, `sync-upstream-probe-${source}.log`),
  });
  try {
    const maxPages = Math.min(s.probePages, Math.ceil(records / pageSize));
    // A few pages first so the fake's code is compiled; then the measured ones.
    await probeUpstream(up, { pageSize, maxPages: Math.min(10, maxPages), maxMs: 10_000 });
    const probe = await probeUpstream(up, { pageSize, maxPages, maxMs: 30_000 });
    return { source, latencyMs, probe, loadavg: loadavg() };
  } finally {
    await up.stop();
  }
}

function recordsFor(s: SyncBenchSettings, source: SyncSource): number {
  return source === 'bench' ? s.records : s.fakeRecords;
}

export async function syncPart(s: SyncBenchSettings): Promise<SyncReport> {
  let serverArgs: string[];
  if (s.dist) {
    const server = path.resolve(root, s.dist, 'server.js');
    if (!fs.existsSync(server)) throw new Error(`no ${server} to run`);
    s.say(`running the service built in ${path.relative(root, path.dirname(server))}`);
    serverArgs = [...SERVICE_NODE_FLAGS, server];
  } else {
    serverArgs = [...SERVICE_NODE_FLAGS, '--import', 'tsx', 'src/server.ts'];
  }
  const probes: SyncProbe[] = [];
  for (const source of s.sources) {
    for (const latencyMs of s.latencies) {
      s.markLoad(`sync: upstream alone (${source}, ${latencyMs} ms)`);
      const p = await probeAlone(s, source, latencyMs);
      probes.push(p);
      s.say(
        `  upstream alone, ${source} (${UPSTREAM[source].kind}), ${latencyMs} ms: ${fmt.int(p.probe.recordsPerSecond)} records/s, ${fmt.ms((p.probe.seconds * 1000) / p.probe.pages)} ms a page (${p.probe.pages} pages, ${fmt.int(p.probe.bytes / p.probe.records)} bytes a record)`,
      );
    }
  }
  const runs: SyncRun[] = [];
  const floors: SyncFloorRun[] = [];
  for (const engine of s.engines) {
    for (const source of s.sources) {
      for (const latencyMs of s.latencies) {
        const withFloor = engine === 'sqlite' && latencyMs === 0 && s.floorRounds > 0 && source in FLOOR_KINDS;
        for (let round = 1; round <= (withFloor ? s.floorRounds : 1); round++) {
          const suffix = withFloor ? ` (round ${round})` : '';
          s.markLoad(`sync: ${engine}, ${source}, ${latencyMs} ms, ${fmt.int(recordsFor(s, source))} records${suffix}`);
          const run = await syncOnce(s, serverArgs, engine, source, latencyMs, round);
          const alone = probes.find((p) => p.source === source && p.latencyMs === latencyMs);
          if (alone && run.pages > 0) run.upstreamBaseline = (run.pages * alone.probe.seconds) / alone.probe.pages;
          runs.push(run);
          s.say(
            `  ${engine} ${source} ${latencyMs} ms${suffix}: ${run.status}, ${fmt.int(run.fetched)} records in ${run.seconds.toFixed(1)} s = ${fmt.int(run.recordsPerSecond)} records/s` +
              (run.latencyBaseline ? `, ${fmt.ratio(run.seconds / run.latencyBaseline)} of pages × latency` : '') +
              (run.upstreamRequests === null ? '' : `; ${fmt.int(run.upstreamRequests)} upstream requests`) +
              `; peak RSS ${fmt.int(run.peakMiB ?? Number.NaN)} MiB; service CPU ${fmt.int(run.serviceCpuUsPerRecord ?? Number.NaN)} µs/record; stored ${run.stored}` +
              (run.error ? `; error: ${run.error}` : ''),
          );
          if (!withFloor) continue;
          s.markLoad(`sync floor: ${source}, ${fmt.int(recordsFor(s, source))} records${suffix}`);
          const floor = await floorSyncOnce({
            source,
            round,
            records: recordsFor(s, source),
            pageSize: UPSTREAM[source].pageSize,
            customProperties: s.hubspotCustomProperties,
            runDir: s.runDir,
            scratchDir: s.scratchDir,
          });
          floors.push(floor);
          s.say(
            `  sync floor ${source}${suffix}: ${fmt.int(floor.records)} records in ${floor.seconds.toFixed(1)} s = ${fmt.int(floor.recordsPerSecond)} records/s; ` +
              `CPU ${fmt.int(floor.cpuUsPerRecord)} µs/record; peak RSS ${fmt.int(floor.peakMiB)} MiB; stored ${floor.stored}`,
          );
        }
      }
    }
  }
  const { say: _say, markLoad: _mark, runDir: _r, scratchDir: _s, ...settings } = s;
  return { settings, probes, runs, floors };
}

export function syncMarkdown(r: SyncReport): string {
  const md: string[] = [];
  md.push(
    `## Sync: ${r.settings.engines.join(' and ')}; ${fmt.int(r.settings.records)} records from the plain upstream (source bench), ${fmt.int(r.settings.fakeRecords)} from the sandbox fakes`,
    '',
    'Upstream alone (one page after another over keep-alive, bodies read, not parsed):',
    '',
    table(
      ['source (upstream)', 'latency ms', 'records/s', 'ms a page', 'bytes a record', 'pages', 'load average'],
      r.probes.map((p) => [
        `${p.source} (${UPSTREAM[p.source].kind}, ${UPSTREAM[p.source].pageSize} a page)`,
        String(p.latencyMs),
        fmt.int(p.probe.recordsPerSecond),
        fmt.ms((p.probe.seconds * 1000) / p.probe.pages),
        fmt.int(p.probe.bytes / p.probe.records),
        `${p.probe.pages}${p.probe.cutShort ? ' (time limit)' : ''}`,
        p.loadavg,
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
    'Syncs (the service as a process; throughput = records / (finished_at - started_at) of the task):',
    '',
    table(
      [
        'engine',
        'source',
        'latency ms',
        'round',
        'status',
        'records',
        'pages',
        'upstream requests',
        'seconds',
        'records/s',
        'vs upstream alone',
        'pages × latency s',
        'ratio to it',
        'ratio to upstream alone',
        'stored',
        'RSS idle / max sampled / peak (VmHWM) MiB',
        'RSS growth MiB / 100k records',
        'service CPU µs/record',
        'service CPU share',
        'upstream CPU µs/record',
        'load average',
      ],
      r.runs.map((x) => {
        const alone = r.probes.find((p) => p.source === x.source && p.latencyMs === x.latencyMs);
        return [
          x.engine,
          x.source,
          String(x.latencyMs),
          String(x.round),
          `${x.status}${x.cutShort ? ' (time limit)' : ''}`,
          fmt.int(x.fetched),
          fmt.int(x.pages),
          x.upstreamRequests === null ? '-' : fmt.int(x.upstreamRequests),
          x.seconds.toFixed(1),
          fmt.int(x.recordsPerSecond),
          alone ? fmt.pct(x.recordsPerSecond / alone.probe.recordsPerSecond) : '-',
          x.latencyBaseline === null ? '-' : x.latencyBaseline.toFixed(1),
          x.latencyBaseline === null ? '-' : fmt.ratio(x.seconds / x.latencyBaseline),
          x.upstreamBaseline === null ? '-' : fmt.ratio(x.seconds / x.upstreamBaseline),
          x.stored === null ? '-' : fmt.int(x.stored),
          `${fmt.int(x.rssIdleMiB ?? Number.NaN)} / ${fmt.int(x.rssMaxSampledMiB ?? Number.NaN)} / ${fmt.int(x.peakMiB ?? Number.NaN)}`,
          x.rssSlopeMiBPer100k === null ? '-' : x.rssSlopeMiBPer100k.toFixed(1),
          fmt.int(x.serviceCpuUsPerRecord ?? Number.NaN),
          x.serviceCpuShare === null ? '-' : fmt.pct(x.serviceCpuShare),
          fmt.int(x.upstreamCpuUsPerRecord ?? Number.NaN),
          x.loadavg,
        ];
      }),
      ['l', 'l', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
    '',
  );
  if (r.floors.length > 0) {
    md.push(
      'Against the sync floor (SQLite, 0 ms; each floor run right after the service run of its round):',
      '',
      table(
        [
          'source',
          'round',
          'records',
          'service records/s',
          'floor records/s',
          'service CPU µs/record',
          'floor CPU µs/record',
          'CPU ratio',
          'service / floor peak RSS MiB',
          'floor stored',
        ],
        syncFloorPairs(r).map(({ run, floor }) => [
          floor.source,
          String(floor.round),
          fmt.int(floor.records),
          fmt.int(run.recordsPerSecond),
          fmt.int(floor.recordsPerSecond),
          fmt.int(run.serviceCpuUsPerRecord ?? Number.NaN),
          fmt.int(floor.cpuUsPerRecord),
          fmt.ratio((run.serviceCpuUsPerRecord ?? Number.NaN) / floor.cpuUsPerRecord),
          `${fmt.int(run.peakMiB ?? Number.NaN)} / ${fmt.int(floor.peakMiB)}`,
          fmt.int(floor.stored),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
    );
  }
  return md.join('\n');
}

/** Each floor run with the service run (SQLite, 0 ms) of its source and round. */
export function syncFloorPairs(r: Pick<SyncReport, 'runs' | 'floors'>): Array<{ run: SyncRun; floor: SyncFloorRun }> {
  const pairs: Array<{ run: SyncRun; floor: SyncFloorRun }> = [];
  for (const floor of r.floors) {
    const run = r.runs.find((x) => x.engine === 'sqlite' && x.latencyMs === 0 && x.source === floor.source && x.round === floor.round);
    if (run) pairs.push({ run, floor });
  }
  return pairs;
}

/** Settings from BENCH_SYNC_* (and the shared BENCH_ENGINES, BENCH_PG_ADMIN_URL); listed at the top of this file. */
export function syncSettingsFromEnv(io: Pick<SyncBenchSettings, 'runDir' | 'scratchDir' | 'say' | 'markLoad'>): SyncBenchSettings {
  const engines = listEnv('BENCH_ENGINES', 'sqlite,postgres');
  for (const e of engines) if (e !== 'sqlite' && e !== 'postgres') throw new Error(`BENCH_ENGINES: unknown engine "${e}"`);
  const sources = listEnv('BENCH_SYNC_SOURCES', 'bench,marketing,crm,members');
  for (const x of sources) if (!(x in UPSTREAM)) throw new Error(`BENCH_SYNC_SOURCES: unknown source "${x}" (bench, marketing, crm, members)`);
  const latencies = listEnv('BENCH_SYNC_LATENCIES', '0,50').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 10_000) throw new Error(`BENCH_SYNC_LATENCIES: "${v}" is not a whole number of ms from 0 to 10000`);
    return n;
  });
  return {
    engines: engines as Engine[],
    sources: sources as SyncSource[],
    records: intEnv('BENCH_SYNC_RECORDS', 1_000_000, 1_000, 20_000_000),
    fakeRecords: intEnv('BENCH_SYNC_FAKE_RECORDS', 100_000, 1_000, 20_000_000),
    latencies,
    probePages: intEnv('BENCH_SYNC_PROBE_PAGES', 200, 10, 100_000),
    hubspotRateLimit: process.env.BENCH_SYNC_HUBSPOT_RATE_LIMIT?.trim() || 'off',
    hubspotCustomProperties: intEnv('BENCH_SYNC_CUSTOM_PROPERTIES', 0, 0, 5_000),
    floorRounds: process.env.BENCH_SYNC_FLOORS?.trim() === '0' ? 0 : intEnv('BENCH_SYNC_FLOOR_ROUNDS', 3, 1, 10),
    pgAdminUrl: process.env.BENCH_PG_ADMIN_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres',
    dist: process.env.BENCH_SYNC_DIST?.trim() || null,
    ...io,
  };
}
