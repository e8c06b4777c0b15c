/**
 * When an incremental run also walks HubSpot's archived contacts.
 *
 * Search leaves archived contacts out, so deletions reach us through the
 * `contact.deletion` webhook or through `GET /crm/v3/objects/contacts?archived=true`.
 * That list cannot be cut short: it is paged by id, not by `archivedAt`, and
 * takes no filter on it (nor does search, which never returns archived
 * contacts), so finding the deletions since the last walk means walking all
 * of it. A full run walks it; an incremental run only when the last walk is
 * older than HUBSPOT_ARCHIVED_INTERVAL, and webhooks cover the time between.
 */

/** The default HUBSPOT_ARCHIVED_INTERVAL: a day. */
export const DEFAULT_ARCHIVED_INTERVAL_MS = 24 * 3_600_000;

/**
 * True when this run should walk the archived list: never walked (a
 * checkpoint from before this was kept walks it, as every run then did), or
 * the last walk started at least `intervalMs` ago. A clock that went back
 * more than the interval also walks it, rather than waiting for the clock.
 */
export function archivedWalkDue(lastWalkAt: number | undefined, now: number, intervalMs: number): boolean {
  if (lastWalkAt === undefined) return true;
  return now - lastWalkAt >= intervalMs || lastWalkAt - now > intervalMs;
}
