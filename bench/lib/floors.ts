/**
 * The service's webhook runs read against the floors run in the same rounds
 * (issue 16): per round, the service's rate over its floor's, then the
 * median over the rounds, so a change in background load between rounds
 * moves both sides of each ratio alike.
 */
import { fmt, percentile, table } from './stats.js';
import type { LoadResult } from './webhook.js';

export interface RoundRun {
  target: string;
  round: number;
  run: LoadResult;
}

export interface FloorComparison {
  /** The service target (sqlite, postgres) or a floor read against another floor. */
  service: string;
  floor: string;
  rounds: number;
  /** Per round: service rate / floor rate. */
  rateRatios: number[];
  rateRatio: number;
  serviceRate: number;
  floorRate: number;
  serviceP99: number;
  floorP99: number;
  serviceCpuUs: number;
  floorCpuUs: number;
  /** Median of per-round service CPU / floor CPU per request. */
  cpuRatio: number;
}

const median = (xs: number[]) => percentile(xs, 50);

/** `service` against `floor`, round by round; null when either never ran. */
export function compareToFloor(rows: readonly RoundRun[], service: string, floor: string): FloorComparison | null {
  const pairs: Array<[RoundRun, RoundRun]> = [];
  for (const s of rows.filter((r) => r.target === service)) {
    const f = rows.find((r) => r.target === floor && r.round === s.round);
    if (f) pairs.push([s, f]);
  }
  if (pairs.length === 0) return null;
  const cpu = (r: RoundRun) => r.run.serverCpuUs ?? Number.NaN;
  return {
    service,
    floor,
    rounds: pairs.length,
    rateRatios: pairs.map(([s, f]) => s.run.rate / f.run.rate),
    rateRatio: median(pairs.map(([s, f]) => s.run.rate / f.run.rate)),
    serviceRate: median(pairs.map(([s]) => s.run.rate)),
    floorRate: median(pairs.map(([, f]) => f.run.rate)),
    serviceP99: median(pairs.map(([s]) => s.run.p99)),
    floorP99: median(pairs.map(([, f]) => f.run.p99)),
    serviceCpuUs: median(pairs.map(([s]) => cpu(s))),
    floorCpuUs: median(pairs.map(([, f]) => cpu(f))),
    cpuRatio: median(pairs.map(([s, f]) => cpu(s) / cpu(f))),
  };
}

/** The comparisons the issue asks for, those whose targets ran. */
export function webhookFloorComparisons(rows: readonly RoundRun[]): FloorComparison[] {
  const wanted: Array<[string, string]> = [
    ['sqlite', 'floor'],
    ['sqlite', 'floor-lean'],
    ['floor', 'floor-lean'],
    ['postgres', 'floor-pg'],
  ];
  return wanted.map(([s, f]) => compareToFloor(rows, s, f)).filter((c): c is FloorComparison => c !== null);
}

export function floorComparisonTable(comparisons: readonly FloorComparison[], name: (target: string) => string): string {
  return table(
    [
      'target',
      'against',
      'rate ratio (median)',
      'per round',
      'median 2xx/s',
      'against 2xx/s',
      'p99 ms',
      'against p99 ms',
      'server CPU µs/req',
      'against CPU µs/req',
      'CPU ratio',
    ],
    comparisons.map((c) => [
      name(c.service),
      name(c.floor),
      fmt.pct(c.rateRatio),
      c.rateRatios.map(fmt.pct).join(', '),
      fmt.int(c.serviceRate),
      fmt.int(c.floorRate),
      fmt.ms(c.serviceP99),
      fmt.ms(c.floorP99),
      fmt.int(c.serviceCpuUs),
      fmt.int(c.floorCpuUs),
      fmt.ratio(c.cpuRatio),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
}
