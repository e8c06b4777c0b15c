/**
 * An incremental Mailchimp run lists campaigns created since min(30 days ago,
 * newest create_time seen - 1 s). When the last run saw no campaign at all (an
 * account connected before its first campaign), the newest was unknown and the
 * run looked back only 30 days, though the idle checkpoint knows when the last
 * run began: a campaign created between that run and 30 days ago was never
 * listed. The last run's start now bounds the listing too.
 */
import { pino } from 'pino';
import { afterEach, expect, it, vi } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import { MailchimpSource } from '../../src/providers/mailchimp/connector.js';

const DAY = 86_400_000;
let mc: FakeMailchimp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await mc?.close();
  mc = undefined;
});

it('a campaign created 35 days ago, after a run that saw an empty account, is listed by the next incremental run', async () => {
  const t0 = Date.now() - 40 * DAY;
  let clock = t0;
  mc = await startFakeMailchimp({ campaigns: 0, now: () => clock });
  const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
  const log = pino({ level: 'silent' });
  const seen = new Set<string>();
  let checkpoint: unknown = null;
  const run = async (at: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at);
    try {
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: checkpoint === null, log })) {
        for (const r of page.records) seen.add(r.external_id);
        checkpoint = page.checkpoint;
      }
    } finally {
      vi.useRealTimers();
    }
  };
  try {
    await run(t0); // first run: the account has no campaign yet
    expect(checkpoint).toMatchObject({ phase: 'idle', newestCreated: null });
    clock = t0 + 5 * DAY; // 35 days ago: a draft is created
    const draft = mc.state.createCampaign({ settings: { title: 'draft' } });
    await run(t0 + 40 * DAY); // the next run, today
    expect(seen.has(draft.id)).toBe(true);
  } finally {
    await src.close();
  }
}, 60_000);
