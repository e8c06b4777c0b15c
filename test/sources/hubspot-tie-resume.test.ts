/**
 * A tie (many contacts sharing one lastmodifieddate) across a resume: the
 * checkpoint saved inside the tie used to hold an offset into
 * "lastmodifieddate GTE S", so contacts of the tie edited before the resume
 * made it skip as many unread ones, for good (the next run's lookback starts
 * five minutes before the newest stamp seen). It now holds the last id.
 */
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { startFakeHubspot, type FakeHubspot } from '../../src/providers/fakes.js';
import { HubspotSource, type HubspotCheckpoint } from '../../src/providers/hubspot/connector.js';

let hs: FakeHubspot | undefined;
afterEach(async () => {
  await hs?.close();
  hs = undefined;
});

it('a run resumed from a checkpoint inside a tie fetches every contact of the tie', async () => {
  let clock = Date.UTC(2024, 0, 1, 12);
  hs = await startFakeHubspot({ contacts: 1_000, now: () => clock });
  const S = clock;
  const tie = Array.from({ length: 500 }, (_, i) => String(1101 + i));
  for (const id of tie) hs.state.updateContact(id, { firstname: 'Bulk' });

  const src = new HubspotSource({
    name: 'crm',
    accessToken: hs.token,
    baseUrl: hs.url,
    client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000, rateLimit: undefined },
  });
  const log = pino({ level: 'silent' });
  const seen = new Set<string>();
  const walk = async (checkpoint: unknown, pagesWanted = Infinity) => {
    let cp: unknown = checkpoint;
    let n = 0;
    for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: false, log })) {
      for (const r of page.records) seen.add(r.external_id);
      cp = page.checkpoint;
      if (++n >= pagesWanted) break;
    }
    return cp as HubspotCheckpoint;
  };
  try {
    // First run: one committed page, then it stops (cancel / park / crash).
    const saved = await walk({ phase: 'idle', since: S - 60_000 }, 1);
    expect(saved).toMatchObject({ phase: 'search', since: S, after: 0 });
    // An hour later, 50 of the contacts already fetched are edited again.
    clock = S + 3_600_000;
    for (const id of tie.slice(0, 50)) hs.state.updateContact(id, { lastname: 'Again' });
    // The run resumes from its checkpoint, then a later run from the idle checkpoint.
    const end = await walk(saved);
    expect(end).toMatchObject({ phase: 'idle' });
    await walk(end);
  } finally {
    await src.close();
  }
  expect(tie.filter((id) => !seen.has(id))).toEqual([]);
});

it('a checkpoint it cannot read (an unknown phase, a field of the wrong type) starts a first load instead of spinning', async () => {
  hs = await startFakeHubspot({ contacts: 150 });
  const src = new HubspotSource({
    name: 'crm',
    accessToken: hs.token,
    baseUrl: hs.url,
    client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000, rateLimit: undefined },
  });
  try {
    for (const checkpoint of [{ phase: 'replay', since: 1 }, { phase: 'search', since: '1', after: 0, maxSeen: 1, startedAt: 1 }, { phase: 'idle' }]) {
      const it = src.pages({ signal: AbortSignal.timeout(5_000), checkpoint, full: false, log: pino({ level: 'silent' }) })[Symbol.asyncIterator]();
      const first = await it.next();
      await it.return?.();
      expect(first.done).toBe(false);
      expect(first.value?.checkpoint).toMatchObject({ phase: 'list' });
      expect(first.value?.records).toHaveLength(100);
    }
  } finally {
    await src.close();
  }
});
