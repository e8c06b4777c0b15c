import type { Logger } from 'pino';
import type { RecordWrite } from '../../domain/records.js';
import { UpstreamHttpError } from '../../sources/upstream-errors.js';
import type { SyncContext } from '../../sources/connector.js';
import type { SourceClient } from '../../sources/http-client.js';
import { audienceIds } from './audiences.js';
import type { MemberState, MemberWalk } from './member-checkpoint.js';
import { readMemberPage, type MemberPage } from './member-page.js';
import { offsetWalk } from './offset-walk.js';

/** Mailchimp's largest page. */
const PAGE_SIZE = 1000;
/** Page requests kept out while a page is handed on. */
const REQUESTS_IN_FLIGHT = 2;
/**
 * The next incremental walk of an audience starts this long before its last
 * walk began: last_changed has whole seconds and the bound is our clock, not
 * Mailchimp's. The overlap comes back "unchanged".
 */
export const MEMBER_LOOKBACK_MS = 5 * 60_000;

export interface MemberSyncOptions {
  source: string;
  http: () => SourceClient;
  /** MAILCHIMP_LISTS: undefined for every audience. */
  lists: readonly string[] | undefined;
  /** MAILCHIMP_FULL_INTERVAL. */
  fullIntervalMs: number;
  now?: () => number;
}

/** A page of members with the member state to save after it. */
export interface MemberStep {
  records: RecordWrite[];
  state: MemberState;
  totalEstimate: number;
  /** On each page of an audience's full walk (begun in this run): the walk whose seen keys the runner keeps, then sweeps. */
  walk?: { recordType: 'customer'; idPrefix: string; first: boolean; last: boolean };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * A new walk over the audiences, or none when there are none to walk. It is
 * full (every member, then the deletion sweep) on a first load, on `?full=true`
 * and once MAILCHIMP_FULL_INTERVAL has passed since the last full one;
 * otherwise each audience is asked for the members changed since its last walk.
 */
export async function beginMemberWalk(opts: MemberSyncOptions, saved: MemberState | undefined, ctx: SyncContext<unknown>, done: number): Promise<MemberState> {
  const now = (opts.now ?? Date.now)();
  const audiences = saved?.audiences ?? {};
  const lastFull = saved?.lastFullAt ? Date.parse(saved.lastFullAt) : Number.NaN;
  const full = ctx.full || !Number.isFinite(lastFull) || now - lastFull >= opts.fullIntervalMs;
  const queue = await audienceIds(opts.http(), ctx.signal, opts.lists, ctx.log);
  const startedAt = iso(now);
  const lastFullAt = full ? startedAt : saved?.lastFullAt;
  const base: MemberState = { audiences, ...(lastFullAt ? { lastFullAt } : {}) };
  if (queue.length === 0) return base;
  return { ...base, walk: audienceStart(queue, full, audiences, startedAt, done, now) };
}

function audienceStart(queue: string[], full: boolean, audiences: Record<string, string>, startedAt: string, done: number, now: number): MemberWalk {
  const listId = queue[0] as string;
  return { full, startedAt, queue, listing: 'default', offset: 0, since: full ? null : (audiences[listId] ?? null), before: iso(now), done };
}

/** The walk in `state`, audience by audience, each page with the state to resume after it. */
export async function* memberPages(opts: MemberSyncOptions, state: MemberState, ctx: SyncContext<unknown>): AsyncGenerator<MemberStep> {
  const now = opts.now ?? Date.now;
  const audiences = { ...state.audiences };
  let walk = state.walk;
  // A full walk resumed inside an audience starts that audience over: only a walk of it
  // done whole in one run tells which stored members Mailchimp no longer has.
  if (walk?.full && (walk.offset > 0 || walk.listing === 'archived')) {
    walk = audienceStart(walk.queue, true, audiences, walk.startedAt, walk.done, now());
  }
  // The audience's full walk began in this run: its pages are marked for the sweep.
  let complete = false;
  let first = false;
  while (walk) {
    const current = walk;
    const listId = current.queue[0] as string;
    if (current.full && current.listing === 'default' && current.offset === 0) complete = first = true;
    const steps = offsetWalk<MemberPage>({
      fetch: (offset, signal) => fetchMembers(opts, current, listId, offset, signal, ctx.log),
      signal: ctx.signal,
      offset: current.offset,
      savedTotal: typeof current.total === 'number' ? current.total : null,
      inFlight: REQUESTS_IN_FLIGHT,
      pageSize: PAGE_SIZE,
    });
    for await (const step of steps) {
      const { page } = step;
      if (page.skipped > 0) ctx.log.warn({ skipped: page.skipped, list_id: listId }, 'Mailchimp members without an id skipped');
      const mark = (last: boolean) => (complete ? { walk: { recordType: 'customer' as const, idPrefix: `${listId}:`, first, last } } : {});
      const totalEstimate = current.done + step.total;
      if (!step.last) {
        walk = { ...current, offset: step.nextOffset, total: step.total };
        yield { records: page.records, state: { ...state, audiences, walk }, totalEstimate, ...mark(false) };
        first = false;
        continue;
      }
      if (current.listing === 'default') {
        // Archived members are not in the default listing: they are asked for by status.
        const { total: _total, ...rest } = current;
        walk = { ...rest, listing: 'archived', offset: 0, done: totalEstimate };
        yield { records: page.records, state: { ...state, audiences, walk }, totalEstimate, ...mark(false) };
        first = false;
        break;
      }
      audiences[listId] = iso(Date.parse(current.before) - MEMBER_LOOKBACK_MS);
      const rest = current.queue.slice(1);
      walk = rest.length > 0 ? audienceStart(rest, current.full, audiences, current.startedAt, totalEstimate, now()) : undefined;
      const { walk: _done, ...settled } = state;
      const last = mark(true);
      complete = first = false;
      yield {
        records: page.records,
        state: { ...settled, audiences, ...(walk ? { walk } : {}) },
        totalEstimate,
        ...last,
      };
      break;
    }
  }
}

async function fetchMembers(opts: MemberSyncOptions, walk: MemberWalk, listId: string, offset: number, signal: AbortSignal, log: Logger): Promise<MemberPage> {
  try {
    return await fetchMemberPage(opts, walk, listId, offset, signal);
  } catch (err) {
    // An audience deleted since the run listed the audiences: its walk ends empty, instead of
    // failing this run and every resumed one. (A full walk then checks its stored members one by one.)
    if (!(err instanceof UpstreamHttpError && err.status === 404)) throw err;
    log.warn({ list_id: listId }, 'Mailchimp audience not found (deleted?); its walk ends here');
    return { total: 0, count: 0, records: [], skipped: 0, newestChanged: null };
  }
}

async function fetchMemberPage(opts: MemberSyncOptions, walk: MemberWalk, listId: string, offset: number, signal: AbortSignal): Promise<MemberPage> {
  const res = await opts.http().request<unknown>({
    path: `/lists/${encodeURIComponent(listId)}/members`,
    query: {
      count: PAGE_SIZE,
      offset,
      // Oldest change first, and only changes from before the walk began: a member changed
      // during the walk leaves the listing (total_items falls and the walk steps back)
      // instead of moving to its end and shifting the others past the offset.
      sort_field: 'last_changed',
      sort_dir: 'ASC',
      since_last_changed: walk.since ?? undefined,
      before_last_changed: walk.before,
      status: walk.listing === 'archived' ? 'archived' : undefined,
      // The links are most of a member's size and nothing we keep.
      exclude_fields: 'members._links,_links',
    },
    signal,
  });
  return readMemberPage(res.body, listId, opts.source);
}
