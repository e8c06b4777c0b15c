import { createHash } from 'node:crypto';

/**
 * Mailchimp's subscriber hash: the MD5 of the lower-case email, which is also
 * the member `id` of the Marketing API (`/lists/{list_id}/members/{hash}`).
 */
export function subscriberHash(email: string): string {
  return createHash('md5').update(email.trim().toLowerCase()).digest('hex');
}

/**
 * The `external_id` of an audience member: `<list_id>:<subscriber hash>`,
 * the key the members sync writes (`<list_id>:<member id>`). The hash alone
 * is the same in every audience, so one person in two audiences would be one
 * row; with the list id they are two, as Mailchimp has them. Webhooks build
 * it from the email, since every list event carries the email (`cleaned`
 * carries nothing else) and `upemail` gives no hash for the old address.
 */
export function memberKey(listId: string, email: string): string {
  return `${listId.trim()}:${subscriberHash(email)}`;
}
