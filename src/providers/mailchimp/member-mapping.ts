import type { RecordWrite } from '../../domain/records.js';

/** The fields of a Mailchimp audience member we read; the rest is kept as it came. */
export interface MailchimpMember {
  /** The subscriber hash: MD5 of the lower-case email address. */
  id: string;
  email_address?: string;
  full_name?: string;
  status?: string;
  list_id?: string;
  last_changed?: string;
  merge_fields?: Record<string, unknown>;
  [k: string]: unknown;
}

/**
 * A member's key: its audience and its subscriber hash. Mailchimp's hash is of
 * the email alone, so the same person in two audiences is two members (each
 * with its own status), and two rows here.
 */
export const memberKey = (listId: string, hash: string): string => `${listId}:${hash}`;

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

function nameOf(m: MailchimpMember): string | null {
  const merge = m.merge_fields ?? {};
  const name = [text(merge.FNAME), text(merge.LNAME)].filter((s): s is string => s !== null).join(' ');
  return name !== '' ? name : text(m.full_name);
}

/** Mailchimp member -> unified customer: email, name and status as fields, everything else (bar links) in `attributes`. */
export function memberFromMailchimp(m: MailchimpMember, listId: string, source: string): RecordWrite {
  const { _links: _ignored, email_address: _email, ...rest } = m;
  const changed = typeof m.last_changed === 'string' ? Date.parse(m.last_changed) : Number.NaN;
  return {
    type: 'customer',
    external_id: memberKey(listId, m.id),
    source,
    fields: {
      sender_id: null,
      name: nameOf(m),
      email: text(m.email_address),
      status: typeof m.status === 'string' ? m.status : null,
      budget: null,
      details: null,
    },
    // list_id is kept even when the answer left it out: the key's audience.
    attributes: { ...rest, list_id: m.list_id ?? listId },
    sourceUpdatedAt: Number.isFinite(changed) ? changed : null,
    deleted: false,
  };
}
