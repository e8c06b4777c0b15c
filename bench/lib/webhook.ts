import autocannon, { type AutocannonResult } from 'autocannon';
import { cpuSeconds } from './proc.js';
import { percentile } from './stats.js';

export interface LoadResult {
  label: string;
  amount: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** 2xx answers per second over the whole run. */
  rate: number;
  p50: number;
  p99: number;
  max: number;
  /** The hard time limit stopped the run before every request was answered. */
  cutShort: boolean;
  /** CPU time the server process spent per answered request (µs), when it could be read. */
  serverCpuUs: number | null;
  /** CPU time the load generator (this process) spent per answered request (µs). */
  clientCpuUs: number;
}

/** Distinct customers: one counter per target, so warm-up and measured runs never repeat a key. */
export function customerBodies(prefix: string): () => { body: string; id: string } {
  let n = 0;
  return () => {
    n++;
    const id = `${prefix}_${n}`;
    const body = JSON.stringify({
      customer: { id: n, external_id: `cust_${id}`, name: `Customer ${n}`, email: `customer.${n}@example.com` },
    });
    return { body, id: `msg_${id}` };
  };
}

/**
 * `amount` POSTs over `connections` keep-alive connections, each a distinct
 * customer with its own webhook-id. A fixed amount (not a duration) so every
 * request sent is answered before the run ends and the stored count can be
 * compared exactly; `timeLimitMs` bounds it anyway.
 */
export async function webhookLoad(opts: {
  label: string;
  url: string;
  connections: number;
  amount: number;
  timeLimitMs: number;
  next: () => { body: string; id: string };
  serverPid?: number;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let cutShort = false;
  const serverCpu0 = opts.serverPid ? cpuSeconds(opts.serverPid) : null;
  const clientCpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  // autocannon reports `done` on its next one-second tick, not when the last answer came:
  // the run is timed to the last answer instead, or short runs would look up to a second slower.
  let lastAnswer = started;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${opts.url}/webhook`,
        connections: opts.connections,
        amount: opts.amount,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: '/webhook',
            setupRequest: (req) => {
              const { body, id } = opts.next();
              req.body = body;
              req.headers = { 'content-type': 'application/json', 'webhook-id': id };
              return req;
            },
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      lastAnswer = process.hrtime.bigint();
      if (status >= 200 && status < 300) {
        ok++;
        latencies.push(ms);
      } else {
        non2xx++;
      }
    });
    const limit = setTimeout(() => {
      cutShort = true;
      instance.stop();
    }, opts.timeLimitMs);
    instance.once('done', () => clearTimeout(limit));
  });
  const seconds = Number(lastAnswer - started) / 1e9;
  const clientCpu = process.cpuUsage(clientCpu0);
  const serverCpu1 = opts.serverPid ? cpuSeconds(opts.serverPid) : null;
  const answered = Math.max(1, ok + non2xx);
  return {
    label: opts.label,
    amount: opts.amount,
    ok,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    rate: ok / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: percentile(latencies, 100),
    cutShort,
    serverCpuUs: serverCpu0 !== null && serverCpu1 !== null ? ((serverCpu1 - serverCpu0) * 1e6) / answered : null,
    clientCpuUs: (clientCpu.user + clientCpu.system) / answered,
  };
}

/** Average deliveries and records per group commit, from the service's /metrics. */
export async function writerBatchStats(url: string): Promise<{ deliveriesPerBatch: number; recordsPerBatch: number; batches: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : Number.NaN;
  };
  const batches = value('tributary_writer_batch_deliveries_count');
  return {
    batches,
    deliveriesPerBatch: value('tributary_writer_batch_deliveries_sum') / batches,
    recordsPerBatch: value('tributary_writer_batch_records_sum') / batches,
  };
}
