/**
 * The `_links` Mailchimp puts on every object. The fake adds them as it
 * answers, and only when the request did not exclude them
 * (`exclude_fields=campaigns._links`): they are most of an object's size, and
 * making them for a page that drops them would be the fake's cost, not the
 * client's.
 */

/** A hypermedia link, as Mailchimp puts on every object (`_links`). */
export interface Link {
  rel: string;
  href: string;
  method: string;
  targetSchema?: string;
  schema?: string;
}

/** The links Mailchimp puts on a campaign (most of a listed campaign's size). */
export function campaignLinks(id: string): Link[] {
  const self = `https://us6.api.mailchimp.com/3.0/campaigns/${id}`;
  const schema = 'https://us6.api.mailchimp.com/schema/3.0/Definitions/Campaigns/Response.json';
  return [
    { rel: 'parent', href: 'https://us6.api.mailchimp.com/3.0/campaigns', method: 'GET', targetSchema: schema },
    { rel: 'self', href: self, method: 'GET', targetSchema: schema },
    { rel: 'delete', href: self, method: 'DELETE' },
    { rel: 'send', href: `${self}/actions/send`, method: 'POST' },
    { rel: 'cancel_send', href: `${self}/actions/cancel-send`, method: 'POST' },
    { rel: 'feedback', href: `${self}/feedback`, method: 'GET' },
    { rel: 'content', href: `${self}/content`, method: 'GET' },
    { rel: 'send_checklist', href: `${self}/send-checklist`, method: 'GET' },
    { rel: 'pause', href: `${self}/actions/pause`, method: 'POST' },
    { rel: 'resume', href: `${self}/actions/resume`, method: 'POST' },
    { rel: 'replicate', href: `${self}/actions/replicate`, method: 'POST' },
    { rel: 'create_resend', href: `${self}/actions/create-resend`, method: 'POST' },
  ];
}

/** The links Mailchimp puts on a member. */
export function memberLinks(listId: string, hash: string): Link[] {
  const self = `https://us6.api.mailchimp.com/3.0/lists/${listId}/members/${hash}`;
  return [
    { rel: 'self', href: self, method: 'GET', targetSchema: 'https://us6.api.mailchimp.com/schema/3.0/Definitions/Lists/Members/Response.json' },
    {
      rel: 'parent',
      href: `https://us6.api.mailchimp.com/3.0/lists/${listId}/members`,
      method: 'GET',
      targetSchema: 'https://us6.api.mailchimp.com/schema/3.0/Definitions/Lists/Members/CollectionResponse.json',
    },
    { rel: 'update', href: self, method: 'PATCH', targetSchema: 'https://us6.api.mailchimp.com/schema/3.0/Definitions/Lists/Members/Response.json' },
    { rel: 'upsert', href: self, method: 'PUT', targetSchema: 'https://us6.api.mailchimp.com/schema/3.0/Definitions/Lists/Members/Response.json' },
    { rel: 'delete', href: self, method: 'DELETE' },
    { rel: 'activity', href: `${self}/activity`, method: 'GET' },
    { rel: 'notes', href: `${self}/notes`, method: 'GET' },
    { rel: 'tags', href: `${self}/tags`, method: 'GET' },
  ];
}
