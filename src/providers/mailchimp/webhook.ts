import { createHash } from 'node:crypto';
import { storableWrite, type RecordWrite } from '../../domain/records.js';
import { applyRecordWrites, type AppliedWrite } from '../../store/record-writes.js';
import type { WriteTx } from '../../store/write-transaction.js';
import { DeliveryRejected, type DeliveryHandler, type HandlerResult } from '../../ingest/delivery.js';
import { readCurrent, writeFrom, type CurrentRecord } from '../../ingest/stored-record.js';
import { memberKey } from './member-key.js';

/** Every Mailchimp delivery key starts so; generic deliveries may not use it (they share the inbox's key column). */
export const MAILCHIMP_KEY_PREFIX = 'mailchimp:';

/** The inbox `route` of Mailchimp deliveries: the path without its secret. */
export const MAILCHIMP_INBOX_ROUTE = '/webhooks/mailchimp';

/**
 * A Mailchimp delivery's de-duplication key. Mailchimp sends no delivery id,
 * and its `fired_at` has one-second resolution, so a retry (which repeats the
 * body byte for byte) would otherwise be applied again, over a later event of
 * the same second. The body is the delivery's identity.
 */
export function mailchimpDeliveryKey(rawBody: string): string {
  return `${MAILCHIMP_KEY_PREFIX}${createHash('sha256').update(rawBody).digest('hex')}`;
}

/**
 * Subscribers and campaigns that arrive by webhook are stored under the
 * `marketing` source, the name of the Mailchimp sync; campaigns keep the
 * Mailchimp campaign id as `external_id`, as the sync does, so a later sync
 * of the same campaign updates the one row.
 */
export const MAILCHIMP_SOURCE = 'marketing';

/** The event types Mailchimp's list webhooks send. */
export const MAILCHIMP_TYPES = ['subscribe', 'unsubscribe', 'profile', 'upemail', 'cleaned', 'campaign'] as const;

/** A form field the parser refuses (prototype keys, absurd nesting). */
export class FormFieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FormFieldError';
  }
}

const MAX_FIELD_DEPTH = 8;
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

/**
 * `application/x-www-form-urlencoded` as Mailchimp sends it, with PHP-style
 * brackets (`data[merges][FNAME]=Ann`) turned into nested objects. Parsed
 * with node's URLSearchParams; objects have no prototype, and `__proto__`,
 * `constructor` and `prototype` segments are refused as on the JSON routes.
 */
export function parseMailchimpForm(raw: string): FormObject {
  const root: FormObject = Object.create(null) as FormObject;
  for (const [name, value] of new URLSearchParams(raw)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(name);
    const path = m ? [m[1] as string, ...[...(m[2] as string).matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1] as string)] : [name];
    if (path.length > MAX_FIELD_DEPTH) throw new FormFieldError(name, `form field ${name} nests deeper than ${MAX_FIELD_DEPTH} levels`);
    if (path.some((seg) => FORBIDDEN_SEGMENTS.has(seg))) throw new FormFieldError(name, `form field ${name} uses a reserved name`);
    let node = root;
    for (const seg of path.slice(0, -1)) {
      const next = node[seg];
      if (next === undefined || typeof next === 'string') {
        // A plain value and a nested one under the same name: the nested one wins.
        const child = Object.create(null) as FormObject;
        node[seg] = child;
        node = child;
      } else {
        node = next;
      }
    }
    const leaf = path[path.length - 1] as string;
    if (typeof node[leaf] !== 'object') node[leaf] = value; // first value of a repeated field wins
  }
  return root;
}

/** Mailchimp's `fired_at` ("2026-05-01 10:00:00", UTC) in ms, or null. */
export function firedAtMs(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(text.trim());
  const t = m ? Date.parse(`${m[1]}T${m[2]}Z`) : Number.NaN;
  return Number.isFinite(t) ? t : null;
}

const text = (v: FormValue | undefined): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
const plain = (o: FormObject | undefined): Record<string, unknown> => (o ? (JSON.parse(JSON.stringify(o)) as Record<string, unknown>) : {});

function dataOf(form: FormObject): FormObject {
  const data = form.data;
  return typeof data === 'object' ? data : (Object.create(null) as FormObject);
}

function fullName(data: FormObject): string | null {
  const merges = typeof data.merges === 'object' ? data.merges : undefined;
  if (!merges) return null;
  const name = [text(merges.FNAME), text(merges.LNAME)].filter((s): s is string => s !== null).join(' ');
  return name === '' ? null : name;
}

const int = (v: FormValue | undefined): number | null => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : null);

// Keys an event's data says about a status; a new subscription clears the old ones.
const STATUS_DETAILS = ['reason', 'action', 'campaign_id'];

/** A subscriber event applied to the stored customer (or one made from what the event carries). */
function subscriberWrite(
  key: string,
  listId: string,
  current: CurrentRecord | null,
  data: FormObject,
  status: string | null,
  firedAt: number | null,
  extra: Record<string, unknown> = {},
): RecordWrite {
  const incoming = plain(data);
  delete incoming.email;
  const base = { ...current?.attributes };
  if (status === 'subscribed') for (const k of STATUS_DETAILS) delete base[k];
  const attributes: Record<string, unknown> = { ...base, ...incoming, ...extra, list_id: listId };
  // attributes.status as before; the status field as the members sync writes it.
  if (status !== null) attributes.status = status;
  return writeFrom('customer', key, MAILCHIMP_SOURCE, current, {
    fields: {
      status: status ?? current?.fields.status ?? null,
      name: fullName(data) ?? current?.fields.name ?? null,
      email: text(data.email) ?? current?.fields.email ?? null,
      sender_id: int(data.web_id) ?? current?.fields.sender_id ?? null,
    },
    attributes,
    sourceUpdatedAt: firedAt ?? current?.sourceUpdatedAt ?? null,
  });
}

/** A text field the event cannot be applied without (a dead letter otherwise). */
function required(data: FormObject, field: string): string {
  const value = text(data[field]);
  if (value === null) throw new DeliveryRejected(`the event has no data[${field}]`);
  return value;
}

/** Applies one Mailchimp event to the store. */
export async function applyMailchimpEvent(tx: WriteTx, form: FormObject): Promise<HandlerResult> {
  const type = text(form.type);
  if (type === null || !(MAILCHIMP_TYPES as readonly string[]).includes(type)) {
    throw new DeliveryRejected(`event type ${type ?? '(none)'} is not handled (${MAILCHIMP_TYPES.join(', ')} are)`);
  }
  const data = dataOf(form);
  const firedAt = firedAtMs(form.fired_at);
  const records: AppliedWrite[] = [];
  // Text PostgreSQL cannot keep (U+0000, lone surrogates) is cleaned as a sync does: refused, the event could never be replayed.
  const apply = async (writes: RecordWrite[]) => records.push(...(await applyRecordWrites(tx, writes.map(storableWrite))));

  switch (type) {
    case 'subscribe':
    case 'profile':
    case 'unsubscribe':
    case 'cleaned': {
      const email = required(data, 'email');
      const listId = required(data, 'list_id');
      const key = memberKey(listId, email);
      const current = await readCurrent(tx, 'customer', key);
      // profile keeps the status it finds; unsubscribe and cleaned mark it, and stay visible
      // (Mailchimp keeps such members too); an unsubscribe with action=delete leaves a tombstone.
      const status = type === 'subscribe' ? 'subscribed' : type === 'unsubscribe' ? 'unsubscribed' : type === 'cleaned' ? 'cleaned' : null;
      const w = subscriberWrite(key, listId, current, data, status, firedAt);
      await apply(type === 'unsubscribe' && text(data.action) === 'delete' ? [w, { ...w, deleted: true }] : [w]);
      break;
    }
    case 'upemail': {
      const oldEmail = required(data, 'old_email');
      const newEmail = required(data, 'new_email');
      const listId = required(data, 'list_id');
      const oldKey = memberKey(listId, oldEmail);
      const newKey = memberKey(listId, newEmail);
      const old = await readCurrent(tx, 'customer', oldKey);
      const existing = oldKey === newKey ? old : await readCurrent(tx, 'customer', newKey);
      const moved: FormObject = Object.assign(Object.create(null) as FormObject, data, { email: newEmail });
      delete moved.old_email;
      delete moved.new_email;
      if (text(data.new_id) !== null) {
        moved.id = data.new_id as FormValue;
        delete moved.new_id;
      }
      // The new address's row takes what is known: its own if it is there, else the old one's.
      const base = existing && !existing.deleted ? existing : old;
      const writes = [subscriberWrite(newKey, listId, base, moved, null, firedAt, oldKey === newKey ? {} : { previous_email: oldEmail })];
      if (oldKey !== newKey && old && !old.deleted) {
        // The old address's row becomes a tombstone that names where it went; one
        // applyRecordWrites call, so both rows change in the delivery's transaction.
        const note = writeFrom('customer', oldKey, MAILCHIMP_SOURCE, old, {
          attributes: { ...old.attributes, moved_to: newKey, new_email: newEmail },
          sourceUpdatedAt: firedAt ?? old.sourceUpdatedAt,
        });
        writes.push(note, { ...note, deleted: true });
      }
      await apply(writes);
      break;
    }
    case 'campaign': {
      const id = text(data.id);
      if (id === null) throw new DeliveryRejected('the campaign event has no data[id]');
      const current = await readCurrent(tx, 'campaign', id);
      const subject = text(data.subject);
      const status = text(data.status);
      const incoming = plain(data);
      delete incoming.id;
      const w = writeFrom('campaign', id, MAILCHIMP_SOURCE, current, {
        fields: {
          name: current?.fields.name ?? subject,
          status: status ?? current?.fields.status ?? null,
          details: { ...current?.fields.details, ...(subject !== null ? { subject_line: subject } : {}) },
        },
        attributes: { ...current?.attributes, ...incoming },
        sourceUpdatedAt: firedAt ?? current?.sourceUpdatedAt ?? null,
      });
      await apply([w]);
      break;
    }
  }
  return { records, answer: { status: 200, body: { type, records } } };
}

/** The handler of `/webhooks/mailchimp`: each inbox row holds one form-encoded event. */
export const mailchimpDeliveryHandler: DeliveryHandler<FormObject> = {
  parse(raw) {
    try {
      return parseMailchimpForm(raw);
    } catch (err) {
      throw new DeliveryRejected(err instanceof Error ? err.message : String(err));
    }
  },
  // The form parser made it: an object of strings and objects, which apply reads field by field.
  prepare: (form) => form as FormObject,
  apply: (tx, form) => applyMailchimpEvent(tx, form),
};
