import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Starts the request for the next page and gives the event loop one turn, so
 * the request is on the wire before the caller maps the page it holds (work of
 * milliseconds that would otherwise hold the request back): upstream time and
 * ours overlap. The response is awaited on the caller's next page; until then
 * a rejection (an abort, say) does not count as unhandled. Wrapped in an
 * object so that awaiting this does not await the response.
 */
export async function requestAhead<T>(start: () => Promise<T>): Promise<{ response: Promise<T> }> {
  const response = start();
  response.catch(() => {});
  await nextTurn();
  return { response };
}
