import { describe, expect, it } from 'vitest';
import { readAhead } from '../../src/tasks/read-ahead.js';

/** A generator that notes when each item is started, and can fail at an index. */
function source(n: number, started: number[], failAt = -1) {
  return (async function* () {
    for (let i = 0; i < n; i++) {
      started.push(i);
      await new Promise((r) => setTimeout(r, 1));
      if (i === failAt) throw new Error(`page ${i} failed`);
      yield i;
    }
  })();
}

describe('readAhead', () => {
  it('gives every item once, in order, with at most `depth` started beyond the one handed out', async () => {
    const started: number[] = [];
    const it = readAhead(source(6, started), 2);
    const got: number[] = [];
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
      // Let the generator run as far as it is allowed to.
      await new Promise((res) => setTimeout(res, 10));
      // Exactly two beyond the one handed out (fewer at the end), never more.
      expect(started.length).toBe(Math.min(6, r.value + 1 + 2));
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('passes a failure on at its place; items before it arrive first', async () => {
    const it = readAhead(source(5, [], 2), 2);
    expect((await it.next()).value).toBe(0);
    expect((await it.next()).value).toBe(1);
    await expect(it.next()).rejects.toThrow('page 2 failed');
  });
});
