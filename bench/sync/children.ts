import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

/** mailchimp-members: the fake Mailchimp with no campaigns and one audience of every record. */
export type UpstreamKind = 'mailchimp' | 'mailchimp-members' | 'hubspot' | 'plain';

export interface Upstream {
  kind: UpstreamKind;
  url: string;
  credential: string;
  pid: number;
  /** Stops it; the requests it received, when it counts them (the fake HubSpot does). */
  stop(): Promise<UpstreamCounts | null>;
}

export interface UpstreamCounts {
  requests: number;
  byPath: Record<string, number>;
}

const started = new Set<ChildProcess>();
// The bench may end by process.exit (Ctrl-C): no upstream outlives it.
process.once('exit', () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/**
 * Starts a fake upstream in its own process (bench/sync/upstream.ts under
 * tsx) on 127.0.0.1 and waits (at most 30 s) for the line that says where it listens.
 */
export async function startUpstream(opts: {
  kind: UpstreamKind;
  records: number;
  latencyMs: number;
  pageSize: number;
  logFile: string;
  /** hubspot: custom contact properties the fake portal defines. */
  customProperties?: number;
}): Promise<Upstream> {
  const log = fs.openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'upstream.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      SYNC_UPSTREAM: opts.kind,
      SYNC_UPSTREAM_RECORDS: String(opts.records),
      SYNC_UPSTREAM_LATENCY_MS: String(opts.latencyMs),
      SYNC_UPSTREAM_PAGE: String(opts.pageSize),
      SYNC_UPSTREAM_CUSTOM_PROPERTIES: String(opts.customProperties ?? 0),
    },
    stdio: ['ignore', 'pipe', log],
  });
  fs.closeSync(log);
  started.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => started.delete(child));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`upstream ${opts.kind} did not start within 30 s; see ${opts.logFile}`));
    }, 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`upstream ${opts.kind} exited with ${code} before it listened; see ${opts.logFile}`));
    });
  });
  // The lines after the first: the counts it prints as it stops.
  let rest = '';
  child.stdout?.removeAllListeners('data');
  child.stdout?.on('data', (chunk: Buffer) => (rest += chunk.toString('utf8')));
  const info = JSON.parse(line) as { url: string; credential: string };
  const counts = (): UpstreamCounts | null => {
    const last = rest.trim().split('\n').filter(Boolean).at(-1);
    if (last === undefined) return null;
    try {
      const parsed = JSON.parse(last) as Partial<UpstreamCounts>;
      return typeof parsed.requests === 'number' ? { requests: parsed.requests, byPath: parsed.byPath ?? {} } : null;
    } catch {
      return null;
    }
  };
  return {
    kind: opts.kind,
    url: info.url,
    credential: info.credential,
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return counts();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      return counts();
    },
  };
}

/** VmRSS and VmHWM (peak) of a process in bytes, from /proc; null where there is no /proc. */
export function memoryOf(pid: number): { rss: number; hwm: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}
