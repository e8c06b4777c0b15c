import { Type, type Static } from 'typebox';
import type { RecordWrite } from '../../domain/records.js';
import type { SourceConnector, SyncContext, SyncPage } from '../../sources/connector.js';
import { createSourceClient, type QueryValue, type SourceClient, type SourceClientOptions } from '../../sources/http-client.js';
import { createRecordMapper, formatTime, getPath, parseTime, type RecordMapper } from './field-mapping.js';
import type { DeclaredSourceConfig } from './load-sources-file.js';
import { createPaginator, pagePositionSchema, type Paginator } from './paginators.js';
import { envReferences, type SourceSpec, type TimeFormat } from './schema.js';
import { RequestsAhead } from '../../sources/requests-ahead.js';

/**
 * Where a declared source stands, saved with every committed page.
 * - walk: a run is walking the pages; `since` is the incremental value it
 *   sends (ms, null: everything), `maxSeen` the largest value seen so far,
 *   `position` the paginator's place, so a cancelled run resumes mid-walk;
 * - idle: between runs; the next one sends `since`.
 */
const MsOrNull = Type.Union([Type.Number(), Type.Null()]);
export const declaredCheckpointSchema = Type.Union([
  Type.Object({ phase: Type.Literal('walk'), since: MsOrNull, startedAt: Type.Number(), maxSeen: MsOrNull, position: pagePositionSchema }),
  Type.Object({ phase: Type.Literal('idle'), since: MsOrNull }),
]);
export type DeclaredCheckpoint = Static<typeof declaredCheckpointSchema>;

/**
 * Requests out while a page is handed on: one, as the next position is
 * known only from the page before (a cursor, a link, a total that fell).
 */
const REQUESTS_IN_FLIGHT = 1;

type WalkCheckpoint = Extract<DeclaredCheckpoint, { phase: 'walk' }>;

export interface DeclaredSourceOptions {
  /** Client settings over the file's (tests: short backoff). */
  client?: Partial<SourceClientOptions>;
}

/** Empty pages in a row, each linking to another, after which a cursor or link walk is taken for endless. */
const MAX_EMPTY_PAGES = 50;

function joinUrl(base: string, path: string): string {
  if (/^https?:\/\//i.test(path)) return path;
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** The query string as the client builds it (encodeURIComponent: a space is %20). */
function withQuery(url: string, query: Record<string, QueryValue>): string {
  const pairs = Object.entries(query)
    .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return pairs.length === 0 ? url : `${url}${url.includes('?') ? '&' : '?'}${pairs.join('&')}`;
}

/**
 * A JSON REST API declared in SOURCES_FILE: pages from the declared
 * paginator, records from the declared path, mapped to customers or campaigns.
 *
 * With `incremental`, each run sends the largest value of the field seen by
 * the last complete walk (but no later than that walk's start, so a record
 * changed behind the walk's position is fetched again next time). Overlap
 * is harmless: a record that did not change writes nothing.
 */
export class DeclaredSource implements SourceConnector<DeclaredCheckpoint> {
  readonly name: string;
  readonly recordType: 'customer' | 'campaign';
  readonly checkpointSchema = declaredCheckpointSchema;
  private readonly spec: SourceSpec;
  private readonly paginator: Paginator;
  private readonly mapper: RecordMapper;
  private readonly timeFormat: TimeFormat;
  private readonly origin: string;
  private client: SourceClient | null = null;

  constructor(
    private readonly declared: DeclaredSourceConfig,
    private readonly options: DeclaredSourceOptions = {},
  ) {
    this.name = declared.name;
    this.spec = declared.spec;
    this.recordType = this.spec.type;
    this.origin = new URL(this.spec.base_url).origin;
    this.timeFormat = this.spec.incremental?.format ?? 'iso';
    const secretParam = this.spec.auth.kind === 'api_key' && this.spec.auth.in === 'query' ? this.spec.auth.name : undefined;
    this.paginator = createPaginator(this.spec.pagination, this.name, this.origin, secretParam);
    const updatedFormat = this.spec.mapping.updated_at !== undefined && this.spec.mapping.updated_at === this.spec.incremental?.field ? this.timeFormat : 'iso';
    this.mapper = createRecordMapper(this.spec.type, this.spec.mapping, this.name, updatedFormat);
  }

  missingConfiguration(): string | null {
    const missing = envReferences(this.spec).filter((v) => !this.declared.env[v]);
    return missing.length > 0 ? missing.join(', ') : null;
  }

  private secret(name: string | undefined): string {
    return name === undefined ? '' : (this.declared.env[name] ?? '');
  }

  /** The values of the variables the auth names, to be masked in quoted error bodies. */
  private secretValues(): string[] {
    const a = this.spec.auth as { token_env?: string; password_env?: string; key_env?: string };
    return [a.token_env, a.password_env, a.key_env].map((n) => this.secret(n)).filter((v) => v !== '');
  }

  private authHeaders(): Record<string, string> {
    const a = this.spec.auth;
    switch (a.kind) {
      case 'bearer':
        return { authorization: `Bearer ${this.secret(a.token_env)}` };
      case 'basic': {
        const user = a.username_env !== undefined ? this.secret(a.username_env) : (a.username ?? '');
        return { authorization: `Basic ${Buffer.from(`${user}:${this.secret(a.password_env)}`).toString('base64')}` };
      }
      case 'api_key':
        return a.in === 'header' ? { [a.name]: `${a.prefix ?? ''}${this.secret(a.key_env)}` } : {};
      default:
        return {};
    }
  }

  private authQuery(): Record<string, QueryValue> {
    const a = this.spec.auth;
    return a.kind === 'api_key' && a.in === 'query' ? { [a.name]: this.secret(a.key_env) } : {};
  }

  private http(): SourceClient {
    const s = this.spec;
    this.client ??= createSourceClient({
      name: this.name,
      baseUrl: s.base_url,
      headers: { ...(s.headers ?? {}), ...this.authHeaders() },
      secrets: this.secretValues(),
      concurrency: s.concurrency ?? 4,
      ...(s.rate_limit ? { rateLimit: { requests: s.rate_limit.requests, perMs: Math.round(s.rate_limit.per_seconds * 1000) } } : {}),
      // At least 1 ms: 0 would read as "no timeout" to undici.
      ...(s.timeout_seconds !== undefined ? { timeoutMs: Math.max(1, Math.round(s.timeout_seconds * 1000)) } : {}),
      ...(s.max_retries !== undefined ? { maxRetries: s.max_retries } : {}),
      ...this.options.client,
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }

  /** The request for a position: the path or next link, and every parameter it lacks. */
  private requestFor(cp: WalkCheckpoint): { path: string; query: Record<string, QueryValue>; url: string } {
    const page = this.paginator.request(cp.position);
    const inc = this.spec.incremental;
    const since = inc && cp.since !== null ? { [inc.param]: formatTime(Math.max(0, cp.since - (inc.lookback_seconds ?? 0) * 1000), this.timeFormat) } : {};
    const params: Record<string, QueryValue> = { ...(this.spec.query ?? {}), ...since, ...page.params, ...this.authQuery() };
    if (page.url === null) {
      return { path: this.spec.path, query: params, url: withQuery(joinUrl(this.spec.base_url, this.spec.path), params) };
    }
    // A next link usually carries the filters already; add only what it lacks (the API key, always).
    const present = new URL(page.url).searchParams;
    const missing = Object.fromEntries(Object.entries(params).filter(([k]) => !present.has(k)));
    return { path: page.url, query: missing, url: withQuery(page.url, missing) };
  }

  private recordsOf(body: unknown): unknown[] {
    const list = this.spec.records === undefined ? body : getPath(body, this.spec.records);
    if (!Array.isArray(list)) {
      throw new Error(
        this.spec.records === undefined
          ? `${this.name}: the response body is not an array (set records: to the path of the record list)`
          : `${this.name}: the response has no array at "${this.spec.records}"`,
      );
    }
    return list;
  }

  async *pages(ctx: SyncContext<DeclaredCheckpoint>): AsyncIterable<SyncPage<DeclaredCheckpoint>> {
    const saved = ctx.checkpoint;
    let cp: WalkCheckpoint;
    if (saved?.phase === 'walk' && this.paginator.accepts(saved.position)) {
      cp = saved;
    } else {
      // A new run; a walk saved by a differently configured paginator starts over.
      cp = { phase: 'walk', since: saved?.since ?? null, startedAt: Date.now(), maxSeen: null, position: this.paginator.start() };
    }
    const inc = this.spec.incremental;
    // The request for the next page goes out as soon as this page says where
    // it is, before this page's records are mapped: upstream time and ours overlap.
    const requests = new RequestsAhead(
      REQUESTS_IN_FLIGHT,
      async (at: WalkCheckpoint, signal) => {
        const req = this.requestFor(at);
        const res = await this.http().request({ path: req.path, query: req.query, signal });
        const items = this.recordsOf(res.body);
        const advance = this.paginator.advance(at.position, { body: res.body, headers: res.headers, count: items.length, url: req.url });
        return { at, req, res, items, advance };
      },
      ctx.signal,
      // The walk's other fields (maxSeen) move on between asking and taking; the request is the position's.
      (at) => JSON.stringify(at.position),
      // The next page is asked for as soon as this one says where it is, even while the runner commits.
      ({ at, advance }) => (advance.next === null ? null : { ...at, position: advance.next }),
    );
    // Cursors and links are upstream's to choose: one that leads back to a page
    // already fetched in this walk (A -> B -> A) would loop for good, the task
    // holding its source's one active slot. Offsets and page numbers only go
    // forward, but for the deliberate step back after deletions.
    const cycles = this.paginator.kind === 'cursor' || this.paginator.kind === 'link_header' || this.paginator.kind === 'next_url';
    const visited = new Set<string>(cycles ? [JSON.stringify(cp.position)] : []);
    let emptyRun = 0;
    try {
      for (;;) {
        const { items, advance } = await requests.take(cp);
        const { next, total } = advance;
        if (next !== null && cycles) {
          const key = JSON.stringify(next);
          if (visited.has(key)) throw new Error(`${this.name}: the next page leads back to one this walk already fetched; refusing to loop`);
          visited.add(key);
          // Ever new links to ever empty pages would never end either.
          emptyRun = items.length === 0 ? emptyRun + 1 : 0;
          if (emptyRun >= MAX_EMPTY_PAGES) throw new Error(`${this.name}: ${MAX_EMPTY_PAGES} empty pages in a row, each with a next page; refusing to walk on`);
        }
        if (next !== null) await requests.ahead([{ ...cp, position: next }]);

        const records: RecordWrite[] = [];
        let maxSeen = cp.maxSeen;
        let skipped = 0;
        let firstReason = '';
        for (const item of items) {
          const mapped = this.mapper.map(item);
          if (!mapped.ok) {
            if (skipped++ === 0) firstReason = mapped.reason;
            continue;
          }
          records.push(mapped.write);
          if (inc) {
            const at = parseTime(getPath(item, inc.field), this.timeFormat);
            if (at !== null && (maxSeen === null || at > maxSeen)) maxSeen = at;
          }
        }
        if (skipped > 0) ctx.log.warn({ source: this.name, skipped, reason: firstReason }, 'declared source: records skipped');

        if (next === null) {
          yield { records, checkpoint: { phase: 'idle', since: this.nextSince(cp, maxSeen) }, totalEstimate: total, requests: 1 };
          return;
        }
        cp = { ...cp, maxSeen, position: next };
        yield { records, checkpoint: cp, totalEstimate: total, requests: 1 };
      }
    } finally {
      requests.drop();
    }
  }

  /**
   * The value the next run sends: the largest seen, but not later than this
   * walk's start (a change made behind the walk's position is newer than the
   * start, so it is fetched next time), and never earlier than this walk's own.
   */
  private nextSince(cp: WalkCheckpoint, maxSeen: number | null): number | null {
    if (!this.spec.incremental || maxSeen === null) return cp.since;
    const capped = Math.min(maxSeen, cp.startedAt);
    return cp.since === null ? capped : Math.max(cp.since, capped);
  }
}
