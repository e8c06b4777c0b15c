/**
 * One run of the sync floor (floor-sync.mjs) against a fresh fake upstream,
 * into a scratch SQLite file: the baseline the service's CPU per record is
 * read against (issue 16, target 3).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { cpuSeconds } from '../lib/proc.js';
import { startUpstream, type UpstreamKind } from './children.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The sources the floor can sync, by the fake they read (members: one audience, no campaigns). */
export const FLOOR_KINDS: Readonly<Record<string, Extract<UpstreamKind, 'hubspot' | 'mailchimp' | 'mailchimp-members'>>> = {
  marketing: 'mailchimp',
  crm: 'hubspot',
  members: 'mailchimp-members',
};

export interface SyncFloorRun {
  source: string;
  round: number;
  records: number;
  pages: number;
  seconds: number;
  recordsPerSecond: number;
  /** The floor process's own CPU (user + system) over its walk, per record. */
  cpuUsPerRecord: number;
  /** The floor process's peak RSS (ru_maxrss). */
  peakMiB: number;
  /** Rows in the floor's records table afterwards. */
  stored: number;
  upstreamCpuUsPerRecord: number | null;
}

interface FloorOutput {
  records: number;
  pages: number;
  seconds: number;
  cpuUs: number;
  peakRssBytes: number;
}

export async function floorSyncOnce(opts: {
  source: string;
  round: number;
  records: number;
  pageSize: number;
  customProperties: number;
  runDir: string;
  scratchDir: string;
  schema?: 'full' | 'lean';
}): Promise<SyncFloorRun> {
  const kind = FLOOR_KINDS[opts.source];
  if (!kind) throw new Error(`no sync floor for source "${opts.source}"`);
  const label = `floor-${opts.source}-${opts.round}`;
  const dir = fs.mkdtempSync(path.join(opts.scratchDir, `sync-${label}-`));
  const file = path.join(dir, 'floor.db');
  const upstream = await startUpstream({
    kind,
    records: opts.records,
    latencyMs: 0,
    pageSize: opts.pageSize,
    customProperties: opts.customProperties,
    logFile: path.join(opts.runDir, `sync-upstream-${label}.log`),
  });
  try {
    const upCpu0 = cpuSeconds(upstream.pid);
    const child = spawn(process.execPath, [path.join(here, 'floor-sync.mjs')], {
      env: {
        PATH: process.env.PATH ?? '',
        FLOOR_SYNC_KIND: kind,
        FLOOR_SYNC_URL: upstream.url,
        FLOOR_SYNC_CREDENTIAL: upstream.credential,
        FLOOR_DB: file,
        FLOOR_SCHEMA: opts.schema ?? 'full',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    // Bounded like the service's sync: 2,000 records/s at the least, plus a minute.
    const limitMs = 60_000 + (opts.records / 500) * 1000;
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const upCpu1 = cpuSeconds(upstream.pid);
    fs.writeFileSync(path.join(opts.runDir, `sync-${label}.log`), `${out}${err}`);
    if (code !== 0) throw new Error(`sync floor (${opts.source}) exited with ${code}: ${err.slice(0, 500)}`);
    const r = JSON.parse(out.trim().split('\n').at(-1) ?? '') as FloorOutput;
    const db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    let stored: number;
    try {
      stored = Number((db.prepare('select count(*) as n from records').get() as { n: number }).n);
    } finally {
      db.close();
    }
    return {
      source: opts.source,
      round: opts.round,
      records: r.records,
      pages: r.pages,
      seconds: r.seconds,
      recordsPerSecond: r.records / r.seconds,
      cpuUsPerRecord: r.cpuUs / r.records,
      peakMiB: r.peakRssBytes / 2 ** 20,
      stored,
      upstreamCpuUsPerRecord: upCpu0 !== null && upCpu1 !== null ? ((upCpu1 - upCpu0) * 1e6) / r.records : null,
    };
  } finally {
    await upstream.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
