/**
 * A page of 1,000 campaigns takes about as long to arrive as to prepare and
 * store, so the Mailchimp walk keeps two page requests out at once: never
 * more, never past the total Mailchimp gave, and the pages still come in order.
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

it('asks for two pages at a time, within the total, and yields every campaign once in order', async () => {
  mc = await startFakeMailchimp({ campaigns: 4_500, latencyMs: 200 });
  const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url });
  const ids: string[] = [];
  try {
    for await (const page of src.pages({ signal: new AbortController().signal, checkpoint: null, full: true, log: pino({ level: 'silent' }) })) {
      for (const r of page.records) ids.push(r.external_id);
    }
  } finally {
    await src.close();
  }
  expect(ids).toEqual(Array.from({ length: 4_500 }, (_, i) => mc!.state.idAt(i)));
  const requests = mc.state.requests.matching('/3.0/campaigns', 'GET');
  expect(requests.map((r) => Number(r.query.offset))).toEqual([0, 1000, 2000, 3000, 4000]);
  // Each answer takes 200 ms: requests sent one after another would arrive at least that far apart.
  const gaps = requests.slice(1).map((r, i) => r.time - (requests[i] as { time: number }).time);
  expect(gaps.filter((g) => g < 100).length).toBeGreaterThanOrEqual(1);
  // No more than two out at once: the third request comes after the first answer.
  for (let i = 2; i < requests.length; i++)
    expect((requests[i] as { time: number }).time - (requests[i - 2] as { time: number }).time).toBeGreaterThanOrEqual(150);
}, 30_000);
