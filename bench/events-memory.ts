/**
 * What idle GET /events streams cost the service: its resident memory with
 * none open, with BENCH_EVENTS_STREAMS (200) open and idle (nothing
 * happening, the shared poll running), and after they closed. Run as the
 * `events` part of `npm run bench` (BENCH_PARTS=events); SQLite, since the
 * streams share one poll whatever the engine.
 */
import fs from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from './lib/proc.js';
import { percentile, table } from './lib/stats.js';

export interface Stage {
  streams: number;
  rssMiB: number;
  heapMiB: number;
}

export interface EventsMemoryResult {
  /** No stream, BENCH_EVENTS_STREAMS, ten times as many, then all closed. */
  stages: Stage[];
  /** Added RSS and heap per stream, from the largest stage (the smaller one is within the noise of a collection). */
  perStreamKiB: { rss: number; heap: number };
  /** GET /stats round trip with the streams open, p50 ms. */
  statsP50Ms: number;
}

/** The child's resident set (VmRSS), in bytes. */
function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
  return kib * 1024;
}

/** The service's own figure of its used heap, from /metrics. */
async function heapOf(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** Medians of a few samples, a little apart: one sample catches a collection half done. */
async function steady(child: Child, streams: number): Promise<Stage> {
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < 9; i++) {
    rss.push(rssOf(child.pid));
    heap.push(await heapOf(child.url));
    await sleep(300);
  }
  return { streams, rssMiB: percentile(rss, 50) / 2 ** 20, heapMiB: percentile(heap, 50) / 2 ** 20 };
}

/** Opens one stream; resolves once its hello arrived, with a way to close it. */
function openStream(url: string, agent: http.Agent): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/events`, { agent }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /events answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let seen = '';
      let opened = false;
      res.on('data', (chunk: string) => {
        if (!opened && (seen += chunk).includes('event: hello')) {
          opened = true;
          seen = '';
          resolve(() => req.destroy());
        }
      });
      res.on('error', () => {});
    });
    req.on('error', reject);
  });
}

export async function eventsMemoryPart(opts: { service: () => Promise<Child>; streams: number; say: (line: string) => void }): Promise<EventsMemoryResult> {
  const child = await opts.service();
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const closers: Array<() => void> = [];
  try {
    // Warm the route once, so its first use is not counted as the streams' cost.
    (await openStream(child.url, agent))();
    await sleep(1_000);
    const stages: Stage[] = [await steady(child, 0)];
    let statsP50Ms = Number.NaN;
    for (const target of [opts.streams, opts.streams * 10]) {
      while (closers.length < target) closers.push(await openStream(child.url, agent));
      await sleep(2_000);
      stages.push(await steady(child, target));
      opts.say(`  ${target} idle streams: RSS ${stages.at(-1)?.rssMiB.toFixed(1)} MiB, heap ${stages.at(-1)?.heapMiB.toFixed(1)} MiB`);
      if (target === opts.streams) {
        const times: number[] = [];
        for (let i = 0; i < 30; i++) {
          const t0 = performance.now();
          await (await fetch(`${child.url}/stats`)).arrayBuffer();
          times.push(performance.now() - t0);
        }
        statsP50Ms = percentile(times, 50);
      }
    }
    for (const close of closers.splice(0)) close();
    await sleep(2_000);
    stages.push({ ...(await steady(child, 0)), streams: -1 });
    const [none, , most] = stages as [Stage, Stage, Stage];
    const perStreamKiB = { rss: ((most.rssMiB - none.rssMiB) * 1024) / most.streams, heap: ((most.heapMiB - none.heapMiB) * 1024) / most.streams };
    opts.say(
      `  per stream: ${perStreamKiB.rss.toFixed(1)} KiB RSS, ${perStreamKiB.heap.toFixed(1)} KiB heap; GET /stats p50 ${statsP50Ms.toFixed(2)} ms with ${opts.streams} open`,
    );
    return { stages, perStreamKiB, statsP50Ms };
  } finally {
    for (const close of closers) close();
    agent.destroy();
    await child.stop();
  }
}

export function eventsMemoryMarkdown(r: EventsMemoryResult): string {
  return [
    '## GET /events: idle streams (SQLite)',
    '',
    table(
      ['streams open', 'service RSS', 'service heap used'],
      r.stages.map((st) => [st.streams < 0 ? '0 (after they closed)' : String(st.streams), `${st.rssMiB.toFixed(1)} MiB`, `${st.heapMiB.toFixed(1)} MiB`]),
      ['r', 'r', 'r'],
    ),
    '',
    `Per stream (from the largest stage): ${r.perStreamKiB.rss.toFixed(1)} KiB of RSS, ${r.perStreamKiB.heap.toFixed(1)} KiB of heap. GET /stats p50 with ${r.stages[1]?.streams ?? 0} streams open: ${r.statsP50Ms.toFixed(2)} ms.`,
    '',
  ].join('\n');
}
