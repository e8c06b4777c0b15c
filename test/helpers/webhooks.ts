import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import type { Store } from '../../src/store/open-store.js';

export const HUBSPOT_SECRET = 'hs-client-secret-3f6c1d2e-aaaa-bbbb-cccc-0123456789ab';
export const HOOK_HOST = 'hooks.example.com';
export const MAILCHIMP_SECRET = 'mc_secret_0123456789abcdef';

/** Signs as HubSpot does (v3), written here from the documented rule, not with the service's own code. */
export function hubspotV3(secret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`, 'utf8').digest('base64');
}

export interface HubspotEventInput {
  eventId: number;
  subscriptionType: string;
  objectId?: number;
  occurredAt?: number;
  propertyName?: string;
  propertyValue?: string;
  [k: string]: unknown;
}

export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A HubSpot event with the envelope filled in. */
export function hsEvent(e: HubspotEventInput): Record<string, unknown> {
  return { subscriptionId: 2401, portalId: 62515, occurredAt: T0, attemptNumber: 0, changeSource: 'CRM', appId: 54321, ...e };
}

/** POST /webhooks/hubspot, signed with `secret` unless told otherwise. */
export function postHubspot(
  app: App,
  events: unknown,
  opts: { secret?: string | null; timestamp?: number; uri?: string; url?: string; headers?: Record<string, string> } = {},
) {
  const body = typeof events === 'string' ? events : JSON.stringify(events);
  const url = opts.url ?? '/webhooks/hubspot';
  const timestamp = String(opts.timestamp ?? Date.now());
  const headers: Record<string, string> = { 'content-type': 'application/json', host: HOOK_HOST };
  const secret = opts.secret === undefined ? HUBSPOT_SECRET : opts.secret;
  if (secret !== null) {
    headers['x-hubspot-request-timestamp'] = timestamp;
    headers['x-hubspot-signature-v3'] = hubspotV3(secret, 'POST', opts.uri ?? `https://${HOOK_HOST}${url}`, body, timestamp);
  }
  return app.inject({ method: 'POST', url, headers: { ...headers, ...opts.headers }, payload: body });
}

/** A Mailchimp form body, from a flat map of field names (`data[merges][FNAME]`) to values. */
export function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export function postMailchimp(app: App, fields: Record<string, string> | string, secret = MAILCHIMP_SECRET, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/webhooks/mailchimp/${secret}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: typeof fields === 'string' ? fields : form(fields),
  });
}

export interface InboxRowView {
  id: number;
  route: string;
  status: string;
  idempotency_key: string | null;
  duplicate_of: number | null;
  error: string | null;
  body: string;
}

/** Inbox rows, oldest first, read straight from the table. */
export async function inboxRows(store: Store, route?: string): Promise<InboxRowView[]> {
  let q = store.db.selectFrom('webhook_inbox').select(['id', 'route', 'status', 'idempotency_key', 'duplicate_of', 'error', 'body']);
  if (route) q = q.where('route', '=', route);
  const rows = await q.orderBy('id').execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), duplicate_of: r.duplicate_of === null ? null : Number(r.duplicate_of) }));
}

/**
 * A store failure for chosen records, the way a real one looks: a trigger
 * makes every insert of a record whose external_id matches `pattern` (SQL
 * LIKE) fail inside the database. `heal` removes it.
 */
export async function breakRecordWrites(store: Store, pattern: string): Promise<{ heal(): Promise<void> }> {
  const like = pattern.replace(/'/g, "''");
  if (store.dialect.name === 'sqlite') {
    await sql
      .raw(
        `CREATE TRIGGER poison_records BEFORE INSERT ON records WHEN NEW.external_id LIKE '${like}' BEGIN SELECT RAISE(ABORT, 'simulated store failure'); END`,
      )
      .execute(store.db);
    return { heal: async () => void (await sql.raw('DROP TRIGGER poison_records').execute(store.db)) };
  }
  await sql
    .raw(
      `CREATE FUNCTION poison_records() RETURNS trigger AS $$ BEGIN IF NEW.external_id LIKE '${like}' THEN RAISE EXCEPTION 'simulated store failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`,
    )
    .execute(store.db);
  await sql.raw('CREATE TRIGGER poison_records BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION poison_records()').execute(store.db);
  return {
    heal: async () => {
      await sql.raw('DROP TRIGGER poison_records ON records').execute(store.db);
      await sql.raw('DROP FUNCTION poison_records()').execute(store.db);
    },
  };
}

/** GET a record, tombstones included. */
export async function record(app: App, type: 'customers' | 'campaigns', id: string) {
  return app.inject(`/${type}/${encodeURIComponent(id)}?include_deleted=true`);
}
