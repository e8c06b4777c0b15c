import { describe, expect, it } from 'vitest';
import { RequestsAhead } from '../../src/sources/requests-ahead.js';

/** A fetch whose answers the test gives: notes each start, each abort, and what is out now. */
function fakeFetch() {
  const started: number[] = [];
  const aborted: number[] = [];
  const out = new Map<number, { resolve(v: string): void; reject(e: Error): void }>();
  const fetch = (at: number, signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started.push(at);
      out.set(at, { resolve, reject });
      signal.addEventListener('abort', () => {
        aborted.push(at);
        out.delete(at);
        reject(signal.reason as Error);
      });
    });
  const answer = (at: number, fail = false) => {
    const o = out.get(at);
    if (!o) throw new Error(`no request out for ${at}`);
    out.delete(at);
    if (fail) o.reject(new Error(`page ${at} failed`));
    else o.resolve(`page ${at}`);
  };
  return { fetch, started, aborted, out, answer };
}

describe('RequestsAhead', () => {
  it('answers a position asked ahead from its request, with at most `inFlight` out beyond the page held', async () => {
    const f = fakeFetch();
    const requests = new RequestsAhead<number, string>(2, f.fetch, new AbortController().signal, String);
    const got: string[] = [];
    for (let at = 0; at < 6; at++) {
      const page = requests.take(at);
      f.answer(at);
      got.push(await page);
      // The walk asks for what it can predict: never more than two are out, and none twice.
      await requests.ahead([at + 1, at + 2, at + 3].filter((n) => n < 6));
      expect(f.out.size).toBe(Math.min(2, 5 - at));
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5].map((n) => `page ${n}`));
    expect(f.started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(f.aborted).toEqual([]);
  });

  it('puts the requests on the wire before the caller goes on (one turn of the event loop)', async () => {
    let sent = 0;
    const requests = new RequestsAhead<number, number>(
      1,
      async (at) => {
        await Promise.resolve();
        sent++;
        return at;
      },
      new AbortController().signal,
      String,
    );
    await requests.ahead([1]);
    expect(sent).toBe(1);
    requests.drop();
  });

  it('drops the requests asked ahead on a path the walk left, and asks the new position anew', async () => {
    const f = fakeFetch();
    const requests = new RequestsAhead<number, string>(2, f.fetch, new AbortController().signal, String);
    const first = requests.take(0);
    f.answer(0);
    await first;
    await requests.ahead([100, 200]);
    // A deletion upstream: the walk steps back to 90; both requests ahead were for the old path.
    const page = requests.take(90);
    await Promise.resolve();
    expect(f.aborted.sort()).toEqual([100, 200]);
    f.answer(90);
    expect(await page).toBe('page 90');
    // Asked ahead again with a first position that matches, a later one that does not: only the later one goes.
    await requests.ahead([180, 270]);
    await requests.ahead([180, 260]);
    expect(f.aborted).toContain(270);
    expect([...f.out.keys()].sort()).toEqual([180, 260]);
    requests.drop();
    expect(f.out.size).toBe(0);
  });

  it('passes a failure on at its place; a failure of a request not yet taken is not unhandled', async () => {
    const f = fakeFetch();
    const requests = new RequestsAhead<number, string>(2, f.fetch, new AbortController().signal, String);
    const first = requests.take(0);
    await requests.ahead([1, 2]);
    // Page 2 fails before anyone takes it: nothing may surface until its turn.
    f.answer(2, true);
    f.answer(0);
    f.answer(1);
    expect(await first).toBe('page 0');
    expect(await requests.take(1)).toBe('page 1');
    await expect(requests.take(2)).rejects.toThrow('page 2 failed');
  });

  it('stops every request out when the walk is aborted, and asks nothing after', async () => {
    const f = fakeFetch();
    const ctrl = new AbortController();
    const requests = new RequestsAhead<number, string>(2, f.fetch, ctrl.signal, String);
    const page = requests.take(0);
    await requests.ahead([1, 2]);
    ctrl.abort(new Error('cancelled'));
    await expect(page).rejects.toThrow('cancelled');
    expect(f.aborted.sort()).toEqual([0, 1, 2]);
    expect(() => requests.take(3)).toThrow('cancelled');
  });

  it('with follow, a response that arrives while the page before is held asks for the next at once, one page waiting at most', async () => {
    const f = fakeFetch();
    // Each page names the next (a cursor): page n leads to n + 1, up to 5.
    const requests = new RequestsAhead<number, string>(1, f.fetch, new AbortController().signal, String, (page) => {
      const n = Number(page.split(' ')[1]);
      return n < 5 ? n + 1 : null;
    });
    const first = requests.take(0);
    f.answer(0);
    expect(await first).toBe('page 0');
    await requests.ahead([1]);
    // The walk is busy with page 0 (a commit): page 1 arrives, and page 2 is asked for without the walk.
    f.answer(1);
    await new Promise((r) => setTimeout(r, 5));
    expect(f.started).toEqual([0, 1, 2]);
    // Page 2 arrives too: one page answered and one asked beyond the page held is the limit.
    f.answer(2);
    await new Promise((r) => setTimeout(r, 5));
    expect(f.started).toEqual([0, 1, 2]);
    // The walk goes on through the same requests, asking for nothing twice.
    expect(await requests.take(1)).toBe('page 1');
    await requests.ahead([2]);
    expect(await requests.take(2)).toBe('page 2');
    await requests.ahead([3]);
    expect(f.started).toEqual([0, 1, 2, 3]);
    requests.drop();
    expect(f.aborted).toEqual([3]);
  });

  it('refuses a number in flight below one', () => {
    expect(() => new RequestsAhead<number, string>(0, fakeFetch().fetch, new AbortController().signal)).toThrow(RangeError);
  });
});
