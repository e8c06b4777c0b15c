import { Type, type Static } from 'typebox';
import type { RecordWrite } from '../../domain/records.js';
import { parseRetryAfter } from '../../sources/backoff.js';
import type { SourceConnector, SyncContext, SyncPage } from '../../sources/connector.js';
import { createSourceClient, type RateLimitDecision, type SourceAuth, type SourceClient, type SourceClientOptions } from '../../sources/http-client.js';
import { keyedEntries } from '../../sources/keyed-entries.js';
import type { RateLimit } from '../../sources/rate-limit.js';
import { RequestsAhead } from '../../sources/requests-ahead.js';
import { UpstreamHttpError } from '../../sources/upstream-errors.js';
import type { ProviderState } from '../../store/provider-state.js';
import { archivedWalkDue, DEFAULT_ARCHIVED_INTERVAL_MS } from './archived-walk.js';
import { contactModifiedAt, customerFromContact, type HubspotContact } from './contact-mapping.js';
import { MERGED_IDS_PROPERTY, withMerges } from './merges.js';
import { rememberPortal } from './portal.js';
import { COUNT_QUERY, estimateTotal } from './progress-total.js';
import { chunkProperties, mergeChunks, propertiesToRequest, readPropertyNames, type PropertySelection } from './properties.js';
import { reconcileContact } from './reconcile.js';
import { SearchLimiter } from './search-limit.js';

const CONTACTS = '/crm/v3/objects/contacts';
/** HubSpot's list endpoint takes at most 100 a page. */
const LIST_LIMIT = 100;
/** The search endpoint takes up to 200 a page. */
const SEARCH_LIMIT = 200;
// "The search endpoints are limited to 10,000 total results for any given query": no query here pages
// by offset, each starts again from the newest stamp (or, inside one stamp, the last id) it has seen.
/**
 * Search results lag writes by a few seconds, so each incremental run starts
 * this far before the last change it saw; the overlap comes back as
 * "unchanged" and writes nothing.
 */
const LOOKBACK_MS = 5 * 60_000;

/**
 * Where a HubSpot sync stands, saved with every committed page.
 * - list: the first (full) load, walking all contacts by `after`;
 * - archived: then the archived list, whose contacts become tombstones
 *   (search leaves archived contacts out: full runs walk it, incremental
 *   ones once per HUBSPOT_ARCHIVED_INTERVAL, see archived-walk.ts);
 * `walkAt` / `archivedWalkAt`: when the archived walk under way / the last
 * one started; absent in checkpoints from before it was kept (then it is due).
 * - search: an incremental run, contacts modified at or after `since`, from
 *   offset `after` (0 but inside a run of contacts that share one stamp);
 * - idle: between runs; the next one searches from `since`.
 */
const Cursor = Type.Union([Type.String(), Type.Null()]);
export const hubspotCheckpointSchema = Type.Union([
  Type.Object({ phase: Type.Literal('list'), after: Cursor, startedAt: Type.Number() }),
  Type.Object({ phase: Type.Literal('archived'), after: Cursor, nextSince: Type.Number(), walkAt: Type.Optional(Type.Number()) }),
  Type.Object({
    phase: Type.Literal('search'),
    since: Type.Number(),
    after: Type.Number(),
    maxSeen: Type.Number(),
    startedAt: Type.Number(),
    tieAfterId: Type.Optional(Type.String()),
    archivedWalkAt: Type.Optional(Type.Number()),
  }),
  Type.Object({ phase: Type.Literal('idle'), since: Type.Number(), archivedWalkAt: Type.Optional(Type.Number()) }),
]);
export type HubspotCheckpoint = Static<typeof hubspotCheckpointSchema>;

/**
 * Requests out while a page is handed on: one, as each page's query depends
 * on the page before (keyset paging, and the list's `after` cursor).
 */
const REQUESTS_IN_FLIGHT = 1;

interface ListPage {
  results: HubspotContact[];
  paging?: { next?: { after?: string } };
}

interface SearchPage {
  total?: number;
  results: HubspotContact[];
  paging?: { next?: { after?: string } };
}

export interface HubspotSourceOptions {
  name: string;
  accessToken: string | undefined;
  baseUrl: string;
  /** HUBSPOT_PROPERTIES: `all` (the default) or names; the mapped properties are always asked for. */
  properties?: PropertySelection;
  client?: Partial<SourceClientOptions>;
  /** An OAuth app's tokens, instead of `accessToken`. */
  auth?: SourceAuth;
  /** Where the token's portal is kept when HUBSPOT_PORTAL_ID is not set (read once per credentials). */
  portal?: { state: ProviderState; credentials: string };
  /** HUBSPOT_SEARCH_RATE_LIMIT; default 4 a second, null for none of its own. */
  searchRateLimit?: RateLimit | null;
  /** HUBSPOT_ARCHIVED_INTERVAL; default 24 h. */
  archivedIntervalMs?: number;
  /** Count the contacts (one search) when a first load starts, for its percent. Default true. */
  estimateTotal?: boolean;
}

/**
 * HubSpot's 429: the rolling ten-second limit is waited out by the client's
 * retries; the daily quota cannot be, so the task is parked.
 *
 * The daily quota resets at midnight in the account's time zone, which the
 * API does not tell us. Midnight UTC is wrong for most accounts (for one in
 * New York it comes five hours before the reset, and parking again until the
 * next UTC midnight would lose a day), so the task wakes at the next full
 * hour (plus a minute): that is within an hour of the reset in any zone, for
 * at most one refused request an hour. A Retry-After that reaches further is
 * honoured; a shorter one (a proxy's "1") is not believed for a daily quota,
 * or the task would retry every second all day.
 */
export function classifyHubspotRateLimit(_status: number, headers: Record<string, unknown>, body: unknown, now = Date.now()): RateLimitDecision {
  const policy = typeof body === 'object' && body !== null ? (body as { policyName?: unknown }).policyName : undefined;
  if (policy !== 'DAILY') return 'retry';
  const header = headers['retry-after'];
  const retryAfterMs = parseRetryAfter(typeof header === 'string' || Array.isArray(header) ? (header as string | string[]) : undefined, now);
  const nextHour = new Date(now);
  nextHour.setUTCHours(nextHour.getUTCHours() + 1, 1, 0, 0);
  const retryAt = Math.max(nextHour.getTime(), retryAfterMs === undefined ? 0 : now + retryAfterMs);
  return { park: true, retryAt, reason: 'HubSpot daily API limit reached' };
}

/**
 * crm = HubSpot CRM v3 contacts. First load lists every contact, then the
 * archived ones (as tombstones). Later runs search by lastmodifieddate,
 * ascending, from the last change seen (minus a lookback). Each page is a
 * new query from the newest lastmodifieddate of the page before (keyset
 * paging): no offset into a result set that shifts as contacts are edited,
 * and no query reaches HubSpot's 10,000-result cap, so no change set is cut
 * short.
 */
export class HubspotSource implements SourceConnector<HubspotCheckpoint> {
  readonly recordType = 'customer' as const;
  readonly name: string;
  readonly checkpointSchema = hubspotCheckpointSchema;
  private client: SourceClient | null = null;
  /** The properties this run asks for, and the same cut into chunks that each fit one URL. */
  private properties: string[] = [];
  private chunks: string[][] = [];
  private readonly searchLimiter: SearchLimiter;

  constructor(private readonly options: HubspotSourceOptions) {
    this.name = options.name;
    this.searchLimiter = new SearchLimiter({
      limit: options.searchRateLimit === undefined ? { requests: 4, perMs: 1_000 } : options.searchRateLimit,
      classify: (status, headers, body) => classifyHubspotRateLimit(status, headers, body),
      ...(options.client?.maxRetryAfterMs === undefined ? {} : { maxRetryAfterMs: options.client.maxRetryAfterMs }),
    });
  }

  /** A property changed by a webhook after this sync's snapshot keeps its value (see reconcile.ts). */
  readonly reconcile = reconcileContact;

  /** Which properties this run asks for: with `all`, the definitions as they are now (one request); merges always. */
  private async chooseProperties(signal: AbortSignal): Promise<void> {
    const selection = this.options.properties ?? 'all';
    const defined = selection === 'all' ? await readPropertyNames(this.http(), signal) : null;
    this.properties = [...new Set([...propertiesToRequest(selection, defined), MERGED_IDS_PROPERTY])];
    this.chunks = chunkProperties(this.properties);
  }

  /** HubSpot contact -> write, every requested property present (absent ones as null). */
  private toWrite(c: HubspotContact, deleted = false): RecordWrite {
    return customerFromContact(c, this.name, deleted, this.properties);
  }

  missingConfiguration(): string | null {
    return this.options.accessToken || this.options.auth ? null : 'HUBSPOT_ACCESS_TOKEN';
  }

  private http(): SourceClient {
    this.client ??= createSourceClient({
      name: this.name,
      baseUrl: this.options.baseUrl,
      ...(this.options.auth
        ? { auth: this.options.auth }
        : { headers: { authorization: `Bearer ${this.options.accessToken ?? ''}` }, secrets: this.options.accessToken ? [this.options.accessToken] : [] }),
      // HubSpot private apps: 100 requests per 10 seconds (burst) by default.
      rateLimit: { requests: 100, perMs: 10_000 },
      concurrency: 4,
      classifyRateLimit: (status, headers, body) => classifyHubspotRateLimit(status, headers, body),
      ...this.options.client,
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  async *pages(ctx: SyncContext<HubspotCheckpoint>): AsyncIterable<SyncPage<HubspotCheckpoint>> {
    let cp: HubspotCheckpoint = ctx.checkpoint ?? { phase: 'list', after: null, startedAt: Date.now() };
    if (cp.phase === 'idle') {
      const startedAt = Date.now();
      const walked: { archivedWalkAt?: number } = cp.archivedWalkAt === undefined ? {} : { archivedWalkAt: cp.archivedWalkAt };
      cp = { phase: 'search', since: Math.max(0, cp.since - LOOKBACK_MS), after: 0, maxSeen: cp.since, startedAt, ...walked };
    }
    await this.chooseProperties(ctx.signal);
    // A first load's size, from one search once its first page is in, so the percent shows from that page
    // on (a search run's comes with its first page). After the page, not before: a dead token fails on the list.
    let listEstimate: number | null | undefined;
    let searchEstimate: number | null = null;
    if (this.options.portal) await rememberPortal(this.http(), this.options.portal, ctx.signal, ctx.log);
    const requests = new RequestsAhead<HubspotCheckpoint, SearchPage>(REQUESTS_IN_FLIGHT, (at, signal) => this.fetchPage(at, signal), ctx.signal);
    // The request for the next position goes out before this page is handed on.
    const askNext = (next: HubspotCheckpoint) => requests.ahead(next.phase === 'idle' ? [] : [next]);
    try {
      for (;;) {
        ctx.signal.throwIfAborted();
        if (cp.phase === 'list') {
          const page = await requests.take(cp);
          if (listEstimate === undefined) {
            listEstimate = this.options.estimateTotal === false ? null : await estimateTotal(() => this.countContacts(ctx.signal), ctx.signal, ctx.log);
          }
          const next = nextAfter(page, cp.after);
          const contacts = keyedEntries<HubspotContact>(page.results, ctx.log, 'HubSpot contacts');
          const records = withMerges(
            contacts,
            contacts.map((c) => this.toWrite(c)),
            this.name,
          );
          // Changes made while the first load runs are caught by the next run, which searches from its start.
          cp = next ? { ...cp, after: next } : { phase: 'archived', after: null, nextSince: cp.startedAt, walkAt: Date.now() };
          await askNext(cp);
          yield { records, checkpoint: cp, ...(listEstimate === null ? {} : { totalEstimate: listEstimate }) };
        } else if (cp.phase === 'archived') {
          const page = await requests.take(cp);
          const next = nextAfter(page, cp.after);
          const records = keyedEntries<HubspotContact>(page.results, ctx.log, 'HubSpot contacts').map((c) => this.toWrite(c, true));
          cp = next ? { ...cp, after: next } : { phase: 'idle', since: cp.nextSince, archivedWalkAt: cp.walkAt ?? Date.now() };
          await askNext(cp);
          yield { records, checkpoint: cp };
          if (cp.phase === 'idle') return;
        } else if (cp.phase === 'search') {
          const page = await requests.take(cp);
          let maxSeen: number = cp.maxSeen;
          // Results come oldest change first: `last` is the page's newest stamp, `atLast` how many share it.
          let last: number | null = null;
          let atLast = 0;
          const records: RecordWrite[] = [];
          const contacts = keyedEntries<HubspotContact>(page.results, ctx.log, 'HubSpot contacts');
          for (const c of contacts) {
            const at = contactModifiedAt(c);
            if (at !== null) {
              if (at > maxSeen) maxSeen = at;
              if (at === last) atLast += 1;
              else if (last === null || at > last) [last, atLast] = [at, 1];
            }
            records.push(this.toWrite(c));
          }
          const writes = withMerges(contacts, records, this.name);
          // The first page's count of changes since the run's start stands for the whole walk.
          searchEstimate ??= typeof page.total === 'number' ? page.total : null;
          const more = page.paging?.next?.after !== undefined && page.results.length > 0;
          if (cp.tieAfterId !== undefined) {
            // Walking one stamp's contacts by id: no offset, so no 10,000 cap; then on past the stamp.
            const lastId = contacts.at(-1)?.id;
            cp =
              more && lastId !== undefined
                ? { ...cp, tieAfterId: lastId, maxSeen }
                : {
                    phase: 'search',
                    since: cp.since + 1,
                    after: 0,
                    maxSeen,
                    startedAt: cp.startedAt,
                    ...(cp.archivedWalkAt === undefined ? {} : { archivedWalkAt: cp.archivedWalkAt }),
                  };
            await askNext(cp);
            yield { records: writes, checkpoint: cp, totalEstimate: searchEstimate };
            continue;
          }
          if (!more || last === null) {
            // The end of the changes: on to the archived list when its walk is due, else done until the next run.
            const now = Date.now();
            const walked: { archivedWalkAt?: number } = cp.archivedWalkAt === undefined ? {} : { archivedWalkAt: cp.archivedWalkAt };
            cp = archivedWalkDue(cp.archivedWalkAt, now, this.options.archivedIntervalMs ?? DEFAULT_ARCHIVED_INTERVAL_MS)
              ? { phase: 'archived', after: null, nextSince: maxSeen, walkAt: now }
              : { phase: 'idle', since: maxSeen, ...walked };
            await askNext(cp);
            yield { records: writes, checkpoint: cp, totalEstimate: searchEstimate };
            if (cp.phase === 'idle') return;
            continue;
          }
          if (last > cp.since && atLast < page.results.length) {
            // Keyset: the next page is a new query from this page's newest stamp, not the next offset.
            // An offset into a live result set skips a contact whenever one before it is edited
            // meanwhile (it moves to the end), and the next run's lookback is too short to catch a
            // skipped change that is older than that. The contacts at `last` come again, as "unchanged".
            cp = { ...cp, since: last, after: 0, maxSeen };
          } else {
            // The whole page shares one stamp (a bulk edit or import): a query from that stamp would
            // return the same page, and an offset into it would skip a contact whenever one already
            // read is edited meanwhile, also across a resume from this checkpoint. Walk the stamp's
            // contacts by id instead (this page's come again, as "unchanged"), which also keeps clear
            // of the 10,000-result cap, then go on past the stamp.
            cp = { ...cp, since: last, after: 0, tieAfterId: '0', maxSeen };
          }
          await askNext(cp);
          yield { records: writes, checkpoint: cp, totalEstimate: searchEstimate };
        }
      }
    } finally {
      requests.drop();
    }
  }

  /** One page at `at`, whichever phase it is in. */
  private fetchPage(at: HubspotCheckpoint, signal: AbortSignal): Promise<SearchPage> {
    switch (at.phase) {
      case 'list':
        return this.list(signal, at.after, false);
      case 'archived':
        return this.list(signal, at.after, true);
      case 'search':
        return this.search(signal, at.since, at.after, at.tieAfterId);
      default:
        return Promise.reject(new Error('HubSpot: an idle checkpoint has no page to fetch'));
    }
  }

  /**
   * One list page with every property. A list longer than one URL holds is
   * asked for in chunks at the same cursor, merged by contact id. Chunks cost
   * one request each per 100 contacts; a batch read by POST would cost two
   * (the list for the ids, then the read) whatever the list's length. A
   * portal's few hundred properties, a few dozen characters a name, fit in
   * one or two chunks, so chunks cost no more, and a list that fits in one
   * URL costs one request a page.
   */
  private async list(signal: AbortSignal, after: string | null, archived: boolean): Promise<ListPage> {
    const pages = await Promise.all(
      this.chunks.map(async (names) => {
        const res = await this.http().request<ListPage>({
          path: CONTACTS,
          query: { limit: LIST_LIMIT, after: after ?? undefined, properties: names.join(','), archived },
          signal,
        });
        return checkPage(res.body, 'list');
      }),
    );
    const first = pages[0];
    if (!first || pages.length === 1) return first ?? { results: [] };
    const { contacts, missing } = mergeChunks(pages, this.chunks);
    // A contact a later chunk lacked (archived, or the page moved, between the requests) is read on its own.
    const gone = new Set<string>();
    for (const { id, names } of missing) {
      const one = await this.readOne(signal, id, names, archived);
      const contact = contacts.find((c) => c.id === id);
      if (one === null || !contact) gone.add(id);
      else Object.assign(contact.properties, Object.fromEntries(names.map((n) => [n, one.properties[n]])));
    }
    // One gone meanwhile is left to the archived walk (or the next run), not written half-read.
    return { ...first, results: contacts.filter((c) => !gone.has(c.id)) };
  }

  /** One contact's `names`, or null when HubSpot no longer has it (404). */
  private async readOne(signal: AbortSignal, id: string, names: readonly string[], archived: boolean): Promise<HubspotContact | null> {
    try {
      const res = await this.http().request<HubspotContact>({
        path: `${CONTACTS}/${encodeURIComponent(id)}`,
        query: { properties: names.join(','), archived },
        signal,
      });
      return res.body;
    } catch (err) {
      if (err instanceof UpstreamHttpError && err.status === 404) return null;
      throw err;
    }
  }

  private async search(signal: AbortSignal, since: number, after: number, tieAfterId?: string): Promise<SearchPage> {
    const filters =
      tieAfterId === undefined
        ? [{ propertyName: 'lastmodifieddate', operator: 'GTE', value: String(since) }]
        : [
            { propertyName: 'lastmodifieddate', operator: 'EQ', value: String(since) },
            { propertyName: 'hs_object_id', operator: 'GT', value: tieAfterId },
          ];
    const body = {
      filterGroups: [{ filters }],
      sorts: [{ propertyName: tieAfterId === undefined ? 'lastmodifieddate' : 'hs_object_id', direction: 'ASCENDING' }],
      properties: this.properties,
      limit: SEARCH_LIMIT,
      after: after === 0 ? undefined : String(after),
    };
    return checkPage(await this.searchRequest<SearchPage>(body, signal), 'search');
  }

  /** Every contact, one result: the search's `total` is the account's size. */
  private countContacts(signal: AbortSignal): Promise<SearchPage> {
    return this.searchRequest<SearchPage>(COUNT_QUERY, signal);
  }

  /** A search, within the search limit as well as the general one (search-limit.ts). */
  private async searchRequest<T>(body: unknown, signal: AbortSignal): Promise<T> {
    const res = await this.searchLimiter.run(
      (classifyRateLimit) => this.http().request<T>({ method: 'POST', path: `${CONTACTS}/search`, body, signal, classifyRateLimit }),
      signal,
    );
    return res.body;
  }
}

/** The list page's next cursor, or null at the end; one that does not move would loop forever. */
function nextAfter(page: ListPage, sent: string | null): string | null {
  const next = page.paging?.next?.after ?? null;
  if (next !== null && next === sent) throw new Error('HubSpot list page gives the cursor just sent as the next one; refusing to loop');
  return next;
}

/** A page without a results array is malformed: fail loudly rather than end the sync early. */
function checkPage<T extends { results: HubspotContact[] }>(body: T, what: string): T {
  if (typeof body !== 'object' || body === null || !Array.isArray(body.results)) {
    throw new Error(`HubSpot ${what} page has no results array`);
  }
  return body;
}
