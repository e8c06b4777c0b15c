/**
 * The fake Mailchimp's GET /lists/{list_id}/members: status filter (the
 * default listing leaves archived members out), since/before_last_changed
 * (both exclusive), ascending or descending last_changed order, count/offset
 * paging with total_items. One pass over the audience per request.
 */
import { MEMBER_STATUSES, type Audience, type Member, type MemberStatus } from './members.js';

export interface MemberListQuery {
  count: number;
  offset: number;
  /** One status; undefined: every status but archived. */
  status?: MemberStatus;
  sinceLastChanged?: number;
  beforeLastChanged?: number;
  descending: boolean;
}

export function isMemberStatus(s: string): s is MemberStatus {
  return (MEMBER_STATUSES as readonly string[]).includes(s);
}

export function listMembers(audience: Audience, q: MemberListQuery): { members: Member[]; total: number } {
  const keep = (i: number) => {
    const s = audience.statusAt(i);
    return q.status === undefined ? s !== 'archived' : s === q.status;
  };
  const hits: number[] = [];
  for (const i of audience.order(q.sinceLastChanged, q.beforeLastChanged)) if (keep(i)) hits.push(i);
  if (q.descending) hits.reverse();
  return { members: hits.slice(q.offset, q.offset + q.count).map((i) => audience.current(i)), total: hits.length };
}
