/**
 * Retry-After edge cases: a huge delta-seconds value, and the asctime HTTP-date form.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../src/sources/backoff.js';
import { createSourceClient, type SourceClient } from '../../src/sources/http-client.js';
import { classifyHubspotRateLimit } from '../../src/providers/hubspot/connector.js';
import { RateLimitParkedError } from '../../src/sources/upstream-errors.js';
import { sendJson, startUpstream, type Upstream } from '../sources/upstream-server.js';

const ups: Upstream[] = [];
const clients: SourceClient[] = [];
afterEach(async () => {
  await Promise.all(ups.splice(0).map((u) => u.close()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e;
  }
}

describe('huge Retry-After', () => {
  it('a 429 with Retry-After: 9999999999999 parks the call (RateLimitParkedError), not a RangeError', async () => {
    const u = await startUpstream((_req, res) => sendJson(res, 429, {}, { 'retry-after': '9999999999999' }));
    ups.push(u);
    const c = createSourceClient({ name: 'crm', baseUrl: u.url, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2_000 });
    clients.push(c);
    const err = await outcome(c.request({ path: '/x' }));
    expect(String(err)).not.toMatch(/Invalid time value/);
    expect(err).toBeInstanceOf(RateLimitParkedError);
  }, 10_000);

  it('HubSpot DAILY 429 with a huge Retry-After yields a usable retryAt (a finite, representable date)', () => {
    const now = Date.UTC(2025, 0, 1, 10, 30);
    const d = classifyHubspotRateLimit(429, { 'retry-after': '9999999999999' }, { policyName: 'DAILY' }, now);
    expect(d).not.toBe('retry');
    const retryAt = (d as { retryAt: number }).retryAt;
    // RateLimitParkedError (and the runner's log line) call new Date(retryAt).toISOString()
    expect(() => new Date(retryAt).toISOString()).not.toThrow();
  });
});

describe('HTTP-date forms', () => {
  it('the asctime form (no zone, GMT by RFC 9110) is read as GMT whatever the process time zone', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const now = Date.UTC(1994, 10, 6, 8, 0, 0);
      // RFC 9110 §5.6.7: all three forms denote the same instant.
      expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(2_977_000);
      expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', now)).toBe(2_977_000);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
