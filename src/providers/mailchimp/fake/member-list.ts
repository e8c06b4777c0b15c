/**
 * The fake Mailchimp's GET /lists/{list_id}/members: status filter (the
 * default listing leaves archived members out), since/before_last_changed
 * (both exclusive), ascending or descending last_changed order, count/offset
 * paging with total_items. A deep page costs a binary search, not a scan.
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
  const page = audience.page(q.status ?? 'default', q.sinceLastChanged, q.beforeLastChanged, q.offset, q.count, q.descending);
  return { members: page.indices.map((i) => audience.current(i)), total: page.total };
}
