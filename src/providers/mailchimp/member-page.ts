import type { RecordWrite } from '../../domain/records.js';
import { hasStringId } from '../../sources/keyed-entries.js';
import { memberFromMailchimp, type MailchimpMember } from './member-mapping.js';

/** A `GET /lists/{list_id}/members` page as the walk reads it. */
export interface MemberPage {
  /** total_items: what the walk pages up to. */
  total: number;
  /** Entries in the page, with or without an id (paging counts them all). */
  count: number;
  records: RecordWrite[];
  /** Entries without an id, left out. */
  skipped: number;
  /** The newest last_changed among the page's members. */
  newestChanged: string | null;
}

/** Checks the shape of a parsed members page and maps its members; throws on a page without members or total_items. */
export function readMemberPage(body: unknown, listId: string, source: string): MemberPage {
  const p = body as { members?: unknown; total_items?: unknown } | null;
  if (typeof p !== 'object' || p === null || !Array.isArray(p.members) || typeof p.total_items !== 'number') {
    throw new Error(`Mailchimp members page of audience ${listId} has no members array or total_items`);
  }
  const records: RecordWrite[] = [];
  let skipped = 0;
  let newestChanged: string | null = null;
  for (const entry of p.members as unknown[]) {
    if (!hasStringId(entry)) {
      skipped++;
      continue;
    }
    const member = entry as MailchimpMember;
    const changed = typeof member.last_changed === 'string' ? member.last_changed : null;
    if (changed && (!newestChanged || Date.parse(changed) > Date.parse(newestChanged))) newestChanged = changed;
    records.push(memberFromMailchimp(member, listId, source));
  }
  return { total: p.total_items, count: p.members.length, records, skipped, newestChanged };
}

/** Checks a `GET /lists` page: the audience ids in it and total_items. */
export function readAudiencePage(body: unknown): { ids: string[]; total: number; count: number } {
  const p = body as { lists?: unknown; total_items?: unknown } | null;
  if (typeof p !== 'object' || p === null || !Array.isArray(p.lists) || typeof p.total_items !== 'number') {
    throw new Error('Mailchimp lists page has no lists array or total_items');
  }
  const ids = (p.lists as unknown[]).filter(hasStringId).map((l) => l.id);
  return { ids, total: p.total_items, count: p.lists.length };
}
