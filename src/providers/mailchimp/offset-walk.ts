import { RequestsAhead } from '../../sources/requests-ahead.js';

/** What the walk needs of a page: upstream's total_items and the entries in it. */
export interface OffsetPage {
  total: number;
  count: number;
}

export interface WalkStep<T> {
  page: T;
  nextOffset: number;
  last: boolean;
  total: number;
}

/**
 * A count/offset listing walked from `offset` to total_items, the next pages
 * asked for before this one is handed on (upstream time and ours overlap).
 * When total_items falls between two pages, entries behind the offset slid
 * back over it unseen: the walk steps back over them (the overlap comes back
 * "unchanged").
 */
export async function* offsetWalk<T extends OffsetPage>(options: {
  fetch: (offset: number, signal: AbortSignal) => Promise<T>;
  signal: AbortSignal;
  offset: number;
  /** total_items when the walk was saved at `offset`, for a resumed walk. */
  savedTotal: number | null;
  inFlight: number;
  pageSize: number;
}): AsyncGenerator<WalkStep<T>> {
  const requests = new RequestsAhead<number, T>(options.inFlight, options.fetch, options.signal, String);
  let offset = options.offset;
  let prevTotal = options.savedTotal;
  try {
    for (;;) {
      const page = await requests.take(offset);
      const dropped = prevTotal !== null && page.total < prevTotal ? prevTotal - page.total : 0;
      prevTotal = page.total;
      const nextOffset = dropped > 0 ? Math.max(0, offset - dropped) : offset + page.count;
      const last = dropped === 0 && (page.count === 0 || nextOffset >= page.total);
      if (last) {
        requests.drop();
        yield { page, nextOffset, last, total: page.total };
        return;
      }
      // The next page is always asked for; the ones after it assume pages as long as this one.
      const stride = page.count > 0 ? page.count : options.pageSize;
      const next = [nextOffset];
      for (let at = nextOffset + stride; next.length < options.inFlight && at < page.total; at += stride) next.push(at);
      await requests.ahead(next);
      yield { page, nextOffset, last, total: page.total };
      offset = nextOffset;
    }
  } finally {
    requests.drop();
  }
}
