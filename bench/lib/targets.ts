/**
 * The "Issue targets" table at the end of `npm run bench`: each target of
 * issue 16 with what this run measured and whether it is met. Ratios only,
 * each against a floor or baseline of the same run; absolute figures are
 * given beside them, never judged.
 */
import type { EventsMemoryResult } from '../events-memory.js';
import { syncFloorPairs, type SyncReport } from '../sync/sync-bench.js';
import type { FloorComparison } from './floors.js';
import { fmt, percentile, table } from './stats.js';

export interface IssueTarget {
  target: string;
  measured: string;
  status: 'met' | 'NOT MET' | 'not measured' | '-';
}

const MB = 1e6;
const MiB = 2 ** 20;
const SOURCE_NAMES: Record<string, string> = {
  bench: 'plain (declared source)',
  marketing: 'Mailchimp campaigns',
  crm: 'HubSpot contacts',
  members: 'Mailchimp members',
};
const sourceName = (s: string) => SOURCE_NAMES[s] ?? s;
const verdict = (ok: boolean): IssueTarget['status'] => (ok ? 'met' : 'NOT MET');
const rounds = (c: FloorComparison) => `${c.rounds} round${c.rounds === 1 ? '' : 's'}: ${c.rateRatios.map(fmt.pct).join(', ')}`;

function webhookTargets(comparisons: readonly FloorComparison[]): IssueTarget[] {
  const find = (service: string, floor: string) => comparisons.find((c) => c.service === service && c.floor === floor);
  const out: IssueTarget[] = [];
  const full = find('sqlite', 'floor');
  out.push(
    full
      ? {
          target: '1. Webhooks, SQLite: ≥ 80% of the floor’s requests/s',
          measured: `${fmt.pct(full.rateRatio)} (${rounds(full)}); ${fmt.int(full.serviceRate)} vs ${fmt.int(full.floorRate)} /s; CPU µs/request ${fmt.int(full.serviceCpuUs)} vs ${fmt.int(full.floorCpuUs)} (${fmt.ratio(full.cpuRatio)})`,
          status: verdict(full.rateRatio >= 0.8),
        }
      : { target: '1. Webhooks, SQLite: ≥ 80% of the floor’s requests/s', measured: 'webhook part not run on SQLite', status: 'not measured' },
  );
  if (full) {
    out.push({
      target: '1. Webhooks, SQLite: p99 < 20 ms',
      measured: `${fmt.ms(full.serviceP99)} ms (floor ${fmt.ms(full.floorP99)} ms)`,
      status: verdict(full.serviceP99 < 20),
    });
  }
  const lean = find('sqlite', 'floor-lean');
  if (lean) {
    out.push({
      target: '1. Webhooks, SQLite: ≥ 60% of the lean floor (aim)',
      measured: `${fmt.pct(lean.rateRatio)} (${rounds(lean)}); CPU µs/request ${fmt.int(lean.serviceCpuUs)} vs ${fmt.int(lean.floorCpuUs)}; p99 ${fmt.ms(lean.serviceP99)} vs ${fmt.ms(lean.floorP99)} ms`,
      status: verdict(lean.rateRatio >= 0.6),
    });
  }
  const indexes = find('floor', 'floor-lean');
  if (indexes) {
    out.push({
      target: '1. (no target) the floor against the lean floor: what the indexes cost',
      measured: `floor at ${fmt.pct(indexes.rateRatio)} of the lean floor (${rounds(indexes)}); CPU µs/request ${fmt.int(indexes.serviceCpuUs)} vs ${fmt.int(indexes.floorCpuUs)}`,
      status: '-',
    });
  }
  const pg = find('postgres', 'floor-pg');
  out.push(
    pg
      ? {
          target: '2. Webhooks, PostgreSQL: ≥ 70% of the PostgreSQL floor',
          measured: `${fmt.pct(pg.rateRatio)} (${rounds(pg)}); ${fmt.int(pg.serviceRate)} vs ${fmt.int(pg.floorRate)} /s; p99 ${fmt.ms(pg.serviceP99)} vs ${fmt.ms(pg.floorP99)} ms; CPU µs/request ${fmt.int(pg.serviceCpuUs)} vs ${fmt.int(pg.floorCpuUs)}`,
          status: verdict(pg.rateRatio >= 0.7),
        }
      : { target: '2. Webhooks, PostgreSQL: ≥ 70% of the PostgreSQL floor', measured: 'webhook part not run on PostgreSQL', status: 'not measured' },
  );
  return out;
}

function syncTargets(sync: SyncReport | null): IssueTarget[] {
  const out: IssueTarget[] = [];
  const pairs = sync ? syncFloorPairs(sync) : [];
  for (const source of ['crm', 'marketing', 'members']) {
    const mine = pairs.filter((p) => p.floor.source === source);
    const target = `3. Sync, ${sourceName(source)}: service CPU per record ≤ 2× the floor’s`;
    if (mine.length === 0) {
      out.push({ target, measured: `not run (BENCH_SYNC_SOURCES with ${source}, SQLite, latency 0)`, status: 'not measured' });
      continue;
    }
    const ratios = mine.map((p) => (p.run.serviceCpuUsPerRecord ?? Number.NaN) / p.floor.cpuUsPerRecord);
    const ratio = percentile(ratios, 50);
    const service = percentile(
      mine.map((p) => p.run.serviceCpuUsPerRecord ?? Number.NaN),
      50,
    );
    const floor = percentile(
      mine.map((p) => p.floor.cpuUsPerRecord),
      50,
    );
    out.push({
      target,
      measured: `${fmt.ratio(ratio)} (${mine.length} round${mine.length === 1 ? '' : 's'}: ${ratios.map(fmt.ratio).join(', ')}); ${fmt.int(service)} vs ${fmt.int(floor)} µs/record, ${fmt.int(mine[0]?.floor.records ?? Number.NaN)} records`,
      status: verdict(ratio <= 2),
    });
  }

  // The bench's members source is one audience and no campaigns: one walk, a page after another.
  for (const [source, walk] of [
    ['crm', 'HubSpot list'],
    ['members', 'Mailchimp members of one audience'],
  ] as const) {
    const paced = (sync?.runs ?? []).filter((r) => r.source === source && r.latencyMs > 0 && r.latencyBaseline);
    if (paced.length === 0) {
      out.push({ target: `4. Pace, ${walk}: ≤ 1.1 × pages × latency`, measured: `not run (${source} with a latency)`, status: 'not measured' });
    }
    for (const r of paced) {
      const ratio = r.seconds / (r.latencyBaseline as number);
      const cpuPerPageMs = ((r.serviceCpuUsPerRecord ?? Number.NaN) * r.fetched) / Math.max(1, r.pages) / 1000;
      // The target holds where the service's CPU per page is below the page's latency; above it, the CPU sets the pace.
      const applies = cpuPerPageMs < r.latencyMs;
      out.push({
        target: `4. Pace, ${walk}, ${r.latencyMs} ms a page, ${r.engine}: ≤ 1.1 × pages × ${r.latencyMs} ms`,
        measured: `${fmt.ratio(ratio)} (${r.seconds.toFixed(1)} s for ${fmt.int(r.pages)} pages; service CPU ${fmt.ms(cpuPerPageMs)} ms a page${applies ? '' : `, over the ${r.latencyMs} ms the target assumes`})`,
        status: applies ? verdict(ratio <= 1.1) : '-',
      });
    }
  }

  const ran = new Set((sync?.runs ?? []).map((r) => r.source));
  for (const source of [...new Set(['crm', 'marketing', 'members', ...ran])]) {
    const runs = (sync?.runs ?? []).filter((r) => r.source === source && r.peakMiB !== null);
    const top = runs.reduce<(typeof runs)[number] | null>((a, r) => (a === null || (r.peakMiB ?? 0) > (a.peakMiB ?? 0) ? r : a), null);
    const target = `5. Memory, ${sourceName(source)}: peak RSS < 250 MB for 1M records`;
    if (!top || top.peakMiB === null) {
      out.push({ target, measured: `not run (BENCH_SYNC_SOURCES with ${source}, BENCH_SYNC_FAKE_RECORDS=1000000)`, status: 'not measured' });
      continue;
    }
    const peakMB = (top.peakMiB * MiB) / MB;
    if (top.fetched >= 1_000_000) {
      out.push({
        target,
        measured: `${fmt.int(peakMB)} MB at ${fmt.int(top.fetched)} records (${top.engine}, ${top.latencyMs} ms)`,
        status: verdict(peakMB < 250),
      });
      continue;
    }
    const slopes = runs.map((r) => r.rssSlopeMiBPer100k).filter((v): v is number => v !== null);
    const slope = slopes.length > 0 ? percentile(slopes, 50) : null;
    const projected = slope === null ? null : peakMB + (Math.max(0, slope) * MiB * (1_000_000 - top.fetched)) / 100_000 / MB;
    out.push({
      target,
      measured:
        `${fmt.int(peakMB)} MB at ${fmt.int(top.fetched)} records (${top.engine}, ${top.latencyMs} ms); ` +
        (slope === null ? 'no slope' : `RSS growth ${slope.toFixed(1)} MiB / 100k records (median), so about ${fmt.int(projected as number)} MB at 1M`),
      status: 'not measured',
    });
  }
  return out;
}

/** Target 5's memory at rest, from the `events` part: the service's RSS with 200 idle streams open. */
function eventsTarget(events: EventsMemoryResult | null): IssueTarget {
  const target = '5. Memory at rest, 200 idle /events streams: < 200 MB';
  const none = events?.stages[0];
  const open = events?.stages[1];
  if (!none || !open) return { target, measured: 'not run (BENCH_PARTS with events)', status: 'not measured' };
  const rssMB = (open.rssMiB * MiB) / MB;
  return {
    target,
    measured: `${fmt.int(rssMB)} MB RSS with ${fmt.int(open.streams)} streams open (${fmt.int((none.rssMiB * MiB) / MB)} MB with none; ${events.perStreamKiB.rss.toFixed(1)} KiB a stream)`,
    // Fewer streams than the target's would flatter it; more only make it harder.
    status: open.streams >= 200 ? verdict(rssMB < 200) : 'not measured',
  };
}

export function issueTargets(webhook: readonly FloorComparison[], sync: SyncReport | null, events: EventsMemoryResult | null = null): IssueTarget[] {
  return [...webhookTargets(webhook), ...syncTargets(sync), eventsTarget(events)];
}

export function issueTargetsTable(targets: readonly IssueTarget[]): string {
  return table(
    ['target', 'measured', 'status'],
    targets.map((t) => [t.target, t.measured, t.status]),
    ['l', 'l', 'l'],
  );
}
