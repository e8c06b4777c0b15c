import { describe, expect, it } from 'vitest';
import { abortReason, backoffDelay, parseRetryAfter, sleep } from '../../src/sources/backoff.js';

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
