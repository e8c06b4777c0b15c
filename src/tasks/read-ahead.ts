/**
 * Keeps up to `depth` calls to `next()` outstanding, so fetching the next
 * pages overlaps committing this one. An async generator queues such calls
 * and answers them in order; after it ends or throws, the rest answer done.
 */
export function readAhead<T>(source: AsyncIterable<T>, depth: number): { next(): Promise<IteratorResult<T>> } {
  const it = source[Symbol.asyncIterator]();
  const queue: Array<Promise<IteratorResult<T>>> = [];
  const request = () => {
    const p = it.next();
    // Awaited later, in order; until then a rejection (an abort, say) is not unhandled.
    p.catch(() => {});
    queue.push(p);
  };
  return {
    async next() {
      while (queue.length < depth) request();
      const r = await (queue.shift() as Promise<IteratorResult<T>>);
      if (!r.done) request();
      return r;
    },
  };
}
