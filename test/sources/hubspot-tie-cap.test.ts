/**
 * HubSpot search keyset paging when more than 10,000 contacts share one
 * lastmodifieddate (a bulk import / workflow): every changed contact must be
 * fetched. The walk pages through the tie by offset and, at the 10,000 cap,
 * jumps to since+1 ms, dropping the rest of the tie for good (the next run
 * starts from the newest stamp seen, i.e. after the tie).
 */
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/providers/fakes.js';
import { HubspotSource } from '../../src/providers/hubspot/connector.js';

let hs: FakeHubspot | undefined;
afterEach(async () => {
  await hs?.close();
  hs = undefined;
});

it('10,500 contacts sharing one lastmodifieddate are all fetched by an incremental run', async () => {
  const T = Date.UTC(2024, 0, 1);
  hs = await startFakeHubspot({ contacts: 10_500, tieGroup: 10_500, startTime: T });
  const src = new HubspotSource({
    name: 'crm',
    accessToken: hs.token,
    baseUrl: hs.url,
    client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000, rateLimit: undefined },
  });
  const seen = new Set<string>();
  let last: unknown;
  try {
    for await (const page of src.pages({
      signal: new AbortController().signal,
      checkpoint: { phase: 'idle', since: T },
      full: false,
      log: pino({ level: 'silent' }),
    })) {
      for (const r of page.records) seen.add(r.external_id);
      last = page.checkpoint;
    }
  } finally {
    await src.close();
  }
  expect(hs.state.requests.entries.filter((e) => e.status !== 200)).toEqual([]);
  expect(last).toMatchObject({ phase: 'idle' });
  expect(seen.size).toBe(10_500);
}, 120_000);
