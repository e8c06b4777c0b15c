/**
 * Mailchimp count/offset paging when total_items drops mid-walk: a campaign
 * deleted before the walk's offset shifts every later campaign one place
 * down, so the campaign that was first on the next page is never listed.
 * On a first (full) sync it is not stored yet, so the deletion sweep does not
 * ask about it either, and incremental runs only look 30 days back: it is lost.
 */
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import type { SyncPage } from '../../src/sources/connector.js';
import { MailchimpSource } from '../../src/providers/mailchimp/connector.js';

let mc: FakeMailchimp | undefined;
afterEach(async () => {
  await mc?.close();
  mc = undefined;
});

it('a deletion between two pages of a full walk loses no remaining campaign', async () => {
  mc = await startFakeMailchimp({ campaigns: 1_500 });
  // Holds the second page back for 1 s (429, Retry-After: 1) so the deletion lands between the pages.
  mc.faults.rateLimit({ pathPrefix: '/3.0/campaigns', skip: 1, retryAfterSeconds: 1 });
  const src = new MailchimpSource({
    name: 'marketing',
    apiKey: mc.apiKey,
    baseUrl: mc.url,
    client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
  });
  const log = pino({ level: 'silent' });
  const seen = new Set<string>();
  const deleted = mc.state.idAt(5);
  const shifted = mc.state.idAt(1_000);
  let checkpoint: unknown = null;
  let complete: SyncPage['complete'];
  try {
    let n = 0;
    for await (const page of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log })) {
      if (n++ === 0) mc.state.deleteCampaign(deleted);
      for (const r of page.records) seen.add(r.external_id);
      checkpoint = page.checkpoint;
      complete = page.complete ?? complete;
    }
    // The next (incremental) run, from the saved checkpoint.
    for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: false, log })) {
      for (const r of page.records) seen.add(r.external_id);
    }
  } finally {
    await src.close();
  }
  const remaining = Array.from({ length: 1_500 }, (_, i) => mc!.state.idAt(i)).filter((id) => id !== deleted);
  const missing = remaining.filter((id) => !seen.has(id));
  expect({ missing, inCompleteSeen: complete?.seen.has(shifted) }).toEqual({ missing: [], inCompleteSeen: true });
}, 60_000);
