import { afterEach, describe, expect, it } from 'vitest';
import { classifyHubspotRateLimit } from '../../src/providers/hubspot/connector.js';
import { abortReason, backoffDelay, parseRetryAfter, sleep } from '../../src/sources/backoff.js';
import { createSourceClient, type SourceClient } from '../../src/sources/http-client.js';
import { RateLimitParkedError } from '../../src/sources/upstream-errors.js';
import { sendJson, startUpstream, type Upstream } from '../helpers/upstream.js';

describe('backoffDelay (full jitter)', () => {
  it('draws from [0, base·2^(retry-1))', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(0);
    expect(backoffDelay(1, 100, 10_000, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(200);
  });

  it('never exceeds maxDelayMs, even for huge retry counts', () => {
    expect(backoffDelay(10, 500, 30_000, () => 0.999)).toBeLessThan(30_000);
    expect(backoffDelay(5_000, 500, 30_000, () => 0.999)).toBe(29_970);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delta-seconds', () => {
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2_000);
  });

  it('reads an HTTP date, and treats a past one as now', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:02:00 GMT', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('sleep and abortReason', () => {
  it('rejects at once with the signal reason on abort', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const slept = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(), 20);
    await expect(slept).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('keeps an Error reason, wraps anything else in an AbortError', () => {
    const own = new Error('cancelled by user');
    expect(abortReason(AbortSignal.abort(own))).toBe(own);
    const wrapped = abortReason(AbortSignal.abort('why'));
    expect(wrapped.name).toBe('AbortError');
    expect(wrapped.cause).toBe('why');
  });
});

/**
 * Retry-After edge cases: a huge delta-seconds value, and the asctime HTTP-date form.
 */
describe('Retry-After edge cases', () => {
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
});
