/**
 * Every campaign deleted while a walk is in progress: total_items falls to 0
 * and the walk steps back to offset 0 (not the last page, since the total
 * fell). It must still ask for that page, whose empty answer ends the walk;
 * the first version of the two-requests-ahead walk asked for nothing (no page
 * lies before a total of 0) and failed on an empty queue.
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

it('a walk whose campaigns are all deleted between two pages ends cleanly', async () => {
  mc = await startFakeMailchimp({ campaigns: 1_500 });
  // Holds the second page (offset 1000) back for 1 s so the deletions land before it is answered.
  mc.faults.rateLimit({ pathPrefix: '/3.0/campaigns', skip: 1, retryAfterSeconds: 1 });
  const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
  const all = Array.from({ length: 1_500 }, (_, i) => mc!.state.idAt(i));
  let pages = 0;
  let error: unknown = null;
  try {
    for await (const _page of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) })) {
      if (pages++ === 0) for (const id of all) mc.state.deleteCampaign(id);
    }
  } catch (err) {
    error = err;
  } finally {
    await src.close();
  }
  expect(error).toBeNull();
}, 30_000);
