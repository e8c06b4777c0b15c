/**
 * An incremental run re-fetched the campaigns created in the last 30 days and
 * those sent since the last run began (less 5 minutes). A campaign created
 * before the window that was still `sending` when one run looked (Mailchimp
 * sends big lists, and timewarp sends, over hours) and `sent` by the next was
 * in neither set on that next run, its send_time being before the new
 * since_send_time: its status and emails_sent stayed stale for good. The sent
 * listing now covers the whole window (for campaigns created before it).
 */
import { pino } from 'pino';
import { afterEach, expect, it, vi } from 'vitest';
import { startFakeMailchimp, type FakeMailchimp } from '../../src/providers/fakes.js';
import type { RecordWrite } from '../../src/domain/records.js';
import { MailchimpSource } from '../../src/providers/mailchimp/connector.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
let mc: FakeMailchimp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await mc?.close();
  mc = undefined;
});

const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}+00:00`;

it('a campaign that was sending during one incremental run and sent by the next ends up stored as sent', async () => {
  const t0 = Date.now();
  mc = await startFakeMailchimp({ campaigns: 200, startTime: t0 - 90 * DAY, stepMs: (90 * DAY) / 200 });
  const src = new MailchimpSource({ name: 'marketing', apiKey: mc.apiKey, baseUrl: mc.url, client: { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 } });
  const log = pino({ level: 'silent' });
  // What the store would hold: the last write of each campaign.
  const stored = new Map<string, RecordWrite>();
  let checkpoint: unknown = null;
  const run = async (at: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(at);
    try {
      for await (const page of src.pages({ signal: new AbortController().signal, checkpoint, full: checkpoint === null, log })) {
        for (const r of page.records) stored.set(r.external_id, r);
        checkpoint = page.checkpoint;
      }
    } finally {
      vi.useRealTimers();
    }
  };
  try {
    await run(t0); // the first, full run
    // A draft created about 80 days ago, outside the 30-day re-fetch window.
    let index = 20;
    while (mc.state.current(index).status !== 'save') index++;
    const id = mc.state.idAt(index);
    expect(stored.get(id)?.fields.status).toBe('save');

    // An hour later it starts sending; it takes a few hours.
    mc.state.updateCampaign(id, { status: 'sending', send_time: iso(t0 + HOUR) });
    await run(t0 + HOUR + 10 * 60_000); // an incremental run while it sends
    mc.state.sendCampaign(id, { emailsSent: 5_000, sendTime: t0 + HOUR });
    await run(t0 + 4 * HOUR); // the next incremental run, once it is sent

    const last = stored.get(id);
    expect({ status: last?.fields.status, emails_sent: (last?.fields.details as { emails_sent?: number } | null)?.emails_sent }).toEqual({
      status: 'sent',
      emails_sent: 5_000,
    });
  } finally {
    await src.close();
  }
}, 60_000);
