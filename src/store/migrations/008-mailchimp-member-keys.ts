import { sql, type Kysely, type RawBuilder } from 'kysely';

/** The engines this migration knows. The SQL below is the same on both. */
type Engine = 'sqlite' | 'postgres';

/** Rows read (and renamed) per statement. */
const PAGE = 500;

/** Mailchimp's subscriber hash, the whole `external_id` of a member stored before this migration. */
const OLD_KEY = /^[0-9a-f]{32}$/;

/**
 * The content hash of a row this migration edits beyond its key. No real hash
 * (base64url SHA-256, 43 characters) has this value, so the next write of the
 * key is always stored, never taken for "unchanged" against a stale hash.
 */
const REHASH = '008-rehash';

interface OldRow {
  row_id: number | string;
  external_id: string;
  attributes: unknown;
  source_updated_at: number | string | null;
  updated_at: number | string;
  deleted_at: number | string | null;
}

interface KeyRow {
  row_id: number | string;
  external_id: string;
  source: string;
  source_updated_at: number | string | null;
  updated_at: number | string;
  deleted_at: number | string | null;
}

/** Attributes as stored: JSON with its keys in sorted order, as the service writes them. */
function attributesText(attributes: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The JSON column as an object: text on SQLite, parsed by pg on PostgreSQL. */
function objectOf(v: unknown): Record<string, unknown> {
  const parsed: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

/** The audience a stored member came from: where the Mailchimp webhook handler kept `data[list_id]`. */
function listIdOf(attributes: Record<string, unknown>): string | null {
  const id = attributes.list_id;
  return typeof id === 'string' && id.trim() !== '' ? id.trim() : null;
}

/** Which of two versions of a member is newer: Mailchimp's time (`fired_at`) first, then when it was stored. */
function isNewer(a: { source_updated_at: number | string | null; updated_at: number | string }, b: typeof a): boolean {
  const sa = num(a.source_updated_at);
  const sb = num(b.source_updated_at);
  if (sa !== null && sb !== null && sa !== sb) return sa > sb;
  if (sa !== null && sb === null) return true;
  if (sa === null && sb !== null) return false;
  return Number(a.updated_at) > Number(b.updated_at);
}

async function bumpCount(db: Kysely<unknown>, source: string, deleted: boolean, by: number): Promise<void> {
  await sql`insert into record_counts (type, source, deleted, n) values ('customer', ${source}, ${deleted ? 1 : 0}, ${by})
    on conflict (type, source, deleted) do update set n = record_counts.n + excluded.n`.execute(db);
}

/**
 * Mailchimp members stored by webhooks before the members sync were keyed by
 * the subscriber hash alone (MD5 of the lower-case email), so one person in
 * two audiences was one row. Members are now keyed `<list_id>:<hash>`, as the
 * sync stores them. This rewrites the key of every such row (type customer,
 * source marketing, a 32-hex key) whose `attributes.list_id` is known, and
 * moves its `updated_at` so the change feed shows it under the new key. A
 * tombstone left by `upemail` gets its `attributes.moved_to` rewritten too.
 * Rows without a list id stay as they are: no audience can be told for them.
 *
 * If a row already has the new key (written after an upgrade by another
 * process), the newer of the two is kept under it: when that row is newer,
 * the old-key row becomes a tombstone naming it in `attributes.moved_to`;
 * when the old-key row is newer, the other row is removed and the old-key
 * row takes the key. The totals in record_counts follow.
 */
export function mailchimpMemberKeysMigration(_engine: Engine) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const now = Date.now();
      let after = 0;
      for (;;) {
        const { rows } = await sql<OldRow>`
          select row_id, external_id, attributes, source_updated_at, updated_at, deleted_at from records
          where type = 'customer' and source = 'marketing' and length(external_id) = 32 and row_id > ${after}
          order by row_id limit ${PAGE}`.execute(db);
        if (rows.length === 0) break;
        after = Number((rows[rows.length - 1] as OldRow).row_id);

        const moves: { row: OldRow; key: string; attributes: Record<string, unknown> | null }[] = [];
        for (const row of rows) {
          if (!OLD_KEY.test(row.external_id)) continue;
          const attributes = objectOf(row.attributes);
          const listId = listIdOf(attributes);
          if (listId === null) continue;
          const movedTo = attributes.moved_to;
          const rewritten = typeof movedTo === 'string' && OLD_KEY.test(movedTo) ? { ...attributes, moved_to: `${listId}:${movedTo}` } : null;
          moves.push({ row, key: `${listId}:${row.external_id}`, attributes: rewritten });
        }
        if (moves.length === 0) continue;

        const taken = new Map<string, KeyRow>();
        const { rows: existing } = await sql<KeyRow>`
          select row_id, external_id, source, source_updated_at, updated_at, deleted_at from records
          where type = 'customer' and external_id in (${sql.join(moves.map((m) => m.key))})`.execute(db);
        for (const r of existing) taken.set(r.external_id, r);

        // The common case, a free key and nothing else to change: one statement for the page.
        const plain = moves.filter((m) => !taken.has(m.key) && m.attributes === null);
        if (plain.length > 0) {
          const cases: RawBuilder<unknown>[] = plain.map((m) => sql`when ${m.row.row_id} then ${m.key}`);
          await sql`update records set external_id = case row_id ${sql.join(cases, sql` `)} end, updated_at = ${now}
            where row_id in (${sql.join(plain.map((m) => m.row.row_id))})`.execute(db);
        }

        for (const m of moves) {
          const other = taken.get(m.key);
          if (!other && m.attributes === null) continue;
          if (!other) {
            await sql`update records set external_id = ${m.key}, attributes = ${attributesText(m.attributes ?? {})}, content_hash = ${REHASH},
              updated_at = ${now} where row_id = ${m.row.row_id}`.execute(db);
          } else if (isNewer(m.row, other)) {
            // The old-key row is the newer version of this member: it replaces the row that has the key.
            await sql`delete from records where row_id = ${other.row_id}`.execute(db);
            await bumpCount(db, other.source, other.deleted_at !== null, -1);
            const attributes = m.attributes === null ? sql`attributes` : sql`${attributesText(m.attributes)}`;
            const hash = m.attributes === null ? sql`content_hash` : sql`${REHASH}`;
            await sql`update records set external_id = ${m.key}, attributes = ${attributes}, content_hash = ${hash}, updated_at = ${now}
              where row_id = ${m.row.row_id}`.execute(db);
          } else if (m.row.deleted_at === null || objectOf(m.row.attributes).moved_to !== m.key) {
            // The row under the key is newer: the old-key row stays, as a tombstone naming it
            // (once: run again, as after a failed start, it finds that tombstone and leaves it).
            const attributes = { ...(m.attributes ?? objectOf(m.row.attributes)), moved_to: m.key };
            await sql`update records set attributes = ${attributesText(attributes)}, content_hash = ${REHASH}, updated_at = ${now},
              deleted_at = ${m.row.deleted_at ?? now} where row_id = ${m.row.row_id}`.execute(db);
            if (m.row.deleted_at === null) {
              await bumpCount(db, 'marketing', false, -1);
              await bumpCount(db, 'marketing', true, 1);
            }
          }
        }
      }
    },
  };
}
