import type { Logger } from 'pino';
import type { SourceClient } from '../../sources/http-client.js';
import { readAudiencePage } from './member-page.js';

const PAGE_SIZE = 1000;

/**
 * The audience ids to sync: `GET /lists` paged (ids only), restricted to
 * `only` when set. A named audience Mailchimp does not have is warned about.
 */
export async function audienceIds(http: SourceClient, signal: AbortSignal, only: readonly string[] | undefined, log: Logger): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; ;) {
    const res = await http.request<unknown>({ path: '/lists', query: { count: PAGE_SIZE, offset, fields: 'lists.id,total_items' }, signal });
    const page = readAudiencePage(res.body);
    ids.push(...page.ids);
    offset += page.count;
    if (page.count === 0 || offset >= page.total) break;
  }
  const unique = [...new Set(ids)];
  if (!only) return unique;
  const missing = only.filter((id) => !unique.includes(id));
  if (missing.length > 0) log.warn({ missing }, 'MAILCHIMP_LISTS names audiences Mailchimp does not have; skipped');
  return unique.filter((id) => only.includes(id));
}
