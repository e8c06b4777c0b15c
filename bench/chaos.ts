/**
 * The chaos part of `npm run bench` (BENCH_PARTS=chaos): the service on
 * PostgreSQL in a child process takes webhooks at a steady rate while
 * PostgreSQL is restarted (`pg_ctlcluster <version> main restart`) or
 * stopped for a while and started again. Every 503 is sent again after its
 * Retry-After, as a sender should; at the end the deliveries acknowledged
 * (200) are compared with the records counted in the database.
 *
 * It restarts the machine's PostgreSQL cluster: everything else using it
 * sees the outage too. Keep runs short and few.
 *
 * Environment (all optional):
 *   BENCH_CHAOS_MODES    restart,stop   restart: pg_ctlcluster restart; stop: stop, wait BENCH_CHAOS_DOWN s, start
 *   BENCH_CHAOS_RATE     100            deliveries sent per second
 *   BENCH_CHAOS_SECONDS  20             how long new deliveries are sent, per mode
 *   BENCH_CHAOS_AT       5              seconds into the run when PostgreSQL is restarted or stopped
 *   BENCH_CHAOS_DOWN     10             seconds PostgreSQL stays stopped (mode stop)
 *   BENCH_CHAOS_CLUSTER  (from pg_lsclusters)   "<version> <name>" of the cluster to restart
 */
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { intEnv, listEnv } from './lib/env.js';
import { createScratchDatabase, dropScratchDatabase } from './lib/pg.js';
import type { Child } from './lib/proc.js';
import { percentile, table } from './lib/stats.js';

export type ChaosMode = 'restart' | 'stop';

export interface ChaosSettings {
  modes: ChaosMode[];
  rate: number;
  seconds: number;
  at: number;
  down: number;
  cluster: { version: string; name: string };
  pgAdminUrl: string;
  say(line: string): void;
  startService(label: string, databaseUrl: string): Promise<Child>;
}

export interface ChaosResult {
  mode: ChaosMode;
  command: string;
  /** Distinct deliveries sent, and requests including resends. */
  sent: number;
  requests: number;
  acked: number;
  deadLetters: number;
  /** Deliveries still not acknowledged when the resends gave up. */
  unacked: number;
  stored: number;
  /** Acknowledged but not in the database: must be 0. */
  lost: number;
  statuses: Record<string, number>;
  /** How long the store was out, from the command to PostgreSQL answering again (ms). */
  outageMs: number;
  /** First to last answer other than 200, relative to the start of the outage (ms). */
  failing: { fromMs: number; toMs: number } | null;
  /** First to last /readyz answer other than 200, relative to the start of the outage (ms). */
  notReady: { fromMs: number; toMs: number } | null;
  /** Answer times of the webhook requests (ms): p50, p99, max. */
  latency: { p50: number; p99: number; max: number };
  /** The slowest /readyz answer (ms): must stay under 2 s. */
  readyzMaxMs: number;
  serviceAlive: boolean;
}

function detectCluster(): { version: string; name: string } {
  const fromEnv = process.env.BENCH_CHAOS_CLUSTER?.trim();
  if (fromEnv) {
    const [version, name] = fromEnv.split(/\s+/);
    if (!version || !name) throw new Error('BENCH_CHAOS_CLUSTER must be "<version> <name>", as pg_lsclusters lists it');
    return { version, name };
  }
  const r = spawnSync('pg_lsclusters', ['-h'], { encoding: 'utf8' });
  const first = r.stdout?.split('\n').find((l) => l.trim());
  const [version, name] = first?.split(/\s+/) ?? [];
  if (!version || !name) throw new Error('no PostgreSQL cluster found by pg_lsclusters; set BENCH_CHAOS_CLUSTER');
  return { version, name };
}

export function chaosSettingsFromEnv(base: Pick<ChaosSettings, 'pgAdminUrl' | 'say' | 'startService'>): ChaosSettings {
  const modes = listEnv('BENCH_CHAOS_MODES', 'restart,stop');
  for (const m of modes) if (m !== 'restart' && m !== 'stop') throw new Error(`BENCH_CHAOS_MODES: unknown mode "${m}"`);
  return {
    ...base,
    modes: modes as ChaosMode[],
    rate: intEnv('BENCH_CHAOS_RATE', 100, 1, 5_000),
    seconds: intEnv('BENCH_CHAOS_SECONDS', 20, 2, 600),
    at: intEnv('BENCH_CHAOS_AT', 5, 0, 600),
    down: intEnv('BENCH_CHAOS_DOWN', 10, 1, 600),
    cluster: detectCluster(),
  };
}

function pgCtl(cluster: { version: string; name: string }, action: 'restart' | 'stop' | 'start'): void {
  const r = spawnSync('pg_ctlcluster', [cluster.version, cluster.name, action], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pg_ctlcluster ${cluster.version} ${cluster.name} ${action} failed: ${r.stderr || r.stdout}`);
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

interface Delivery {
  n: number;
  body: string;
  id: string;
  acked: boolean;
}

/** Longest a sender is told to wait; the resends follow Retry-After up to this. */
const MAX_RESEND_WAIT_MS = 5_000;
/** After the last new delivery, resends go on this long at most. */
const RESEND_GRACE_MS = 60_000;

async function runMode(s: ChaosSettings, mode: ChaosMode): Promise<ChaosResult> {
  const db = await createScratchDatabase(s.pgAdminUrl, `chaos_${mode}`);
  const service = await s.startService(`chaos-${mode}`, db.url);
  const statuses: Record<string, number> = {};
  const failures: number[] = [];
  const readyzFailures: number[] = [];
  let readyzMaxMs = 0;
  const latencies: number[] = [];
  let requests = 0;
  let deadLetters = 0;
  let outageStart = 0;
  let outageEnd = 0;
  const deliveries: Delivery[] = [];
  const inFlight = new Set<Promise<void>>();
  const cmd = `pg_ctlcluster ${s.cluster.version} ${s.cluster.name}`;
  const command = mode === 'restart' ? `${cmd} restart` : `${cmd} stop; sleep ${s.down}; ${cmd} start`;

  const send = (d: Delivery): void => {
    const p = (async () => {
      requests++;
      const t0 = Date.now();
      let status: string;
      let retryAfterMs = 1_000;
      try {
        const res = await fetch(`${service.url}/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'webhook-id': d.id },
          body: d.body,
          signal: AbortSignal.timeout(15_000),
        });
        await res.arrayBuffer();
        status = String(res.status);
        const ra = Number(res.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1_000, MAX_RESEND_WAIT_MS);
      } catch {
        status = 'no answer';
      }
      latencies.push(Date.now() - t0);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === '200') {
        d.acked = true;
        return;
      }
      failures.push(Date.now());
      if (status === '202') {
        deadLetters++;
        return; // a dead letter: not to be sent again
      }
      // 503 (or no answer): the sender tries again later, as Retry-After says.
      await sleep(retryAfterMs);
      if (!stopResending) send(d);
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  let stopResending = false;

  // /readyz, four times a second, through the whole run.
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t0 = Date.now();
      let ok = false;
      try {
        const res = await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        ok = res.status === 200;
      } catch {
        ok = false;
      }
      readyzMaxMs = Math.max(readyzMaxMs, Date.now() - t0);
      if (!ok) readyzFailures.push(Date.now());
      await sleep(250);
    }
  })();

  const fault = (async () => {
    await sleep(s.at * 1_000);
    outageStart = Date.now();
    s.say(`  ${new Date().toISOString()} ${command}`);
    if (mode === 'restart') pgCtl(s.cluster, 'restart');
    else {
      try {
        pgCtl(s.cluster, 'stop');
        await sleep(s.down * 1_000);
      } finally {
        // Whatever happened, the machine's PostgreSQL is not left stopped.
        pgCtl(s.cluster, 'start');
      }
    }
    while (!(await answers(db.url))) await sleep(100);
    outageEnd = Date.now();
    s.say(`  PostgreSQL answers again after ${outageEnd - outageStart} ms`);
  })();

  const started = Date.now();
  const total = s.rate * s.seconds;
  for (let n = 0; n < total; n++) {
    const due = started + (n * 1_000) / s.rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const d: Delivery = {
      n,
      id: `chaos_${mode}_${n}`,
      body: JSON.stringify({ customer: { external_id: `chaos_${mode}_${n}`, name: `Chaos ${n}` } }),
      acked: false,
    };
    deliveries.push(d);
    send(d);
  }
  await fault;
  const giveUpAt = Date.now() + RESEND_GRACE_MS;
  while (inFlight.size > 0 && Date.now() < giveUpAt) await sleep(100);
  stopResending = true;
  while (inFlight.size > 0) await sleep(100);
  probing = false;
  await prober;

  const serviceAlive = await fetch(`${service.url}/healthz`, { signal: AbortSignal.timeout(2_000) })
    .then((r) => r.ok)
    .catch(() => false);
  await service.stop();

  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  let storedIds: Set<string>;
  try {
    const rows = await c.query<{ external_id: string }>(`select external_id from records where type = 'customer' and external_id like $1`, [`chaos_${mode}_%`]);
    storedIds = new Set(rows.rows.map((r) => r.external_id));
  } finally {
    await c.end();
  }
  await dropScratchDatabase(s.pgAdminUrl, db.name);

  const acked = deliveries.filter((d) => d.acked);
  const windowOf = (times: number[]) => (times.length === 0 ? null : { fromMs: Math.min(...times) - outageStart, toMs: Math.max(...times) - outageStart });
  return {
    mode,
    command,
    sent: deliveries.length,
    requests,
    acked: acked.length,
    deadLetters,
    unacked: deliveries.length - acked.length - deadLetters,
    stored: storedIds.size,
    lost: acked.filter((d) => !storedIds.has(d.id)).length,
    statuses,
    outageMs: outageEnd - outageStart,
    failing: windowOf(failures),
    notReady: windowOf(readyzFailures),
    latency: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(0, ...latencies) },
    readyzMaxMs,
    serviceAlive,
  };
}

export async function chaosPart(s: ChaosSettings): Promise<ChaosResult[]> {
  const out: ChaosResult[] = [];
  for (const mode of s.modes) {
    s.say(`\n== chaos: ${mode}, ${s.rate}/s for ${s.seconds} s, outage at ${s.at} s${mode === 'stop' ? ` for ${s.down} s` : ''}`);
    const r = await runMode(s, mode);
    s.say(`  ${JSON.stringify(r)}`);
    out.push(r);
  }
  return out;
}

const secs = (ms: number) => (ms / 1000).toFixed(1);
const windowText = (w: { fromMs: number; toMs: number } | null) => (w ? `${secs(w.fromMs)} s → ${secs(w.toMs)} s (${secs(w.toMs - w.fromMs)} s)` : 'none');

export function chaosMarkdown(s: ChaosSettings, rows: ChaosResult[]): string {
  return [
    `## Store outage (chaos): ${s.rate} webhooks/s for ${s.seconds} s, PostgreSQL ${s.cluster.version} out at ${s.at} s`,
    '',
    table(
      [
        'outage',
        'store out',
        'sent',
        'requests',
        'acked (200)',
        'stored',
        'lost',
        'dead letters (202)',
        'unacked',
        'status codes',
        'answer p50 / p99 / max',
        'failing window',
        '/readyz not 200',
        '/readyz slowest',
      ],
      rows.map((r) => [
        r.command,
        `${secs(r.outageMs)} s`,
        String(r.sent),
        String(r.requests),
        String(r.acked),
        String(r.stored),
        String(r.lost),
        String(r.deadLetters),
        String(r.unacked),
        Object.entries(r.statuses)
          .sort()
          .map(([k, v]) => `${k}: ${v}`)
          .join(', '),
        `${r.latency.p50} / ${r.latency.p99} / ${r.latency.max} ms`,
        windowText(r.failing),
        windowText(r.notReady),
        `${r.readyzMaxMs} ms`,
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'l', 'l', 'r'],
    ),
    '',
    'Windows are measured from the moment the outage command ran. Every 503 was sent again after its Retry-After (at most 5 s).',
    '',
  ].join('\n');
}
