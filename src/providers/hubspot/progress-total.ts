import type { SourceLogger } from '../../sources/http-client.js';

/** The body of the cheapest search that still answers `total`: every contact, one result, one property. */
export const COUNT_QUERY = { filterGroups: [], properties: ['hs_object_id'], limit: 1 } as const;

/**
 * The number of contacts a first load will list, from one search of one
 * result (search answers the size of the whole match as `total`), so the
 * task shows a percent from its first page. An estimate only: contacts made
 * or archived meanwhile, and the archived list walked after, are not in it.
 * A failed count costs the percent, not the run.
 */
export async function estimateTotal(count: () => Promise<unknown>, signal: AbortSignal, log: SourceLogger): Promise<number | null> {
  try {
    const body = await count();
    const total = typeof body === 'object' && body !== null ? (body as { total?: unknown }).total : undefined;
    return typeof total === 'number' && Number.isSafeInteger(total) && total >= 0 ? total : null;
  } catch (error) {
    signal.throwIfAborted();
    log.warn({ err: error instanceof Error ? error.message : String(error) }, 'HubSpot contact count failed: no percent for this run');
    return null;
  }
}
