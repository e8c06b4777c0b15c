/**
 * Child-process entry for the sync benchmark's upstream: one fake on
 * 127.0.0.1, in its own process (so on its own core), until SIGTERM.
 *
 *   node --import tsx bench/sync/upstream.ts
 *
 * Environment: SYNC_UPSTREAM mailchimp | mailchimp-members | hubspot | plain, SYNC_UPSTREAM_RECORDS,
 * SYNC_UPSTREAM_LATENCY_MS (a standing delay before every answer),
 * SYNC_UPSTREAM_PAGE (plain only: records a page), SYNC_UPSTREAM_CUSTOM_PROPERTIES
 * (hubspot only: custom contact properties the portal defines, default 0).
 * Prints one JSON line, {"url": …, "credential": …}, once it listens, and on
 * SIGTERM one more, {"requests": N, "byPath": {…}} (hubspot only), before it exits.
 */
import { startFakeHubspot, startFakeMailchimp } from '../../src/providers/fakes.js';
import { startPlainUpstream } from './plain-upstream.js';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number >= 0 (got "${raw}")`);
  return v;
}

const kind = process.env.SYNC_UPSTREAM?.trim() || 'mailchimp';
const records = intEnv('SYNC_UPSTREAM_RECORDS', 1_000_000);
const latencyMs = intEnv('SYNC_UPSTREAM_LATENCY_MS', 0);

let info: { url: string; credential: string; close(): Promise<void>; counts?: () => { total: number; byPath: Record<string, number> } };
if (kind === 'mailchimp') {
  const mc = await startFakeMailchimp({ campaigns: records, latencyMs, requestLogLimit: 100 });
  info = { url: mc.url, credential: mc.apiKey, close: () => mc.close() };
} else if (kind === 'mailchimp-members') {
  // One audience of every record, no campaigns: the `marketing` source's members walk alone, one page of
  // 1,000 after another (the campaigns' one empty page comes first), as the floor walks it.
  const mc = await startFakeMailchimp({ campaigns: 0, audiences: 1, members: records, latencyMs, requestLogLimit: 100 });
  info = { url: mc.url, credential: mc.apiKey, close: () => mc.close() };
} else if (kind === 'hubspot') {
  const customProperties = intEnv('SYNC_UPSTREAM_CUSTOM_PROPERTIES', 0);
  const hs = await startFakeHubspot({ contacts: records, latencyMs, requestLogLimit: 100, customProperties });
  info = { url: hs.url, credential: hs.token, close: () => hs.close(), counts: () => hs.requestCounts() };
} else if (kind === 'plain') {
  const p = await startPlainUpstream({ records, latencyMs, pageSize: intEnv('SYNC_UPSTREAM_PAGE', 1000) });
  info = { url: p.url, credential: p.token, close: () => p.close() };
} else {
  throw new Error(`SYNC_UPSTREAM: unknown upstream "${kind}"`);
}
process.stdout.write(`${JSON.stringify({ url: info.url, credential: info.credential, pid: process.pid })}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    const counts = info.counts?.();
    if (counts) process.stdout.write(`${JSON.stringify({ requests: counts.total, byPath: counts.byPath })}\n`);
    void info.close().then(() => process.exit(0));
  });
}
