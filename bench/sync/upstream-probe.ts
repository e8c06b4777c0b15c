import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { Upstream } from './children.js';
import { audienceId } from '../../src/providers/fakes.js';

export interface ProbeResult {
  pages: number;
  records: number;
  bytes: number;
  seconds: number;
  /** Median time of one page, request to last byte (ms). */
  pageMsP50: number;
  recordsPerSecond: number;
  cutShort: boolean;
}

/** The request for page `n` (0-based) of `pageSize` records, as the service's connector sends it. */
export function pageRequest(up: Upstream, n: number, pageSize: number): { url: string; headers: Record<string, string> } {
  if (up.kind === 'mailchimp') {
    const q = `count=${pageSize}&offset=${n * pageSize}&sort_field=create_time&sort_dir=ASC`;
    return { url: `${up.url}/campaigns?${q}`, headers: { authorization: `Basic ${Buffer.from(`tributary:${up.credential}`).toString('base64')}` } };
  }
  if (up.kind === 'mailchimp-members') {
    // The one audience's default listing, as the sync reads it.
    const q = `count=${pageSize}&offset=${n * pageSize}&sort_field=last_changed&sort_dir=ASC&exclude_fields=members._links,_links`;
    return {
      url: `${up.url}/lists/${audienceId('tributary', 0)}/members?${q}`,
      headers: { authorization: `Basic ${Buffer.from(`tributary:${up.credential}`).toString('base64')}` },
    };
  }
  if (up.kind === 'hubspot') {
    const after = n === 0 ? '' : `&after=${1001 + n * pageSize}`;
    const props = 'email,firstname,lastname,phone,company,lifecyclestage,createdate,lastmodifieddate';
    return {
      url: `${up.url}/crm/v3/objects/contacts?limit=${pageSize}${after}&properties=${props}&archived=false`,
      headers: { authorization: `Bearer ${up.credential}` },
    };
  }
  return { url: `${up.url}/v1/contacts?offset=${n * pageSize}&limit=${pageSize}`, headers: { authorization: `Bearer ${up.credential}` } };
}

/**
 * The upstream alone: pages fetched one after another over one keep-alive
 * connection (as the sync does, one page ahead), bodies read but not parsed.
 * Its records/s is the ceiling no sync against it can pass. Bounded by
 * `maxPages` and `maxMs`.
 */
export async function probeUpstream(up: Upstream, opts: { pageSize: number; maxPages: number; maxMs: number; inFlight?: number }): Promise<ProbeResult> {
  const agent = new Agent({ connections: 4 });
  const times: number[] = [];
  let bytes = 0;
  let records = 0;
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + opts.maxMs;
  let cutShort = false;
  const worker = async () => {
    for (;;) {
      if (performance.now() > deadline) {
        cutShort = true;
        return;
      }
      const n = next++;
      if (n >= opts.maxPages) return;
      const { url, headers } = pageRequest(up, n, opts.pageSize);
      const s = performance.now();
      const res = await request(url, { headers, dispatcher: agent });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`upstream probe: ${res.statusCode} on ${url}: ${text.slice(0, 200)}`);
      times.push(performance.now() - s);
      bytes += text.length;
      records += opts.pageSize;
    }
  };
  await Promise.all(Array.from({ length: opts.inFlight ?? 1 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await agent.close();
  times.sort((a, b) => a - b);
  return {
    pages: times.length,
    records,
    bytes,
    seconds,
    pageMsP50: times[Math.floor(times.length / 2)] ?? Number.NaN,
    recordsPerSecond: records / seconds,
    cutShort,
  };
}
