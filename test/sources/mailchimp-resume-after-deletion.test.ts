/**
 * The walk noticed an offset shift only by total_items falling between two
 * pages of one walk. A walk that stopped (cancel, shutdown, a failed page)
 * and resumed from its saved offset could not see a deletion made in
 * between: the campaigns that slid back over the saved offset were never
 * listed (on a first full sync never stored, and incremental runs look only
 * 30 days back). The checkpoint now keeps the total too.
 */
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import { MailchimpSource } from '../../src/providers/mailchimp/connector.js';

let mc: FakeMailchimp | undefined;
afterEach(async () => {
  await mc?.close();
  mc = undefined;
});

async function missedAfterResume(first: unknown): Promise<{ missed: string[]; saved: unknown }> {
  mc = await startFakeMailchimp({ campaigns: 1_500 });
  const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
  const log = pino({ level: 'silent' });
  const seen = new Set<string>();
  const deleted = mc.state.idAt(5);
  let checkpoint: unknown = first;
  let saved: unknown = null;
  try {
    // The first run commits its first page, then stops (cancelled, or interrupted by a shutdown).
    for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: first === null, log })) {
      for (const r of page.records) seen.add(r.external_id);
      checkpoint = saved = page.checkpoint;
      break;
    }
    // Meanwhile a campaign is deleted.
    mc.state.deleteCampaign(deleted);
    // The next run resumes from the committed checkpoint, and one more incremental run follows.
    for (let run = 0; run < 2; run++) {
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: false, log })) {
        for (const r of page.records) seen.add(r.external_id);
        checkpoint = page.checkpoint;
      }
    }
  } finally {
    await src.close();
  }
  const remaining = Array.from({ length: 1_500 }, (_, i) => mc!.state.idAt(i)).filter((id) => id !== deleted);
  return { missed: remaining.filter((id) => !seen.has(id)), saved };
}

it('a full walk stopped after its first page and resumed after a deletion loses no campaign', async () => {
  const { missed, saved } = await missedAfterResume(null);
  expect(saved).toMatchObject({ phase: 'list', since: null, offset: 1_000 });
  expect(missed).toEqual([]);
}, 60_000);

it('an incremental walk stopped after its first page and resumed after a deletion loses no campaign', async () => {
  // The generated campaigns start in 2023: a run after one that saw nothing newer than 2022 lists them all, by offset.
  const { missed, saved } = await missedAfterResume({ phase: 'idle', newestCreated: '2022-12-31T00:00:00+00:00', lastStartedAt: '2022-12-31T00:00:00Z' });
  expect(saved).toMatchObject({ phase: 'list', offset: 1_000, total: 1_500 });
  expect((saved as { since: unknown }).since).not.toBeNull();
  expect(missed).toEqual([]);
}, 60_000);
